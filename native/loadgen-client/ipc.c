/*
 * ipc.c: the line-based IPC channel of ipc.h.
 *
 * Why C: see ipc.h. Reads and writes use MSG_DONTWAIT, whatever mode the
 * descriptor was handed over in, and poll() with a timeout where waiting is
 * needed: every wait here is bounded.
 */
#include "ipc.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IPC_INITIAL_BUFFER (64u << 10)
/* A result is at most a few hundred kilobytes; the coordinator reads as it comes. */
#define IPC_SEND_TIMEOUT_MS 10000

int ipc_open(struct ipc *ipc)
{
	const char *env = getenv("NODE_CHANNEL_FD");
	memset(ipc, 0, sizeof(*ipc));
	ipc->fd = -1;
	if (env == NULL || *env == '\0')
		return -1;
	char *end;
	long fd = strtol(env, &end, 10);
	if (*end != '\0' || fd < 0 || fd > 1 << 20)
		return -1;
	ipc->buf = malloc(IPC_INITIAL_BUFFER);
	if (ipc->buf == NULL)
		return -1;
	ipc->cap = IPC_INITIAL_BUFFER;
	ipc->fd = (int)fd;
	return 0;
}

/* Hands over each whole line in the buffer and keeps the rest. */
static void take_lines(struct ipc *ipc, ipc_line_handler handler, void *context)
{
	size_t start = 0;
	/* Each pass takes one line out of a buffer of bounded length. */
	while (start < ipc->len) {
		char *newline = memchr(ipc->buf + start, '\n', ipc->len - start);
		if (newline == NULL)
			break;
		size_t end = (size_t)(newline - ipc->buf);
		handler(context, ipc->buf + start, end - start);
		start = end + 1;
	}
	memmove(ipc->buf, ipc->buf + start, ipc->len - start);
	ipc->len -= start;
}

/* One recv into the buffer; 1 when bytes came, 0 when none are there, -1 when the channel is over. */
static int fill(struct ipc *ipc)
{
	if (ipc->closed)
		return -1;
	if (ipc->len == ipc->cap) {
		if (ipc->cap >= IPC_MAX_LINE) {
			ipc->closed = 1;
			return -1;
		}
		size_t next = ipc->cap * 2 > IPC_MAX_LINE ? IPC_MAX_LINE : ipc->cap * 2;
		char *grown = realloc(ipc->buf, next);
		if (grown == NULL) {
			ipc->closed = 1;
			return -1;
		}
		ipc->buf = grown;
		ipc->cap = next;
	}
	ssize_t n = recv(ipc->fd, ipc->buf + ipc->len, ipc->cap - ipc->len, MSG_DONTWAIT);
	if (n > 0) {
		ipc->len += (size_t)n;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	ipc->closed = 1;
	return -1;
}

int ipc_read(struct ipc *ipc, ipc_line_handler handler, void *context)
{
	int got = fill(ipc);
	take_lines(ipc, handler, context);
	return got < 0 ? -1 : 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ipc_wait_line(struct ipc *ipc, int timeout_ms, ipc_line_handler handler, void *context)
{
	long long deadline = now_ms() + timeout_ms;
	/* Every pass either reads bytes (bounded by IPC_MAX_LINE) or waits; the deadline ends it. */
	for (;;) {
		/* Only the first line is handed over here; anything after it stays for ipc_read. */
		char *newline = memchr(ipc->buf, '\n', ipc->len);
		if (newline != NULL) {
			size_t end = (size_t)(newline - ipc->buf);
			handler(context, ipc->buf, end);
			memmove(ipc->buf, newline + 1, ipc->len - end - 1);
			ipc->len -= end + 1;
			return 0;
		}
		long long left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = { .fd = ipc->fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -1;
		if (fill(ipc) < 0)
			return -1;
	}
}

int ipc_send(struct ipc *ipc, const char *data, size_t len)
{
	long long deadline = now_ms() + IPC_SEND_TIMEOUT_MS;
	size_t sent = 0;
	if (ipc->closed)
		return -1;
	/* Every pass sends bytes or waits for room; the deadline ends it. */
	while (sent < len) {
		ssize_t n = send(ipc->fd, data + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			break;
		long long left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd p = { .fd = ipc->fd, .events = POLLOUT };
		poll(&p, 1, (int)left);
	}
	if (sent == len)
		return 0;
	ipc->closed = 1;
	return -1;
}

void ipc_close(struct ipc *ipc)
{
	if (ipc->fd >= 0)
		close(ipc->fd);
	ipc->fd = -1;
	ipc->closed = 1;
	free(ipc->buf);
	ipc->buf = NULL;
	ipc->len = ipc->cap = 0;
}
