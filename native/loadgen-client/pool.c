/*
 * pool.c: the connections of pool.h, a port of src/loadgen/connection-pool.ts;
 * its phases, flags, teardown and counting rules are the same, so both
 * engines report the same run the same way.
 *
 * Why C: see pool.h. Sockets are non-blocking and watched by one epoll
 * instance, level-triggered: one recv() per ready socket per drain is then
 * enough (a heartbeat fits in one read, and what a read leaves behind is
 * reported again in the next drain), where edge-triggered would need a
 * second recv() per socket to see EAGAIN. Everything else a slot needs lives
 * in the flat arrays of struct pool.
 */
#define _GNU_SOURCE /* IP_BIND_ADDRESS_NO_PORT */
#include "pool.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 /* Linux 4.2 */
#endif

/* The pacing tick runs often enough to open about MAX_OPENS_PER_PACED_TICK per tick, between 10 and 100 ms. */
#define MIN_TICK_US 10000
#define MAX_TICK_US 100000
#define MAX_OPENS_PER_PACED_TICK 8
/* Bounds the work of one tick when unpaced, so the loop keeps reading. */
#define MAX_OPENS_PER_TICK 1000
#define READ_BUFFER_BYTES (64 * 1024)

/* A slot's phase. */
enum { IDLE, CONNECTING, STREAMING, QUEUED, DONE };

/* A slot's flags. */
#define RESOLVED 1  /* its first attempt has succeeded or failed */
#define WAS_OPEN 2  /* it has been established at least once */
#define SEEN_FRAME 4 /* its current stream has had a frame */

struct partial_head {
	uint32_t len;
	char data[MAX_HEAD_BYTES];
};

static void *zeroed(size_t count, size_t size)
{
	return calloc(count == 0 ? 1 : count, size);
}

int pool_init(struct pool *pool, const struct plan *plan, int epoll_fd, int64_t now)
{
	uint32_t n = plan->connections;
	memset(pool, 0, sizeof(*pool));
	pool->plan = plan;
	pool->capacity = n;
	pool->epoll_fd = epoll_fd;
	pool->fd = malloc((size_t)n * sizeof(*pool->fd));
	pool->phase = zeroed(n, sizeof(*pool->phase));
	pool->flags = zeroed(n, sizeof(*pool->flags));
	pool->since = zeroed(n, sizeof(*pool->since));
	pool->scan = zeroed(n, sizeof(*pool->scan));
	pool->events = zeroed(n, sizeof(*pool->events));
	pool->sent = zeroed(n, sizeof(*pool->sent));
	pool->partial = zeroed(n, sizeof(*pool->partial));
	pool->queue = zeroed(n, sizeof(*pool->queue));
	pool->read_buf = malloc(READ_BUFFER_BYTES);
	pool->head_buf = malloc(2 * MAX_HEAD_BYTES + 8);
	if (pool->fd == NULL || pool->phase == NULL || pool->flags == NULL || pool->since == NULL || pool->scan == NULL ||
	    pool->events == NULL || pool->sent == NULL || pool->partial == NULL || pool->queue == NULL || pool->read_buf == NULL || pool->head_buf == NULL)
		return -1;
	for (uint32_t slot = 0; slot < n; slot++)
		pool->fd[slot] = -1;
	/* The first attempt goes at once; the burst is a tenth of a second's worth, and at least one. */
	pool->tokens = 1;
	pool->bucket_last = now;
	pool->bucket_per_us = plan->rate / 1e6;
	pool->bucket_burst = plan->rate / 10 > 1 ? plan->rate / 10 : 1;
	hist_init(&pool->gaps);
	hist_init(&pool->first_heartbeat);
	hist_init(&pool->connect_time);
	events_init(&pool->reader);
	return 0;
}

