// What each worker tells the primary about itself once a second, over the cluster's IPC channel.

/** A worker's figures, sent to the primary once a second. Totals only grow; the primary turns them into rates. */
export interface WorkerStats {
  id: number;
  pid: number;
  connections: number;
  opened: number;
  closed: number;
  dropped: number;
  heartbeats: number;
  pings: number;
  watchers: number;
  rss: number;
  heapUsed: number;
  /** Mean event-loop delay over the last second, in milliseconds (the lateness of the heartbeat timer's ticks). */
  eventLoopDelayMs: number;
  /** Worst event-loop delay over the last second, in milliseconds (two ticks: their p99 is their maximum). */
  eventLoopDelayP99Ms: number;
  /** Time in garbage-collection pauses over the last second, in milliseconds: all kinds, and major (mark-compact) ones. */
  gcPauseMs: number;
  gcMajorPauseMs: number;
  /** V8 heap in use right after the worker's last major GC, in bytes (0 before the first): what the worker really keeps. */
  heapLive: number;
  /** Mercure subscribers held (also counted in `connections`). */
  subscribers: number;
  /** Updates this worker stored in the history, and frames it wrote to subscribers (totals). */
  published: number;
  deliveries: number;
  /** Subscribers dropped for not reading their updates (total). */
  hubDropped: number;
  /** Longest time over the last second from an update's publication to the last socket this worker wrote it to, in ms. */
  fanOutMs: number;
}
