/*
 * histogram.h: the load generator's log-bucketed duration histogram, in C.
 *
 * The bucket layout is EXACTLY that of src/loadgen/histogram.ts (SUB_BITS 7,
 * values in whole microseconds, 3328 buckets), because the coordinator merges
 * the [bucket, count] pairs this engine sends with its own Histogram class:
 * a different layout would silently skew every percentile. min, max and the
 * sum are kept exactly, as there.
 *
 * Why C: it is recorded into on every frame of every stream, with no
 * allocation; the rest of this engine is C, so it is too.
 */
#ifndef LOADGEN_HISTOGRAM_H
#define LOADGEN_HISTOGRAM_H

#include <stdint.h>

#include "json.h"

#define HIST_SUB_BITS 7
#define HIST_LINEAR_LIMIT (2u << HIST_SUB_BITS) /* 256: values below this have a bucket each */
#define HIST_MAX_MICROS 0xffffffffu              /* about 71.6 minutes; longer values land in the last bucket */
#define HIST_BUCKETS (((31u - HIST_SUB_BITS) << HIST_SUB_BITS) + HIST_LINEAR_LIMIT) /* 3328 */

struct histogram {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total;
	/* Exact, in microseconds: the values themselves, not their buckets. */
	uint64_t sum_us;
	uint64_t low_us;
	uint64_t high_us;
};

void hist_init(struct histogram *h);
/* The bucket of a value in whole microseconds; the same function as bucketOf in histogram.ts. */
uint32_t hist_bucket_of(uint32_t micros);
/* Records `times` values of `micros` microseconds each (negative values count as 0). */
void hist_record(struct histogram *h, int64_t micros, uint64_t times);
/* The value at percentile p (0-100) in microseconds, as Histogram.percentile; -1 when empty. */
int64_t hist_percentile_us(const struct histogram *h, double p);
/* Writes the HistogramData JSON: {"buckets":[[b,c],...],"count":N,"min":ms|null,"max":ms|null,"sumMs":ms}. */
void hist_write_json(const struct histogram *h, struct json_out *out);

#endif
