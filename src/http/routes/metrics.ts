// GET /metrics : Prometheus text for the whole cluster. The primary keeps the
// registry (see status/metrics.ts) and renders it when a worker asks over IPC,
// so a scrape costs one round trip to the primary and nothing is sent to the
// workers on the seconds nobody scrapes.
import type { FastifyInstance } from 'fastify';
import { MetricsNotReady } from '../../errors.js';
import { requireStatusToken } from '../status-token.js';

// prom-client's `prometheusContentType`, spelled out so that workers need not
// load prom-client (only the primary renders metrics).
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsSource {
  /** The primary's rendering for the whole cluster; undefined when it cannot be had (no primary, no answer in time). */
  fetchMetrics?: () => Promise<string | undefined>;
}

export function metricsRoute(app: FastifyInstance, source: MetricsSource, statusToken: string | undefined): void {
  const onRequest = requireStatusToken(statusToken);
  app.get('/metrics', onRequest === undefined ? {} : { onRequest }, async (_request, reply) => {
    const text = await source.fetchMetrics?.();
    // 503 with Retry-After tells the scraper to come back.
    if (text === undefined) throw new MetricsNotReady();
    reply.header('content-type', PROMETHEUS_CONTENT_TYPE).header('cache-control', 'no-store');
    return text;
  });
}
