/*
 * loop.c: the event loop of loop.h.
 *
 * Timestamps: one CLOCK_MONOTONIC reading per drain (or per epoll_wait return
 * with --batch-ms 0) is the arrival time of everything that drain reads, so a
 * gap is measured to within one batch period (plus the read's own cost).
 *
 * Lateness (the result's eventLoopDelayMs, the C counterpart of the Node
 * engine's monitorEventLoopDelay): each wake-up has a scheduled time (the
 * next batch on a fixed grid, or the next timer); how far past it the loop
 * really got going is recorded. A drain or a stop that runs past the next
 * batch shows up there, as a blocked event loop does in Node.
 *
 * Why C: see loop.h.
 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"
#include "pool.h"
#include "report.h"

#define PROGRESS_US 1000000
#define TIMEOUT_SCAN_US 250000
#define MAX_EVENTS 1024
/* Room for a result: four histograms of at most 3,328 buckets each, 4,096 arrivals, and the rest. */
#define MESSAGE_BYTES (1024u << 10)

static char message[MESSAGE_BYTES];

struct loop {
	const struct plan *plan;
	struct ipc *ipc;
	struct pool pool;
	int epoll_fd;
	int finish;
	struct histogram lateness;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until(int64_t target)
{
	struct timespec ts = { .tv_sec = target / 1000000, .tv_nsec = (target % 1000000) * 1000 };
	/* Ignored signals do not interrupt it; a few tries bound the rest. */
	for (int i = 0; i < 4 && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR; i++)
		;
}

/* The next time on a schedule of `period` after `scheduled`, skipping the times already past `now`. */
static int64_t advance(int64_t scheduled, int64_t period, int64_t now)
{
	scheduled += period;
	if (scheduled <= now)
		scheduled += ((now - scheduled) / period + 1) * period;
	return scheduled;
}

static void send_progress(struct loop *loop, int64_t now)
{
	struct json_out out;
	if (loop->ipc->closed)
		return;
	json_out_init(&out, message, sizeof(message));
	report_progress(&out, &loop->pool, pool_overdue(&loop->pool, now), rss_bytes());
	if (!out.overflow)
		ipc_send(loop->ipc, out.buf, out.len);
}

static void on_line(void *context, const char *line, size_t len)
{
	struct loop *loop = context;
	char type[16];
	if (message_type(line, len, type, sizeof(type)) != 0)
		return;
	if (strcmp(type, "stop") == 0)
		loop->finish = 1;
	else if (strcmp(type, "mark") == 0)
		pool_mark(&loop->pool);
	else if (strcmp(type, "freeze") == 0)
		pool_freeze(&loop->pool);
}

static void handle(struct loop *loop, const struct epoll_event *events, int n, int64_t now)
{
	for (int i = 0; i < n; i++) {
		if (events[i].data.u64 != POOL_NOT_A_SLOT) {
			pool_event(&loop->pool, events[i].data.u64, events[i].events, now);
			continue;
		}
		/* The end of the channel means the coordinator is gone: finish. */
		if (ipc_read(loop->ipc, on_line, loop) != 0) {
			epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, loop->ipc->fd, NULL);
			loop->finish = 1;
		}
	}
}

/* Everything epoll has ready now, without waiting: at most enough rounds for every connection and the channel. */
static void drain(struct loop *loop, int64_t now)
{
	static struct epoll_event events[MAX_EVENTS];
	uint32_t rounds = loop->pool.capacity / MAX_EVENTS + 2;
	for (uint32_t round = 0; round < rounds; round++) {
		int n = epoll_wait(loop->epoll_fd, events, MAX_EVENTS, 0);
		if (n <= 0)
			return;
		handle(loop, events, n, now);
		if (n < MAX_EVENTS)
			return;
	}
}

static void record_lateness(struct loop *loop, int64_t woke, int64_t target)
{
	hist_record(&loop->lateness, woke > target ? woke - target : 0, 1);
}

/* Stops every connection's accounting and sends the result; returns the exit status. The sockets close at exit. */
static int finish(struct loop *loop, uint64_t rss_start)
{
	struct result_extras extras = { 0 };
	struct json_out out;
	uint64_t rss = rss_bytes();
	extras.established_at_stop = pool_stop(&loop->pool, now_us(), &extras.not_attempted);
	extras.rss_start_bytes = rss_start;
	extras.loop_delay_p99_us = loop->lateness.total == 0 ? 0 : hist_percentile_us(&loop->lateness, 99);
	extras.loop_delay_max_us = loop->lateness.total == 0 ? 0 : (int64_t)loop->lateness.high_us;
	extras.batch_ms = loop->plan->batch_ms;
	/* The coordinator is gone: there is no one to send the result to. */
	if (loop->ipc->closed)
		return 0;
	json_out_init(&out, message, sizeof(message));
	report_result(&out, &loop->pool, rss, &extras);
	if (out.overflow) {
		fprintf(stderr, "million-sse-client: the result does not fit in %u bytes\n", MESSAGE_BYTES);
		return 1;
	}
	return ipc_send(loop->ipc, out.buf, out.len) == 0 ? 0 : 1;
}

