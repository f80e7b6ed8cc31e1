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
  /** Set at the start of a drain's DRAIN_NOTICE_MS: /ping answers 503 so a load balancer stops sending new clients here. */
  leaving: boolean;
  pings: number;
  /** Asks the primary for the cluster's Prometheus text, for GET /metrics. */
  fetchMetrics?: () => Promise<string | undefined>;
}

export function createWorkerState(config: Config, onWatching?: (watching: boolean) => void, tickPhase = 0): WorkerState {
  return {
    config,
    registry: new ConnectionRegistry({
      heartbeatMs: config.heartbeatMs,
      heartbeat: heartbeatFrame(config.heartbeat),
      maxConnections: config.maxConnectionsPerWorker,
      maxUnsentBytes: config.maxUnsentBytes,
      tickPhase,
    }),
    watchers: new StatusWatchers(config.maxUnsentBytes, onWatching),
    draining: false,
    leaving: false,
    pings: 0,
  };
}
