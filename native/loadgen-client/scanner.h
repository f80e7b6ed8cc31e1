/*
 * scanner.h: just enough HTTP and SSE parsing to count heartbeats, the same
 * as src/loadgen/sse-scanner.ts, byte for byte, so that both engines count
 * the same frames on the same stream:
 *  - the response head: status, `Transfer-Encoding: chunked`, and whether
 *    `Content-Type` is text/event-stream (the same patterns as its regexes);
 *  - the body: one frame per event ended by a blank line (CRLF, LF and CR
 *    alike, https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
 *    and one per NUL byte, after de-chunking a chunked body (RFC 9112 section 7.1);
 *    a chunked body's last chunk ends the stream (END_OF_BODY).
 *
 * Why C: this runs over every byte every stream receives; a per-connection
 * state of 8 bytes and a tight loop are the point of the engine.
 */
#ifndef LOADGEN_SCANNER_H
#define LOADGEN_SCANNER_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"

/* The most head bytes accepted before the head is declared too large (MAX_HEAD_BYTES in sse-scanner.ts). */
#define MAX_HEAD_BYTES 16384

enum head_kind { HEAD_INCOMPLETE, HEAD_BAD, HEAD_DONE };

struct head {
	enum head_kind kind;
	int status;
	int chunked;
	/* Content-Type is text/event-stream. */
	int event_stream;
	/* Index in the text where the body starts. */
	size_t body_start;
};

/* Parses a response head read so far; parseHead in sse-scanner.ts. */
void parse_head(const char *text, size_t len, struct head *out);

/* One stream's body state: 8 bytes a connection. */
struct sse_state {
	uint32_t chunk_left;
	uint8_t line;
	uint8_t chunk_step;
};

void sse_reset(struct sse_state *s, int chunked);
/* A chunked body has ended with its last chunk: the stream is over though the connection may stay open. */
int sse_ended(const struct sse_state *s);
/*
 * Scans body bytes data[start, end); returns how many frames they complete.
 * The de-chunked bytes also go to the update reader `r` with the connection's `ev`.
 */
uint32_t sse_scan(struct sse_state *s, const unsigned char *data, size_t start, size_t end, struct event_reader *r,
		  struct event_state *ev);

#endif