int loop_run(const struct plan *plan, struct ipc *ipc)
{
	static struct loop loop;
	static struct epoll_event events[MAX_EVENTS];
	uint64_t rss_start = rss_bytes();
	loop.plan = plan;
	loop.ipc = ipc;
	hist_init(&loop.lateness);
	loop.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop.epoll_fd < 0) {
		perror("million-sse-client: epoll_create1");
		return 1;
	}
	struct epoll_event channel = { .events = EPOLLIN, .data.u64 = POOL_NOT_A_SLOT };
	if (epoll_ctl(loop.epoll_fd, EPOLL_CTL_ADD, ipc->fd, &channel) != 0) {
		perror("million-sse-client: epoll_ctl on the IPC channel");
		return 1;
	}
	int64_t start = now_us();
	if (pool_init(&loop.pool, plan, loop.epoll_fd, start) != 0) {
		fprintf(stderr, "million-sse-client: out of memory for %u connections\n", plan->connections);
		return 1;
	}
	const int64_t deadline = start + (int64_t)plan->deadline_ms * 1000;
	const int64_t tick_us = pool_tick_us(&loop.pool);
	const int64_t batch_us = (int64_t)plan->batch_ms * 1000;
	int64_t next_tick = start;
	int64_t next_scan = start + TIMEOUT_SCAN_US;
	int64_t next_progress = start + PROGRESS_US;
	int64_t next_batch = start + batch_us;

	/* Each pass waits (or sleeps) once; the deadline bounds the whole. */
	while (!loop.finish) {
		int64_t now = now_us();
		if (now >= deadline)
			break;
		/*
		 * The tick runs only while there is something to open, and the scan only
		 * while something is in flight: with --reconnect, a hold with nothing to
		 * reopen then wakes for the batches alone. A schedule left in the past
		 * runs at once when it is wanted again.
		 */
		int tick_wanted = loop.pool.queue_size > 0 || loop.pool.next_fresh < loop.pool.capacity;
		if (tick_wanted && now >= next_tick) {
			pool_tick(&loop.pool, now);
			next_tick = advance(next_tick, tick_us, now);
			tick_wanted = loop.pool.queue_size > 0 || loop.pool.next_fresh < loop.pool.capacity;
		}
		if (loop.pool.pending > 0 && now >= next_scan) {
			pool_expire(&loop.pool, now);
			next_scan = advance(next_scan, TIMEOUT_SCAN_US, now);
		}
		if (loop.pool.ramp_just_done || now >= next_progress) {
			loop.pool.ramp_just_done = 0;
			send_progress(&loop, now);
			if (now >= next_progress)
				next_progress = advance(next_progress, PROGRESS_US, now);
		}
		int64_t next = deadline;
		if (next_progress < next)
			next = next_progress;
		if (tick_wanted && next_tick < next)
			next = next_tick;
		if (loop.pool.pending > 0 && next_scan < next)
			next = next_scan;

		/*
		 * Batched during the ramp too. Woken per event, 51 processes holding
		 * 800,000 streams were woken by every heartbeat written to them: at a
		 * million on two cores the context switches took the ramp from 4,000
		 * to 300 connections a second and made the server's heartbeats late.
		 * A connect then waits for the next pacing tick or batch, at most
		 * --batch-ms, which only adds to its connectMs.
		 */
		if (batch_us > 0) {
			/* A target already past (the last drain overran its period) is not slept for, and its lateness is recorded. */
			int64_t target = next_batch < next ? next_batch : next;
			if (target > now)
				sleep_until(target);
			int64_t woke = now_us();
			record_lateness(&loop, woke, target);
			if (target == next_batch)
				next_batch = advance(next_batch, batch_us, woke);
			drain(&loop, woke);
		} else {
			int64_t wait_us = next > now ? next - now : 0;
			/* epoll_wait counts whole milliseconds: rounded up, so a timer is never run early. */
			int wait_ms = (int)((wait_us + 999) / 1000);
			int64_t target = now + (int64_t)wait_ms * 1000;
			int n = epoll_wait(loop.epoll_fd, events, MAX_EVENTS, wait_ms);
			int64_t woke = now_us();
			if (n < 0 && errno != EINTR) {
				perror("million-sse-client: epoll_wait");
				break;
			}
			if (woke >= target)
				record_lateness(&loop, woke, target);
			if (n > 0)
				handle(&loop, events, n, woke);
			/* Keeps the batch schedule current for when the loop turns to batches. */
			next_batch = woke + batch_us;
		}
	}
	return finish(&loop, rss_start);
}
