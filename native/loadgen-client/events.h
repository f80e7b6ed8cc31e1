/*
 * events.h: reading the updates out of SSE events, as
 * src/loadgen/event-reader.ts does, byte for byte, so that both engines count
 * the same updates on the same stream:
 *  - an update is an event whose first `data` line starts with its publish
 *    time in milliseconds since the epoch, optionally with a fraction
 *    (`data: 1796287070662.25 ...`); its delivery latency is the time of the
 *    read less that;
 *  - its sequence number is the number after the publish time in the data
 *    (`data: 1796287070662 42 ...`), or without one the run of decimal digits
 *    that ends its `id` (a server such as nchan numbers its own ids); per
 *    connection the highest seen is kept: an update equal to it is a
 *    duplicate, one below it out of order, and a jump past the next number
 *    counts the numbers skipped;
 *  - CRLF, LF and CR all end a line, and one space after the colon is not
 *    part of the value (WHATWG SSE, event stream interpretation).
 *
 * Why C: it runs over every byte of every stream, like scanner.c; a
 * connection's state is 32 bytes and nothing is buffered, so an event split
 * across any number of reads is read as one that came whole.
 */
#ifndef LOADGEN_EVENTS_H
#define LOADGEN_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "histogram.h"
#include "json.h"

/* MAX_TRACKED_UPDATES in arrival-tracker.ts. */
#define MAX_TRACKED_UPDATES 4096u

/* One connection's parsing state: 32 bytes. */
struct event_state {
	/* The publish time being read, its digits as an integer (the fraction's digits counted in `fraction`). */
	double time;
	/* The id's trailing number being read; UINT32_MAX: the id does not end in one. */
	uint32_t sequence;
	/* The number after the publish time in the data. */
	uint32_t data_sequence;
	/* The highest sequence number seen on the connection; 0: none yet. */
	uint32_t highest;
	/* The field name's first four bytes. */
	uint32_t name;
	uint8_t step;
	uint8_t name_len;
	uint8_t flags;
	uint8_t fraction;
};

/* A process's counts: UpdateCounts, the delivery histogram and ArrivalTracker of event-reader.ts. */
struct event_reader {
	/* Microseconds since the epoch at which the bytes being scanned were read. */
	int64_t now_epoch_us;
	uint64_t updates;
	uint64_t duplicates;
	uint64_t out_of_order;
	uint64_t skipped;
	struct histogram delivery;
	uint32_t arrival_seq[MAX_TRACKED_UPDATES];
	uint32_t arrival_count[MAX_TRACKED_UPDATES];
	int64_t arrival_latest_us[MAX_TRACKED_UPDATES];
};

void events_init(struct event_reader *r);
/* A new stream on a connection; the highest sequence number is kept, so a replay counts its repeats. */
void events_reset(struct event_state *s);
/* Reads event bytes data[start, end) (already de-chunked). */
void events_scan(struct event_reader *r, struct event_state *s, const unsigned char *data, size_t start, size_t end);
/* Writes the arrivals as ArrivalTracker.toJSON does: [[sequence, count, latest ms], ...] by sequence. */
void events_write_arrivals(const struct event_reader *r, struct json_out *out);

#endif
