/*
 * main.c: million-sse-client, the load generator's C engine
 * (`million-sse-loadgen --engine c`). The coordinator starts one per share of
 * the connections, with child_process.spawn and an IPC channel; this file is
 * the process's life: it refuses to run by hand, ignores SIGINT and SIGTERM
 * (the coordinator decides when the run ends and asks for the result), waits
 * for the start message with its plan, runs the loop, and exits.
 *
 * Why C and not JavaScript: a million connections on a 2-core machine. The
 * Node engine costs about 1.7 KB of RSS a connection and ~10 MB a process,
 * and wakes its event loop for every heartbeat; this one costs tens of
 * bytes a connection and under a megabyte a process, and reads heartbeats in
 * batches (see loop.h). The protocol, the counting and the report are the
 * Node engine's own (docs/loadgen.md, "The C engine").
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ipc.h"
#include "loop.h"
#include "messages.h"

/* The coordinator sends the plan as soon as the process is spawned. */
#define START_TIMEOUT_MS 60000

struct start {
	struct plan plan;
	int ok;
	char why[160];
};

static void on_start(void *context, const char *line, size_t len)
{
	struct start *start = context;
	start->ok = plan_parse(line, len, &start->plan, start->why, sizeof(start->why)) == 0;
}

int main(int argc, char **argv)
{
	struct ipc ipc;
	static struct start start;
	(void)argv;
	if (argc > 1 || ipc_open(&ipc) != 0) {
		fprintf(stderr, "million-sse-client is started by the load generator (million-sse-loadgen --engine c), not by hand\n");
		return 2;
	}
	/* A Ctrl-C reaches the whole process group; a client that died on it would take its share of the numbers with it. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	snprintf(start.why, sizeof(start.why), "no start message within %d ms", START_TIMEOUT_MS);
	if (ipc_wait_line(&ipc, START_TIMEOUT_MS, on_start, &start) != 0 && ipc.closed) {
		/* The coordinator went away before sending a plan: nothing to do. */
		ipc_close(&ipc);
		return 0;
	}
	if (!start.ok) {
		fprintf(stderr, "million-sse-client: %s\n", start.why);
		ipc_close(&ipc);
		return 2;
	}
	int status = loop_run(&start.plan, &ipc);
	plan_free(&start.plan);
	ipc_close(&ipc);
	return status;
}
