/*
 * pool.h: one process's share of client connections, as
 * src/loadgen/connection-pool.ts: opens them at a paced rate from the given
 * source addresses, reads each response head just far enough to know it is a
 * 200 event stream, then counts the frames that arrive and the gaps between
 * them; times out attempts that get no head, and (with --reconnect) queues
 * lost streams to be reopened before any fresh connection.
 *
 * Why C: a held connection costs 60 bytes here (flat arrays indexed by slot:
 * descriptor, phase, flags, timestamp, scanner state, update-reader state,
 * queue entry, request bytes sent, and a pointer used only while a head spans
 * reads), against
 * about 1.7 KB for a net.Socket and its libuv handle; and a heartbeat costs
 * one recv() in a batch, not a wake-up, a callback and a timer check.
 */
#ifndef LOADGEN_POOL_H
#define LOADGEN_POOL_H

#include <stdint.h>

#include "histogram.h"
#include "messages.h"
#include "reasons.h"
#include "scanner.h"

/* epoll data of the IPC channel; a connection's is its slot and descriptor. */
#define POOL_NOT_A_SLOT UINT64_MAX

struct partial_head;

struct pool {
	const struct plan *plan;
	uint32_t capacity;
	int epoll_fd;

	/* Per slot. */
	int32_t *fd;
	uint8_t *phase;
	uint8_t *flags;
	/* Microseconds: of the attempt, then of the response head, then of the last frame. */
	int64_t *since;
	struct sse_state *scan;
	/* The update reader's state (events.h). */
	struct event_state *events;
	/* Request bytes sent, while connecting. */
	uint16_t *sent;
	/* Heads split over several reads; rare, and bounded by maxPending. */
	struct partial_head **partial;
	/* Slots waiting to reconnect, as a ring; a slot is in it at most once. */
	uint32_t *queue;
	uint32_t queue_head;
	uint32_t queue_size;
	uint32_t next_fresh;
	uint32_t resolved;
	int stopping;
	/* Set when the last slot resolves; the loop sends a progress message at once and clears it. */
	int ramp_just_done;

	/* The token bucket of token-bucket.ts, in microseconds. */
	double tokens;
	int64_t bucket_last;
	double bucket_per_us;
	double bucket_burst;

	/* One read buffer for every socket: reads are handled one at a time. */
	unsigned char *read_buf;
	/* A split head and its next read, put together. */
	char *head_buf;

	/* The figures of ClientProgress and ClientResult. */
	uint64_t attempts;
	uint32_t pending;
	uint32_t established;
	uint64_t opened;
	uint64_t reconnects;
	uint64_t heartbeats;
	uint64_t late;
	/* Set by pool_freeze: heartbeats are still counted, their gaps and lateness no longer. */
	int frozen;
	struct reason_counts failed;
	struct reason_counts closed_by_server;
	struct reason_counts reconnects_failed;
	struct histogram gaps;
	struct histogram first_heartbeat;
	struct histogram connect_time;
	/* Updates read from the events: counts, delivery latency, arrivals per update. */
	struct event_reader reader;
};

int pool_init(struct pool *pool, const struct plan *plan, int epoll_fd, int64_t now);
/* How often the pacing tick runs, in microseconds (as ConnectionPool.start). */
int64_t pool_tick_us(const struct pool *pool);
/* Opens as many connections as the rate and the in-flight bound allow now. */
void pool_tick(struct pool *pool, int64_t now);
/* Fails attempts that have had no response head within connectTimeoutMs. */
void pool_expire(struct pool *pool, int64_t now);
/* Handles one epoll event of a connection. */
void pool_event(struct pool *pool, uint64_t data, uint32_t events, int64_t now);
/* Every slot has been tried and, without reconnect, none will be opened again. */
int pool_nothing_more_to_open(const struct pool *pool);
/* Every connection has been tried once, and each attempt has succeeded or failed. */
int pool_ramp_done(const struct pool *pool);
/* Streams silent for longer than lateAfterMs right now. */
uint32_t pool_overdue(const struct pool *pool, int64_t now);
/* Gaps and late heartbeats from now on only (the coordinator's --measure-after). */
void pool_mark(struct pool *pool);
/* Neither from now on (the end of the coordinator's --measure-for). */
void pool_freeze(struct pool *pool);
/* Ends every connection; attempts still in flight count as failed with UNFINISHED. Returns established at the stop. */
uint32_t pool_stop(struct pool *pool, int64_t now, uint32_t *not_attempted);

#endif
