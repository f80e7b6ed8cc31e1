// One worker's HTTP server in the test process, listening on port 0, with no
// cluster and no Redis: for the stream and bad-input tests.
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logger.js';
import { buildServer } from '../../src/http/server.js';
import { createWorkerState, type WorkerState } from '../../src/http/worker-state.js';
import { ConnectionRegistry } from '../../src/connections/connection-registry.js';

export interface TestServer {
  app: FastifyInstance;
  state: { -readonly [K in keyof WorkerState]: WorkerState[K] };
  port: number;
  close(): Promise<void>;
}

export async function startWorkerServer(env: Record<string, string> = {}, overrides: { heartbeat?: Buffer } = {}): Promise<TestServer> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  const state: TestServer['state'] = createWorkerState(config);
  if (overrides.heartbeat !== undefined) {
    state.registry = new ConnectionRegistry({
      heartbeatMs: config.heartbeatMs,
      heartbeat: overrides.heartbeat,
      maxConnections: config.maxConnectionsPerWorker,
      maxUnsentBytes: config.maxUnsentBytes,
    });
  }
  const app = await buildServer(state, createLogger(config.logLevel, { role: 'test' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  state.registry.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    app,
    state,
    port,
    async close() {
      state.registry.destroyAll();
      state.watchers.endAll();
      await app.close();
    },
  };
}