int64_t pool_tick_us(const struct pool *pool)
{
	double rate = pool->plan->rate;
	if (rate <= 0)
		return MIN_TICK_US;
	double us = 1e6 * MAX_OPENS_PER_PACED_TICK / rate;
	if (us < MIN_TICK_US)
		return MIN_TICK_US;
	if (us > MAX_TICK_US)
		return MAX_TICK_US;
	/* Whole milliseconds, as Math.round in connection-pool.ts. */
	return (int64_t)(us / 1000 + 0.5) * 1000;
}

int pool_nothing_more_to_open(const struct pool *pool)
{
	return !pool->plan->reconnect && pool->next_fresh == pool->capacity;
}

int pool_ramp_done(const struct pool *pool)
{
	return pool->resolved == pool->capacity;
}

static void resolve(struct pool *pool, uint32_t slot)
{
	if (pool->flags[slot] & RESOLVED)
		return;
	pool->flags[slot] |= RESOLVED;
	if (++pool->resolved == pool->capacity && !pool->stopping)
		pool->ramp_just_done = 1;
}

/* A stream silent past the allowance when it ends counts as a late heartbeat: the silence really happened. */
static void check_silence(struct pool *pool, uint32_t slot, int64_t now)
{
	int64_t silence = now - pool->since[slot];
	int64_t late_after = (int64_t)pool->plan->late_after_ms * 1000;
	if (late_after == 0 || silence <= late_after || pool->frozen)
		return;
	pool->late++;
	if (pool->flags[slot] & SEEN_FRAME)
		hist_record(&pool->gaps, silence, 1);
	else
		hist_record(&pool->first_heartbeat, silence, 1);
}

/*
 * The one teardown for a connection, whichever way it ends (error, end of
 * stream, bad head, timeout, stop). A slot that is not connecting or streaming
 * has nothing to tear down, so a second call does nothing.
 */
static void lose(struct pool *pool, uint32_t slot, const char *reason, int64_t now)
{
	uint8_t phase = pool->phase[slot];
	if (phase != CONNECTING && phase != STREAMING)
		return;
	/*
	 * close() also takes the descriptor out of the epoll set. At the stop the
	 * descriptors are left to the process's exit, after the result is sent:
	 * 51 processes closing a million loopback sockets at once took longer
	 * than the coordinator's 15 s wait for their results, and every result
	 * of an hour-long run was lost.
	 */
	if (pool->fd[slot] >= 0 && !pool->stopping)
		close(pool->fd[slot]);
	pool->fd[slot] = -1;
	free(pool->partial[slot]);
	pool->partial[slot] = NULL;
	uint8_t flags = pool->flags[slot];
	if (phase == CONNECTING) {
		pool->pending--;
		if ((flags & RESOLVED) == 0) {
			reasons_add(&pool->failed, reason);
			resolve(pool, slot);
		} else if (!pool->stopping) {
			reasons_add(&pool->reconnects_failed, reason);
		}
	} else {
		pool->established--;
		if (!pool->stopping) {
			reasons_add(&pool->closed_by_server, reason);
			check_silence(pool, slot, now);
		}
	}
	if (pool->plan->reconnect && !pool->stopping && (flags & WAS_OPEN)) {
		pool->phase[slot] = QUEUED;
		pool->queue[(pool->queue_head + pool->queue_size) % pool->capacity] = slot;
		pool->queue_size++;
	} else {
		pool->phase[slot] = DONE;
	}
}

