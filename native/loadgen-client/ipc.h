/*
 * ipc.h: the IPC channel to the coordinator. Node's child_process.spawn with
 * an 'ipc' stdio entry and serialization 'json' hands the child one end of a
 * socket pair and names its descriptor in NODE_CHANNEL_FD; each message is
 * one JSON.stringify'd line either way (https://nodejs.org/api/child_process.html#optionsstdio).
 *
 * Why C: the engine is a C program, and this is its only link to the
 * coordinator; lines in and out are bounded, and a send never blocks for
 * longer than a fixed time, so a stuck coordinator cannot hang the engine.
 */
#ifndef LOADGEN_IPC_H
#define LOADGEN_IPC_H

#include <stddef.h>

/* The longest line accepted: a start message with 65,536 source addresses is about 1.2 MB. */
#define IPC_MAX_LINE (4u << 20)

struct ipc {
	int fd;
	int closed;
	char *buf;
	size_t len;
	size_t cap;
};

typedef void (*ipc_line_handler)(void *context, const char *line, size_t len);

/* Opens the channel named by NODE_CHANNEL_FD; -1 when there is none (not started by the coordinator). */
int ipc_open(struct ipc *ipc);
/* Waits up to timeout_ms for one whole line, for the start message; -1 on timeout, end or error. */
int ipc_wait_line(struct ipc *ipc, int timeout_ms, ipc_line_handler handler, void *context);
/*
 * Reads what is there now, without waiting, and hands each whole line to
 * `handler`. Returns -1 once the channel has ended (the coordinator is gone)
 * or a line is too long, else 0.
 */
int ipc_read(struct ipc *ipc, ipc_line_handler handler, void *context);
/* Sends `len` bytes (a line, its newline included), waiting at most a few seconds for room; -1 on failure. */
int ipc_send(struct ipc *ipc, const char *data, size_t len);
void ipc_close(struct ipc *ipc);

#endif
