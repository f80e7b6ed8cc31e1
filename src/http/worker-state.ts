import type { Config } from '../config/config.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { heartbeatFrame } from '../connections/sse-frames.js';
import { StatusWatchers } from '../status/status-watchers.js';

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

export function createWorkerState(config: Config): WorkerState {
  return {
    config,
    registry: new ConnectionRegistry({
      heartbeatMs: config.heartbeatMs,
      heartbeat: heartbeatFrame(config.heartbeat),
      maxConnections: config.maxConnectionsPerWorker,
      maxUnsentBytes: config.maxUnsentBytes,
    }),
    watchers: new StatusWatchers(config.maxUnsentBytes),
    draining: false,
    pings: 0,
  };
}
