/*
 * messages.h: the coordinator's messages to this engine, as
 * src/loadgen/messages.ts defines them: {"type":"start","plan":ClientPlan}
 * and {"type":"stop"}. The plan arrives as the same start message the Node
 * engine gets, so the coordinator's logic is the same for both engines.
 *
 * Why C: the engine is a C program; this turns one JSON line into a plain
 * struct, validated, with every size bounded.
 */
#ifndef LOADGEN_MESSAGES_H
#define LOADGEN_MESSAGES_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Bounds on what a plan may ask for, so that a bad message fails instead of allocating without end. */
#define MAX_CONNECTIONS 10000000u
#define MAX_SOURCES 65536u /* MAX_SOURCES in source-range.ts */
#define MAX_REQUEST_BYTES 65535u /* so that the bytes sent fit a uint16_t per connection */
#define MAX_BATCH_MS 1000u
#define DEFAULT_BATCH_MS 100u

union address {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* ClientPlan, with its share flattened. */
struct plan {
	uint32_t index;
	uint32_t connections;
	uint64_t first_connection;
	/* Attempts per second; 0 means unpaced. */
	double rate;
	uint32_t max_pending;
	union address host; /* with the port */
	socklen_t host_len;
	char *request;
	size_t request_len;
	/* With --topics: how many, and where in the request each connection's topic number goes; 0: none. */
	uint32_t topics;
	uint32_t topic_at;
	union address *sources;
	uint32_t source_count;
	uint32_t connect_timeout_ms;
	/* A silence longer than this is late; 0 turns the check off. */
	uint32_t late_after_ms;
	int reconnect;
	uint64_t deadline_ms;
	/* The C engine's own: how long the loop sleeps between drains at most; 0 = wake per event. */
	uint32_t batch_ms;
};

/* Reads the message's "type" into `type` (e.g. "stop"); returns 0, or -1 when the line is not a JSON object with a string type. */
int message_type(const char *line, size_t len, char *type, size_t cap);
/* Parses a start message; returns 0, or -1 with the reason in `why`. */
int plan_parse(const char *line, size_t len, struct plan *plan, char *why, size_t why_cap);
void plan_free(struct plan *plan);

#endif
