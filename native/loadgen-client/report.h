/*
 * report.h: the engine's messages to the coordinator, as src/loadgen/report.ts
 * types them: {"type":"progress","progress":ClientProgress} once a second and
 * when the ramp is done, then one {"type":"result","result":ClientResult}.
 * Every message carries absolute totals, never increments.
 *
 * Why C: see pool.h; these are written from the engine's own counters.
 */
#ifndef LOADGEN_REPORT_H
#define LOADGEN_REPORT_H

#include <stdint.h>

#include "json.h"
#include "pool.h"

/* What a result adds to a progress message. */
struct result_extras {
	uint32_t established_at_stop;
	uint32_t not_attempted;
	uint64_t rss_start_bytes;
	/* The loop's lateness against its own schedule, in microseconds. */
	int64_t loop_delay_p99_us;
	int64_t loop_delay_max_us;
	uint32_t batch_ms;
};

/* The resident set size, from /proc/self/statm; 0 when it cannot be read. */
uint64_t rss_bytes(void);
/* A progress line, its newline included. */
void report_progress(struct json_out *out, const struct pool *pool, uint32_t overdue, uint64_t rss);
/* The result line, its newline included. */
void report_result(struct json_out *out, const struct pool *pool, uint64_t rss, const struct result_extras *extras);

#endif
