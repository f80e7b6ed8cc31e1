import type { Config } from '../config/config.js';
import type { ConnectionRegistry } from '../connections/connection-registry.js';
import type { StatusWatchers } from '../status/status-watchers.js';

/** What the routes of one worker share. */
export interface WorkerState {
  readonly config: Config;
  readonly registry: ConnectionRegistry;
  readonly watchers: StatusWatchers;
  draining: boolean;
  pings: number;
  /** The primary's latest Prometheus text, for GET /metrics; absent until the first arrives. */
  metrics?: string;
}
