import type { Config } from '../config/config.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { heartbeatFrame } from '../connections/sse-frames.js';
import { StatusWatchers } from '../status/status-watchers.js';
import type { Hub } from '../hub/hub.js';

/** What the routes of one worker share. */
export interface WorkerState {
  readonly config: Config;
  readonly registry: ConnectionRegistry;
  readonly watchers: StatusWatchers;
  /** This worker's part of the Mercure hub; undefined until its Redis connections are made. */
  hub: Hub | undefined;
  draining: boolean;
  /** Set at the start of a drain's DRAIN_NOTICE_MS: /ping answers 503 so a load balancer stops sending new clients here. */
  leaving: boolean;
  pings: number;
  /** Asks the primary for the cluster's Prometheus text, for GET /metrics. */
  fetchMetrics?: () => Promise<string | undefined>;
}

export function createWorkerState(config: Config, onWatching?: (watching: boolean) => void, tickPhase = 0): WorkerState {
  const state: WorkerState = {
    config,
    registry: new ConnectionRegistry({
      heartbeatMs: config.heartbeatMs,
      heartbeat: heartbeatFrame(config.heartbeat),
      maxConnections: config.maxConnectionsPerWorker,
      maxUnsentBytes: config.maxUnsentBytes,
      tickPhase,
      // Every stream leaves through the registry's teardown; a hub subscriber leaves the hub there too.
      onRemoved: (socket) => state.hub?.detach(socket),
    }),
    watchers: new StatusWatchers(config.maxUnsentBytes, onWatching),
    hub: undefined,
    draining: false,
    leaving: false,
    pings: 0,
  };
  return state;
}
