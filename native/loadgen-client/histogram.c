/*
 * histogram.c: recording into, and writing out, the histogram of histogram.h.
 * See src/loadgen/histogram.ts for the scheme: below 256 µs each microsecond
 * has its own bucket; above, each power of two is cut into 128 buckets.
 *
 * Why C: recorded into once per frame per stream in the engine's read path,
 * with no allocation and a handful of instructions.
 */
#include "histogram.h"

#include <string.h>

void hist_init(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
	h->low_us = UINT64_MAX;
}

uint32_t hist_bucket_of(uint32_t micros)
{
	if (micros < HIST_LINEAR_LIMIT)
		return micros;
	/* 31 - clz32(micros) is the index of the top bit; micros >= 256, so it is not 0. */
	uint32_t exp = (uint32_t)(31 - __builtin_clz(micros)) - HIST_SUB_BITS;
	return (exp << HIST_SUB_BITS) + (micros >> exp);
}

void hist_record(struct histogram *h, int64_t micros, uint64_t times)
{
	uint64_t value = micros > 0 ? (uint64_t)micros : 0;
	uint32_t clamped = value > HIST_MAX_MICROS ? HIST_MAX_MICROS : (uint32_t)value;
	h->counts[hist_bucket_of(clamped)] += times;
	h->total += times;
	h->sum_us += value * times;
	if (value < h->low_us)
		h->low_us = value;
	if (value > h->high_us)
		h->high_us = value;
}

/* The midpoint of a bucket, in microseconds, as midpointOf in histogram.ts. */
static double midpoint_of(uint32_t bucket)
{
	if (bucket < HIST_LINEAR_LIMIT)
		return bucket;
	uint32_t exp = (bucket >> HIST_SUB_BITS) - 1;
	uint32_t mantissa = bucket - (exp << HIST_SUB_BITS);
	double width = (double)(1u << exp);
	return mantissa * width + (width - 1) / 2;
}

int64_t hist_percentile_us(const struct histogram *h, double p)
{
	if (h->total == 0)
		return -1;
	double wanted = (p / 100) * (double)h->total;
	uint64_t rank = wanted <= 1 ? 1 : (uint64_t)wanted;
	if ((double)rank < wanted)
		rank++; /* Math.ceil */
	uint64_t seen = 0;
	for (uint32_t bucket = 0; bucket < HIST_BUCKETS; bucket++) {
		seen += h->counts[bucket];
		if (seen >= rank) {
			/* The exact extremes are known; a midpoint outside them would be a worse answer. */
			double mid = midpoint_of(bucket);
			if (mid > (double)h->high_us)
				return (int64_t)h->high_us;
			if (mid < (double)h->low_us)
				return (int64_t)h->low_us;
			return (int64_t)(mid + 0.5);
		}
	}
	return (int64_t)h->high_us;
}

void hist_write_json(const struct histogram *h, struct json_out *out)
{
	json_raw(out, "{\"buckets\":[");
	int first = 1;
	for (uint32_t bucket = 0; bucket < HIST_BUCKETS; bucket++) {
		if (h->counts[bucket] == 0)
			continue;
		json_raw(out, first ? "[" : ",[");
		json_uint(out, bucket);
		json_raw(out, ",");
		json_uint(out, h->counts[bucket]);
		json_raw(out, "]");
		first = 0;
	}
	json_raw(out, "],\"count\":");
	json_uint(out, h->total);
	json_raw(out, ",\"min\":");
	if (h->total == 0)
		json_raw(out, "null");
	else
		json_millis(out, h->low_us);
	json_raw(out, ",\"max\":");
	if (h->total == 0)
		json_raw(out, "null");
	else
		json_millis(out, h->high_us);
	json_raw(out, ",\"sumMs\":");
	json_millis(out, h->sum_us);
	json_raw(out, "}");
}
