/*
 * report.c: writing the progress and result messages of report.h, field for
 * field as client-process.ts and ConnectionPool.progress build them.
 *
 * Why C: see report.h.
 */
#include "report.h"

#include <stdio.h>
#include <unistd.h>

uint64_t rss_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *statm = fopen("/proc/self/statm", "r");
	if (statm == NULL)
		return 0;
	if (fscanf(statm, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(statm);
	long page = sysconf(_SC_PAGESIZE);
	return (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
}

static void field(struct json_out *out, const char *name)
{
	json_raw(out, ",\"");
	json_raw(out, name);
	json_raw(out, "\":");
}

/* The ClientProgress fields, without the braces. */
static void progress_fields(struct json_out *out, const struct pool *pool, uint32_t overdue, uint64_t rss)
{
	json_raw(out, "\"index\":");
	json_uint(out, pool->plan->index);
	field(out, "pid");
	json_uint(out, (uint64_t)getpid());
	field(out, "attempts");
	json_uint(out, pool->attempts);
	field(out, "pending");
	json_uint(out, pool->pending);
	field(out, "established");
	json_uint(out, pool->established);
	field(out, "opened");
	json_uint(out, pool->opened);
	field(out, "failed");
	reasons_write_json(&pool->failed, out);
	field(out, "closedByServer");
	reasons_write_json(&pool->closed_by_server, out);
	field(out, "reconnects");
	json_uint(out, pool->reconnects);
	field(out, "reconnectsFailed");
	reasons_write_json(&pool->reconnects_failed, out);
	field(out, "heartbeats");
	json_uint(out, pool->heartbeats);
	field(out, "updates");
	json_uint(out, pool->reader.updates);
	field(out, "duplicates");
	json_uint(out, pool->reader.duplicates);
	field(out, "outOfOrder");
	json_uint(out, pool->reader.out_of_order);
	field(out, "skipped");
	json_uint(out, pool->reader.skipped);
	field(out, "late");
	json_uint(out, pool->late);
	field(out, "overdue");
	json_uint(out, overdue);
	field(out, "rampDone");
	json_bool(out, pool_ramp_done(pool));
	field(out, "rssBytes");
	json_uint(out, rss);
}

void report_progress(struct json_out *out, const struct pool *pool, uint32_t overdue, uint64_t rss)
{
	json_raw(out, "{\"type\":\"progress\",\"progress\":{");
	progress_fields(out, pool, overdue, rss);
	json_raw(out, "}}\n");
}

/* Milliseconds to 0.01 ms, as delayMs in client-process.ts rounds them. */
static void delay_ms(struct json_out *out, int64_t micros)
{
	json_millis(out, micros <= 0 ? 0 : (uint64_t)((micros + 5) / 10 * 10));
}

void report_result(struct json_out *out, const struct pool *pool, uint64_t rss, const struct result_extras *extras)
{
	json_raw(out, "{\"type\":\"result\",\"result\":{");
	/* After the stop nothing is pending, established or overdue, as in the Node engine's result. */
	progress_fields(out, pool, 0, rss);
	field(out, "establishedAtStop");
	json_uint(out, extras->established_at_stop);
	field(out, "notAttempted");
	json_uint(out, extras->not_attempted);
	field(out, "rssStartBytes");
	json_uint(out, extras->rss_start_bytes);
	field(out, "eventLoopDelayMs");
	json_raw(out, "{\"p99\":");
	delay_ms(out, extras->loop_delay_p99_us);
	json_raw(out, ",\"max\":");
	delay_ms(out, extras->loop_delay_max_us);
	json_raw(out, "}");
	field(out, "gapMs");
	hist_write_json(&pool->gaps, out);
	field(out, "firstHeartbeatMs");
	hist_write_json(&pool->first_heartbeat, out);
	field(out, "connectMs");
	hist_write_json(&pool->connect_time, out);
	field(out, "deliveryMs");
	hist_write_json(&pool->reader.delivery, out);
	field(out, "arrivals");
	events_write_arrivals(&pool->reader, out);
	field(out, "batchMs");
	json_uint(out, extras->batch_ms);
	json_raw(out, "}}\n");
}
