// GET /metrics : Prometheus text for the whole cluster. The primary renders it
// once a second (see status/metrics.ts) and every worker keeps the latest copy,
// so a scrape costs a worker one write and never a round trip to its siblings.
import type { FastifyInstance } from 'fastify';
import { MetricsNotReady } from '../../errors.js';

// prom-client's `prometheusContentType`, spelled out so that workers need not
// load prom-client (only the primary renders metrics).
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsSource {
  /** The primary's latest rendering; undefined until the first one arrives. */
  readonly metrics?: string | undefined;
}

export function metricsRoute(app: FastifyInstance, source: MetricsSource): void {
  app.get('/metrics', (_request, reply) => {
    // Within a second of a worker starting; 503 with Retry-After tells the scraper to come back.
    if (source.metrics === undefined) throw new MetricsNotReady();
    reply.header('content-type', PROMETHEUS_CONTENT_TYPE).header('cache-control', 'no-store').send(source.metrics);
  });
}
