// What the primary and its workers say to each other over the cluster IPC channel.
import type { AcceptPath } from '../config/accept-path.js';
import type { WorkerConfig } from '../config/worker-config.js';
import type { WorkerStats } from '../status/worker-stats.js';

export type { WorkerStats };

export type WorkerMessage =
  /**
   * The worker listens. Sent by the worker itself: with SO_REUSEPORT it binds
   * its own socket, and the cluster module's 'listening' event never fires.
   */
  | { type: 'listening'; acceptPath: AcceptPath }
  /** The worker has started and asks for its configuration (see config/worker-config.ts). */
  | { type: 'config-request' }
  | { type: 'stats'; stats: WorkerStats }
  /** A GET /metrics arrived; the primary answers with a `metrics` message carrying the same id. */
  | { type: 'metrics-request'; id: number }
  /** Whether this worker has status watchers, i.e. wants the status feed's events. */
  | { type: 'watching'; watching: boolean };

export type PrimaryMessage =
  /** The answer to a config-request. */
  | { type: 'config'; config: WorkerConfig }
  /** The status feed's next event, serialised once by the primary. */
  | { type: 'snapshot'; json: string }
  /** The answer to a metrics-request: Prometheus text for the whole cluster; none when it could not be rendered. */
  | { type: 'metrics'; id: number; text?: string }
  /** Stop accepting and end the streams over DRAIN_MS. */
  | { type: 'drain' };

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'listening' || type === 'stats' || type === 'metrics-request' || type === 'watching' || type === 'config-request';
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'snapshot' || type === 'metrics' || type === 'drain' || type === 'config';
}
