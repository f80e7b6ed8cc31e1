// What the primary and its workers say to each other over the cluster IPC channel.
import type { AcceptPath } from './accept-path.js';

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

export type WorkerMessage =
  /**
   * The worker listens. Sent by the worker itself: with SO_REUSEPORT it binds
   * its own socket, and the cluster module's 'listening' event never fires.
   */
  | { type: 'listening'; acceptPath: AcceptPath }
  | { type: 'stats'; stats: WorkerStats }
  /** A GET /metrics arrived; the primary answers with a `metrics` message carrying the same id. */
  | { type: 'metrics-request'; id: number }
  /** Whether this worker has status watchers, i.e. wants the status feed's events. */
  | { type: 'watching'; watching: boolean };

export type PrimaryMessage =
  /** The status feed's next event, serialised once by the primary. */
  | { type: 'snapshot'; json: string }
  /** The answer to a metrics-request: Prometheus text for the whole cluster. */
  | { type: 'metrics'; id: number; text: string }
  /** Stop accepting and end the streams over DRAIN_MS. */
  | { type: 'drain' };

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'listening' || type === 'stats' || type === 'metrics-request' || type === 'watching';
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'snapshot' || type === 'metrics' || type === 'drain';
}
