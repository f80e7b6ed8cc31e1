// The status feed's event: built by the primary once a second from its
// workers' figures and the count in Redis, then sent to every worker to write
// to its watchers. Rates are per second; totals only grow while a worker lives.
import os from 'node:os';
import type { WorkerStats } from './worker-stats.js';
import type { ClusterCount, GoneHost, HostShare } from '../counter/counter-store.js';
import { memoryFigures } from './memory.js';

export interface StatusSnapshot {
  /** Milliseconds since the epoch. */
  ts: number;
  /** The cluster-wide count from Redis; null while Redis is unreachable. */
  connections: number | null;
  redis: 'up' | 'down';
  /** Hosts with a share in the count (from Redis; null while it is down). */
  hosts: number | null;
  /** Every host's share, its workers and lease age (from Redis; null while it is down). */
  perHost: HostShare[] | null;
  /** The hosts that left lately, newest first (from Redis; null while it is down). */
  goneHosts: GoneHost[] | null;
  host: {
    id: string;
    /** This host's connections, summed from its workers: the count that survives a Redis outage. */
    connections: number;
    workers: number;
    rss: number;
    cores: number;
    loadavg: number[];
    totalmem: number;
    freemem: number;
  };
  workers: number;
  rates: { connects: number; disconnects: number; pings: number; heartbeats: number; dropped: number; published: number; deliveries: number };
  totals: { opened: number; closed: number; dropped: number; pings: number; heartbeats: number; published: number; deliveries: number; hubDropped: number };
  /** The Mercure hub on this host (history length for the whole cluster: it is one Redis Stream). */
  hub: {
    subscribers: number;
    /** Updates in the history, as Redis last said; null while it is down. */
    historyLength: number | null;
    /** The longest publish-to-last-socket time of any worker over the last second, in ms. */
    fanOutMs: number;
  };
  perWorker: Array<{
    id: number;
    pid: number;
    connections: number;
    rss: number;
    heapUsed: number;
    heapLive: number;
    eventLoopDelayMs: number;
    eventLoopDelayP99Ms: number;
    gcPauseMs: number;
    gcMajorPauseMs: number;
    subscribers: number;
    fanOutMs: number;
  }>;
}

export type Totals = StatusSnapshot['totals'];

const TOTAL_KEYS = ['opened', 'closed', 'dropped', 'pings', 'heartbeats', 'published', 'deliveries', 'hubDropped'] as const;

export function zeroTotals(): Totals {
  return { opened: 0, closed: 0, dropped: 0, pings: 0, heartbeats: 0, published: 0, deliveries: 0, hubDropped: 0 };
}

export class StatusAggregator {
  private readonly latest = new Map<number, WorkerStats>();
  private readonly previous = new Map<number, Totals>();
  private lastTs = Date.now();
  // Every increase since this primary started, dead workers' included. The
  // snapshot's totals fall when a worker dies; Prometheus counters must not.
  private readonly counted: Totals = zeroTotals();
  private historyLength: number | null = null;

  constructor(private readonly hostId: string) {}

  update(stats: WorkerStats): void {
    this.latest.set(stats.id, stats);
  }

  remove(workerId: number): void {
    this.latest.delete(workerId);
    this.previous.delete(workerId);
  }

  /** The history's length as the primary last read it; null when it could not. */
  setHistoryLength(length: number | null): void {
    this.historyLength = length;
  }

  /** The counters' values since the primary started: they never go down (see `counted`). */
  get countedTotals(): Readonly<Totals> {
    return this.counted;
  }

  /** This host's connections as its workers last reported them. */
  hostConnections(): number {
    let sum = 0;
    for (const stats of this.latest.values()) sum += stats.connections;
    return sum;
  }

  snapshot(count: ClusterCount | null, now = Date.now()): StatusSnapshot {
    const seconds = Math.max(0.001, (now - this.lastTs) / 1000);
    this.lastTs = now;
    const totals = zeroTotals();
    const deltas = zeroTotals();
    let rss = 0;
    let subscribers = 0;
    let fanOutMs = 0;
    for (const stats of this.latest.values()) {
      const before = this.previous.get(stats.id);
      for (const key of TOTAL_KEYS) {
        totals[key] += stats[key];
        const delta = Math.max(0, stats[key] - (before?.[key] ?? 0));
        deltas[key] += delta;
        this.counted[key] += delta;
      }
      const kept = zeroTotals();
      for (const key of TOTAL_KEYS) kept[key] = stats[key];
      this.previous.set(stats.id, kept);
      rss += stats.rss;
      subscribers += stats.subscribers;
      fanOutMs = Math.max(fanOutMs, stats.fanOutMs);
    }
    const rate = (n: number): number => Math.round((n / seconds) * 10) / 10;
    return {
      ts: now,
      connections: count?.connections ?? null,
      redis: count === null ? 'down' : 'up',
      hosts: count?.hosts ?? null,
      perHost: count?.perHost ?? null,
      goneHosts: count?.gone ?? null,
      host: {
        id: this.hostId,
        connections: this.hostConnections(),
        workers: this.latest.size,
        rss: rss + memoryFigures().rss,
        cores: os.availableParallelism(),
        loadavg: os.loadavg(),
        totalmem: os.totalmem(),
        freemem: os.freemem(),
      },
      workers: this.latest.size,
      rates: {
        connects: rate(deltas.opened),
        disconnects: rate(deltas.closed),
        pings: rate(deltas.pings),
        heartbeats: rate(deltas.heartbeats),
        dropped: rate(deltas.dropped),
        published: rate(deltas.published),
        deliveries: rate(deltas.deliveries),
      },
      totals,
      hub: { subscribers, historyLength: count === null ? null : this.historyLength, fanOutMs },
      perWorker: [...this.latest.values()]
        .sort((a, b) => a.id - b.id)
        .map(({ id, pid, connections, rss: workerRss, heapUsed, heapLive, eventLoopDelayMs, eventLoopDelayP99Ms, gcPauseMs, gcMajorPauseMs, subscribers: workerSubscribers, fanOutMs: workerFanOutMs }) => ({
          id,
          pid,
          connections,
          rss: workerRss,
          heapUsed,
          heapLive,
          eventLoopDelayMs,
          eventLoopDelayP99Ms,
          gcPauseMs,
          gcMajorPauseMs,
          subscribers: workerSubscribers,
          fanOutMs: workerFanOutMs,
        })),
    };
  }
}
