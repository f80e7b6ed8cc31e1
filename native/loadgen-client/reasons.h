/*
 * reasons.h: counts by reason (the report's failed, closedByServer and
 * reconnectsFailed maps), with the same reason strings as the Node engine:
 * errno names as libuv spells them (ECONNREFUSED, EADDRNOTAVAIL, ECONNRESET,
 * ...), and TIMEOUT, HTTP_<status>, NOT_EVENT_STREAM, BAD_RESPONSE,
 * CLOSED_BEFORE_HEAD, UNFINISHED, EOF, END_OF_BODY.
 *
 * Why C: part of the C engine; a small fixed table, no allocation.
 */
#ifndef LOADGEN_REASONS_H
#define LOADGEN_REASONS_H

#include <stdint.h>

#include "json.h"

#define MAX_REASONS 32
#define MAX_REASON_CHARS 24

struct reason_counts {
	unsigned used;
	char names[MAX_REASONS][MAX_REASON_CHARS];
	uint64_t counts[MAX_REASONS];
};

/* Adds one to `reason`; past MAX_REASONS distinct reasons, the rest count as OTHER. */
void reasons_add(struct reason_counts *r, const char *reason);
/* Writes {"REASON":count,...}. */
void reasons_write_json(const struct reason_counts *r, struct json_out *out);
/* The name Node gives an errno in err.code (libuv's UV_E* names), or "ERROR" for one it would not know here. */
const char *errno_name(int err);

#endif
