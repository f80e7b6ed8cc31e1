// Builds one worker's Fastify server. The routes are plain Fastify; only the
// two SSE routes leave Fastify once they have answered (see open-stream.ts).
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';
import { installErrorHandling } from './error-handler.js';
import { securityHeaders } from './security-headers.js';
import { installRequestAdmission } from './request-admission.js';
import { streamRoute } from './routes/stream.js';
import { statusWatcherRoute } from './routes/status-watcher.js';
import { pingRoute } from './routes/ping.js';
import { statusPageRoute } from './routes/status-page.js';
import { metricsRoute } from './routes/metrics.js';
import { mercureRoutes } from './routes/mercure.js';
import type { WorkerState } from './worker-state.js';

export async function buildServer(state: WorkerState, logger: Logger): Promise<FastifyInstance> {
  const { config } = state;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // A request log line per connection would be a million lines per run.
    logController: new LogController({ disableRequestLogging: true }),
    // HEAD / would otherwise open a stream.
    exposeHeadRoutes: false,
    return503OnClosing: true,
    http: {
      // Bigger headers get 431 from Node's parser (Fastify's clientError handler).
      maxHeaderSize: config.maxHeaderBytes,
      // A client that trickles its headers is cut off after this. It cannot
      // touch an open stream: a stream's parser is freed when it opens.
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: Math.max(config.headersTimeoutMs, 30_000),
      connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs),
    },
    keepAliveTimeout: 5_000,
  });
  installErrorHandling(app);
  // Before the routes, so that it covers every one of them.
  installRequestAdmission(app);
  await securityHeaders(app);
  streamRoute(app, state);
  statusWatcherRoute(app, state);
  pingRoute(app, state);
  metricsRoute(app, state, config.statusToken);
  mercureRoutes(app, state);
  await statusPageRoute(app);
  return app;
}
