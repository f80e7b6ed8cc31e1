// What the primary and its workers say to each other over the cluster IPC channel.

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
  /** Mean event-loop delay over the last second, in milliseconds. */
  eventLoopDelayMs: number;
  /** p99 event-loop delay over the last second, in milliseconds. */
  eventLoopDelayP99Ms: number;
}

export type WorkerMessage = { type: 'stats'; stats: WorkerStats };

export type PrimaryMessage =
  /** The status feed's next event, serialised once by the primary. */
  | { type: 'snapshot'; json: string }
  /** GET /metrics's body for the whole cluster, rendered once a second by the primary. */
  | { type: 'metrics'; text: string }
  /** Stop accepting and end the streams over DRAIN_MS. */
  | { type: 'drain' };

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'stats';
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'snapshot' || type === 'metrics' || type === 'drain';
}