static void open_slot(struct pool *pool, uint32_t slot, int64_t now)
{
	const struct plan *plan = pool->plan;
	pool->phase[slot] = CONNECTING;
	pool->since[slot] = now;
	pool->sent[slot] = 0;
	pool->attempts++;
	pool->pending++;
	int fd = socket(plan->host.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		lose(pool, slot, errno_name(errno), now);
		return;
	}
	pool->fd[slot] = fd;
	if (plan->source_count > 0) {
		/* Run-wide numbering spreads every process's connections evenly over all source addresses. */
		const union address *source = &plan->sources[(plan->first_connection + slot) % plan->source_count];
		/*
		 * Without this, bind() picks the ephemeral port at once and keeps it
		 * from every other destination; with it, the port is picked at
		 * connect(), for this destination only (Linux 4.2+; ignored before).
		 */
		int on = 1;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
		socklen_t len = source->sa.sa_family == AF_INET ? sizeof(source->in) : sizeof(source->in6);
		if (bind(fd, &source->sa, len) != 0) {
			lose(pool, slot, errno_name(errno), now);
			return;
		}
	}
	if (connect(fd, &plan->host.sa, plan->host_len) != 0 && errno != EINPROGRESS) {
		lose(pool, slot, errno_name(errno), now);
		return;
	}
	/* Writable once connected: the request goes then. Errors (refused, reset) are reported whatever the mask. */
	struct epoll_event event = { .events = EPOLLOUT, .data.u64 = (uint64_t)slot | ((uint64_t)fd << 32) };
	if (epoll_ctl(pool->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0)
		lose(pool, slot, errno_name(errno), now);
}

/* Whole tokens available at `now`, as TokenBucket.available. */
static double bucket_available(struct pool *pool, int64_t now)
{
	if (pool->plan->rate <= 0)
		return MAX_OPENS_PER_TICK;
	double tokens = pool->tokens + (double)(now - pool->bucket_last) * pool->bucket_per_us;
	pool->tokens = tokens < pool->bucket_burst ? tokens : pool->bucket_burst;
	pool->bucket_last = now;
	return (double)(int64_t)pool->tokens;
}

void pool_tick(struct pool *pool, int64_t now)
{
	double budget = bucket_available(pool, now);
	double room = (double)pool->plan->max_pending - (double)pool->pending;
	if (room < budget)
		budget = room;
	if (MAX_OPENS_PER_TICK < budget)
		budget = MAX_OPENS_PER_TICK;
	uint32_t opened = 0;
	while ((double)opened < budget) {
		/* Lost streams come back first: holding the count matters more than finishing the ramp early. */
		uint32_t slot;
		if (pool->queue_size > 0) {
			slot = pool->queue[pool->queue_head];
			pool->queue_head = (pool->queue_head + 1) % pool->capacity;
			pool->queue_size--;
			pool->reconnects++;
		} else if (pool->next_fresh < pool->capacity) {
			slot = pool->next_fresh++;
		} else {
			break;
		}
		open_slot(pool, slot, now);
		opened++;
	}
	if (pool->plan->rate > 0)
		pool->tokens -= opened;
}

void pool_expire(struct pool *pool, int64_t now)
{
	int64_t limit = (int64_t)pool->plan->connect_timeout_ms * 1000;
	for (uint32_t slot = 0; slot < pool->capacity; slot++) {
		if (pool->phase[slot] == CONNECTING && now - pool->since[slot] > limit)
			lose(pool, slot, "TIMEOUT", now);
	}
}

uint32_t pool_overdue(const struct pool *pool, int64_t now)
{
	int64_t late_after = (int64_t)pool->plan->late_after_ms * 1000;
	uint32_t overdue = 0;
	if (late_after == 0)
		return 0;
	for (uint32_t slot = 0; slot < pool->capacity; slot++) {
		if (pool->phase[slot] == STREAMING && now - pool->since[slot] > late_after)
			overdue++;
	}
	return overdue;
}

static void count_frames(struct pool *pool, uint32_t slot, uint32_t frames, int64_t now)
{
	pool->heartbeats += frames;
	int64_t gap = now - pool->since[slot];
	pool->since[slot] = now;
	if ((pool->flags[slot] & SEEN_FRAME) == 0) {
		/* Connect to first frame is not a gap between heartbeats; it is reported on its own. */
		pool->flags[slot] |= SEEN_FRAME;
		hist_record(&pool->first_heartbeat, gap, 1);
	} else if (!pool->frozen) {
		hist_record(&pool->gaps, gap, 1);
		if (pool->plan->late_after_ms > 0 && gap > (int64_t)pool->plan->late_after_ms * 1000)
			pool->late++;
	}
	/* Frames that arrived in the same read arrived together: their gaps are 0. */
	if (frames > 1 && !pool->frozen)
		hist_record(&pool->gaps, 0, frames - 1);
}

/* Returns where the body starts in the read buffer, or -1 while the head is incomplete or after it failed. */
static long read_head(struct pool *pool, uint32_t slot, size_t nread, int64_t now)
{
	struct partial_head *partial = pool->partial[slot];
	/* A head is at most MAX_HEAD_BYTES; there is no need to look at a large first read whole. */
	size_t chunk = nread < MAX_HEAD_BYTES + 4 ? nread : MAX_HEAD_BYTES + 4;
	const char *text = (const char *)pool->read_buf;
	size_t len = chunk;
	size_t before = 0;
	if (partial != NULL) {
		before = partial->len;
		memcpy(pool->head_buf, partial->data, before);
		memcpy(pool->head_buf + before, pool->read_buf, chunk);
		text = pool->head_buf;
		len = before + chunk;
	}
	struct head head;
	parse_head(text, len, &head);
	if (head.kind == HEAD_INCOMPLETE) {
		/* Incomplete means at most MAX_HEAD_BYTES so far: it fits. */
		if (partial == NULL) {
			partial = malloc(sizeof(*partial));
			if (partial == NULL) {
				lose(pool, slot, "ENOMEM", now);
				return -1;
			}
			pool->partial[slot] = partial;
		}
		memmove(partial->data, text, len);
		partial->len = (uint32_t)len;
		return -1;
	}
	free(partial);
	pool->partial[slot] = NULL;
	if (head.kind == HEAD_BAD) {
		lose(pool, slot, "BAD_RESPONSE", now);
		return -1;
	}
	if (head.status != 200) {
		char reason[MAX_REASON_CHARS];
		snprintf(reason, sizeof(reason), "HTTP_%d", head.status);
		lose(pool, slot, reason, now);
		return -1;
	}
	/* A 200 that is not an event stream (a login page, a proxy's error page) is not a held connection. */
	if (!head.event_stream) {
		lose(pool, slot, "NOT_EVENT_STREAM", now);
		return -1;
	}
	hist_record(&pool->connect_time, now - pool->since[slot], 1);
	pool->since[slot] = now;
	pool->phase[slot] = STREAMING;
	pool->flags[slot] = (uint8_t)((pool->flags[slot] | WAS_OPEN) & ~SEEN_FRAME);
	pool->pending--;
	pool->opened++;
	pool->established++;
	resolve(pool, slot);
	sse_reset(&pool->scan[slot], head.chunked);
	events_reset(&pool->events[slot]);
	/* The blank line ends past what was kept, or the kept part would have been a whole head. */
	return head.body_start > before ? (long)(head.body_start - before) : 0;
}

static void read_ready(struct pool *pool, uint32_t slot, int64_t now)
{
	ssize_t n = recv(pool->fd[slot], pool->read_buf, READ_BUFFER_BYTES, MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			lose(pool, slot, errno_name(errno), now);
		return;
	}
	if (n == 0) {
		lose(pool, slot, pool->phase[slot] == CONNECTING ? "CLOSED_BEFORE_HEAD" : "EOF", now);
		return;
	}
	long body = 0;
	if (pool->phase[slot] == CONNECTING) {
		body = read_head(pool, slot, (size_t)n, now);
		if (body < 0)
			return;
	}
	/* The read's own time for delivery latency: the publisher's clock is the epoch, and a clock read costs no syscall. */
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	pool->reader.now_epoch_us = (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000;
	uint32_t frames = sse_scan(&pool->scan[slot], pool->read_buf, (size_t)body, (size_t)n, &pool->reader, &pool->events[slot]);
	if (frames > 0)
		count_frames(pool, slot, frames, now);
	/* With keep-alive the server may leave the connection open after the last chunk; the stream is over all the same. */
	if (sse_ended(&pool->scan[slot]))
		lose(pool, slot, "END_OF_BODY", now);
}

/* The length of the request of `slot` (request_of), without building it. */
static size_t request_len_of(const struct pool *pool, uint32_t slot)
{
	const struct plan *plan = pool->plan;
	if (plan->topics == 0)
		return plan->request_len;
	uint64_t topic = (plan->first_connection + slot) % plan->topics;
	size_t digits = 1;
	while (topic >= 10) {
		topic /= 10;
		digits++;
	}
	return plan->request_len + digits;
}

/*
 * The request of `slot`: the plan's own, or with --topics the plan's with the
 * slot's topic number put in at topic_at (the same bytes the Node engine sends).
 */
static const char *request_of(struct pool *pool, uint32_t slot, size_t *len)
{
	static char built[MAX_REQUEST_BYTES + 16];
	const struct plan *plan = pool->plan;
	if (plan->topics == 0) {
		*len = plan->request_len;
		return plan->request;
	}
	char number[16];
	int digits = snprintf(number, sizeof(number), "%llu", (unsigned long long)((plan->first_connection + slot) % plan->topics));
	memcpy(built, plan->request, plan->topic_at);
	memcpy(built + plan->topic_at, number, (size_t)digits);
	memcpy(built + plan->topic_at + digits, plan->request + plan->topic_at, plan->request_len - plan->topic_at);
	*len = plan->request_len + (size_t)digits;
	return built;
}

/* Connected (or failed to): sends what is left of the request, then waits only for reads. */
static void write_ready(struct pool *pool, uint32_t slot, int64_t now)
{
	int fd = pool->fd[slot];
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
		lose(pool, slot, errno_name(err), now);
		return;
	}
	size_t request_len;
	const char *request = request_of(pool, slot, &request_len);
	size_t sent = pool->sent[slot];
	ssize_t n = send(fd, request + sent, request_len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			lose(pool, slot, errno_name(errno), now);
		return;
	}
	sent += (size_t)n;
	pool->sent[slot] = (uint16_t)sent;
	if (sent < request_len)
		return;
	struct epoll_event event = { .events = EPOLLIN, .data.u64 = (uint64_t)slot | ((uint64_t)fd << 32) };
	if (epoll_ctl(pool->epoll_fd, EPOLL_CTL_MOD, fd, &event) != 0)
		lose(pool, slot, errno_name(errno), now);
}

void pool_event(struct pool *pool, uint64_t data, uint32_t events, int64_t now)
{
	uint32_t slot = (uint32_t)data;
	int32_t fd = (int32_t)(data >> 32);
	/* A descriptor closed earlier in the same drain is ignored. */
	if (slot >= pool->capacity || pool->fd[slot] != fd || fd < 0)
		return;
	uint8_t phase = pool->phase[slot];
	if (phase == CONNECTING && pool->sent[slot] < request_len_of(pool, slot)) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			write_ready(pool, slot, now);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		read_ready(pool, slot, now);
}

uint32_t pool_stop(struct pool *pool, int64_t now, uint32_t *not_attempted)
{
	uint32_t established_at_stop = pool->established;
	pool->stopping = 1;
	for (uint32_t slot = 0; slot < pool->capacity; slot++) {
		uint8_t phase = pool->phase[slot];
		if (phase != CONNECTING && phase != STREAMING)
			continue;
		if (phase == STREAMING)
			check_silence(pool, slot, now);
		lose(pool, slot, "UNFINISHED", now);
	}
	*not_attempted = pool->capacity - pool->next_fresh;
	return established_at_stop;
}

void pool_mark(struct pool *pool)
{
	hist_init(&pool->gaps);
	pool->late = 0;
}

void pool_freeze(struct pool *pool)
{
	pool->frozen = 1;
}
