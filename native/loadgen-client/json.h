/*
 * json.h: the little JSON this engine speaks on the IPC channel: a bounded
 * writer for the progress and result messages, and a bounded reader for the
 * coordinator's start and stop messages (src/loadgen/messages.ts).
 *
 * Why C, and why not a library: the engine is one small binary with no
 * dependencies beyond libc, so that `cc` alone builds it; the messages are a
 * few fixed shapes. The reader is a plain recursive descent over one line,
 * with a depth bound, and never allocates; the writer fills a caller's fixed
 * buffer and records overflow instead of writing past it.
 */
#ifndef LOADGEN_JSON_H
#define LOADGEN_JSON_H

#include <stddef.h>
#include <stdint.h>

/* A writer into a fixed buffer; once `overflow` is set, nothing more is written. */
struct json_out {
	char *buf;
	size_t cap;
	size_t len;
	int overflow;
};

void json_out_init(struct json_out *out, char *buf, size_t cap);
void json_raw(struct json_out *out, const char *text);
void json_uint(struct json_out *out, uint64_t value);
/* Whole microseconds written as milliseconds, exactly: 1500 -> 1.5. */
void json_millis(struct json_out *out, uint64_t micros);
void json_bool(struct json_out *out, int value);
/* A string with the escapes JSON requires; bytes >= 0x80 are written as \u00XX (latin1). */
void json_string(struct json_out *out, const char *text);

/* A reader over one message; `error` is set on the first malformed or over-long thing. */
struct json_in {
	const char *p;
	const char *end;
	int depth;
	int error;
};

#define JSON_MAX_DEPTH 16

void json_in_init(struct json_in *in, const char *text, size_t len);
/* The next non-space character without taking it, or -1 at the end. */
int json_peek(struct json_in *in);
/* Takes `{` or `[`. Returns 0 on success. */
int json_begin(struct json_in *in, char open);
/*
 * Moves to the next member of an object: returns 1 with its key in `key` and the
 * `:` taken, 0 at the closing `}` (taken), -1 on an error. `index` counts the
 * members read so far (0 for the first call), so that commas are required
 * between members and refused before the first.
 */
int json_next_key(struct json_in *in, size_t index, char *key, size_t cap);
/* The same for an array: 1 when an element follows, 0 at `]` (taken), -1 on an error. */
int json_next_element(struct json_in *in, size_t index);
/*
 * Reads a string into out (NUL-terminated, at most cap - 1 bytes), as
 * Buffer.from(string, 'latin1') would encode it: each UTF-16 code unit
 * becomes its low byte. That is how the Node engine turns plan.request into
 * bytes, so both engines send the same request. Returns its length, or -1.
 */
long json_read_string(struct json_in *in, char *out, size_t cap);
int json_read_number(struct json_in *in, double *value);
int json_read_bool(struct json_in *in, int *value);
/* Skips one value of any kind, nested at most JSON_MAX_DEPTH deep. */
int json_skip(struct json_in *in);

#endif
