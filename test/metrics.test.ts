// GET /metrics: the primary's prom-client registry, rendered once a second and
// served by every worker. Checked at three levels: the registry fed by the
// aggregator, the route on its own, and a real cluster against its status feed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { prometheusContentType } from 'prom-client';
import type { WorkerStats } from '../src/status/worker-stats.js';
import type { ClusterCount } from '../src/counter/counter-store.js';
import { installErrorHandling } from '../src/http/error-handler.js';
import { metricsRoute } from '../src/http/routes/metrics.js';
import { ClusterMetrics } from '../src/status/metrics.js';
import { GcPauses } from '../src/status/gc-pauses.js';
import { StatusAggregator } from '../src/status/status-snapshot.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { nextStatus, openSse, type RawStream } from './helpers/sse-client.js';
import { waitFor } from './helpers/wait.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';

/** Samples of a Prometheus text exposition, keyed `name` or `name{labels}`. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

function stats(id: number, figures: Partial<WorkerStats>): WorkerStats {
  return {
    id,
    pid: 1000 + id,
    connections: 0,
    opened: 0,
    closed: 0,
    dropped: 0,
    heartbeats: 0,
    pings: 0,
    watchers: 0,
    rss: 50_000_000,
    heapUsed: 10_000_000,
    eventLoopDelayMs: 2,
    eventLoopDelayP99Ms: 8,
    gcPauseMs: 3,
    gcMajorPauseMs: 0,
    heapLive: 8_000_000,
    subscribers: 0,
    published: 0,
    deliveries: 0,
    hubDropped: 0,
    fanOutMs: 0,
    ...figures,
  };
}

test("a worker's GC pauses are V8's own: garbage shows as pause time, a full collection as a major one, and each take starts again", async () => {
  const pauses = new GcPauses();
  try {
    // Objects that live a little while, enough to fill the young generation
    // many times over (objects that die at once the optimiser may never allocate).
    let window: Array<{ i: number }> = [];
    for (let i = 0; i < 2_000_000; i++) {
      window.push({ i });
      if (window.length === 10_000) window = [];
    }
    await sleep(100); // the observer is told after the GC, on a later turn
    const minor = pauses.take();
    assert.ok(minor.ms > 0, `pause time after 2M allocations: ${JSON.stringify(minor)}`);
    assert.deepEqual(pauses.take(), { ms: 0, majorMs: 0 });

    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    await sleep(100);
    const major = pauses.take();
    assert.ok(major.majorMs > 0 && major.ms >= major.majorMs, `after a full collection: ${JSON.stringify(major)}`);

    // The heap left after a major GC follows what is kept, not what was
    // allocated: 300,000 kept objects raise it by megabytes, and it falls
    // back once they are let go.
    const gc = runInNewContext('gc') as () => void;
    const before = pauses.liveBytes;
    assert.ok(before > 0, 'known after the first major GC');
    let kept: Array<{ i: number; s: string }> | null = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `kept ${i}` }));
    gc();
    await sleep(100);
    const holding = pauses.liveBytes;
    assert.ok(holding - before > 5_000_000, `kept 300,000 objects: ${before} -> ${holding} bytes`);
    assert.equal(kept.length, 300_000);
    kept = null;
    gc();
    await sleep(100);
    assert.ok(pauses.liveBytes < holding - 5_000_000, `let them go: ${holding} -> ${pauses.liveBytes} bytes`);
  } finally {
    pauses.stop();
  }
});

describe('the metrics registry', () => {
  test('turns the per-second aggregate into gauges and counters that never go down', async () => {
    const aggregator = new StatusAggregator('test-host');
    const metrics = new ClusterMetrics();
    const tick = async (count: ClusterCount | null): Promise<Map<string, number>> => {
      metrics.update(aggregator.snapshot(count), aggregator.countedTotals);
      return parse(await metrics.render());
    };

    aggregator.update(stats(1, { connections: 30, opened: 40, closed: 10, pings: 5, heartbeats: 100 }));
    aggregator.update(stats(2, { connections: 20, opened: 20, pings: 2, dropped: 1, eventLoopDelayMs: 12.5 }));
    let m = await tick({
      connections: 80,
      hosts: 2,
      perHost: [
        { id: 'test-host', connections: 50, workers: 2, leaseAgeMs: 400 },
        { id: 'other', connections: 30, workers: 3, leaseAgeMs: null },
      ],
      gone: [{ id: 'old', cause: 'lease expired', connections: 7, at: Date.now() }],
    });
    assert.equal(m.get('msse_cluster_host_connections{host="test-host"}'), 50);
    assert.equal(m.get('msse_cluster_host_connections{host="other"}'), 30);
    assert.equal(m.get('msse_cluster_host_workers{host="other"}'), 3);
    assert.equal(m.get('msse_cluster_host_lease_age_seconds{host="test-host"}'), 0.4);
    assert.equal(m.get('msse_cluster_host_lease_age_seconds{host="other"}'), undefined, 'an expired lease has no age');
    assert.equal(m.get('msse_cluster_hosts_gone'), 1);
    m = await tick({ connections: 50, hosts: 1, perHost: [{ id: 'test-host', connections: 50, workers: 2, leaseAgeMs: 300 }], gone: [] });
    assert.equal(m.get('msse_cluster_host_connections{host="other"}'), undefined, "a gone host's series goes");
    assert.equal(m.get('msse_connections'), 50);
    assert.equal(m.get('msse_host_connections'), 50);
    assert.equal(m.get('msse_workers'), 2);
    assert.equal(m.get('msse_redis_up'), 1);
    assert.equal(m.get('msse_connections_opened_total'), 60);
    assert.equal(m.get('msse_connections_closed_total'), 10);
    assert.equal(m.get('msse_ping_requests_total'), 7);
    assert.equal(m.get('msse_heartbeats_total'), 100);
    assert.equal(m.get('msse_dropped_clients_total'), 1);
    assert.equal(m.get('msse_worker_connections{worker="1"}'), 30);
    assert.equal(m.get('msse_event_loop_delay_seconds{worker="2"}'), 0.0125);
    assert.equal(m.get('msse_event_loop_delay_p99_seconds{worker="2"}'), 0.008);
    assert.equal(m.get('msse_worker_gc_pause_seconds{worker="2",kind="all"}'), 0.003);
    assert.equal(m.get('msse_worker_gc_pause_seconds{worker="2",kind="major"}'), 0);
    assert.equal(m.get('msse_worker_heap_live_bytes{worker="2"}'), 8_000_000);

    // Worker 2 dies and its replacement, worker 3, starts from zero: the
    // cluster's totals fall by worker 2's, but a counter must not.
    aggregator.remove(2);
    aggregator.update(stats(1, { connections: 31, opened: 41, closed: 10, pings: 6, heartbeats: 100 }));
    aggregator.update(stats(3, { connections: 4, opened: 4 }));
    m = await tick(null);
    assert.equal(m.get('msse_connections_opened_total'), 65);
    assert.equal(m.get('msse_ping_requests_total'), 8);
    assert.equal(m.get('msse_dropped_clients_total'), 1);
    assert.equal(m.get('msse_worker_connections{worker="2"}'), undefined, "a dead worker's series goes");
    assert.equal(m.get('msse_worker_connections{worker="3"}'), 4);
    // Redis is down: the cluster-wide count falls back to this host's own.
    assert.equal(m.get('msse_redis_up'), 0);
    assert.equal(m.get('msse_connections'), 35);
  });
});

describe('GET /metrics on one worker', () => {
  test('answers 503 with Retry-After while the primary gives no text, then serves what it gives', async () => {
    const app = Fastify();
    installErrorHandling(app);
    let text: string | undefined;
    metricsRoute(app, { fetchMetrics: async () => text }, undefined);

    const early = await app.inject('/metrics');
    assert.equal(early.statusCode, 503);
    assert.equal(early.headers['retry-after'], '5');
    assert.equal(early.json().code, 'MSSE_METRICS_NOT_READY');

    text = '# TYPE msse_connections gauge\nmsse_connections 3\n';
    const ready = await app.inject('/metrics');
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.headers['content-type'], prometheusContentType);
    assert.equal(ready.body, text);
    await app.close();
  });
});

describe('GET /metrics on a real cluster', () => {
  const OPENED = 25;
  const CLOSED = 5;
  const PINGS = 7;
  let redis: TestRedis;
  let cluster: TestCluster;
  const streams: RawStream[] = [];

  const scrape = async (): Promise<Map<string, number>> => {
    const response = await fetch(`http://127.0.0.1:${cluster.port}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), prometheusContentType);
    return parse(await response.text());
  };

  async function waitForMetrics(check: (m: Map<string, number>) => boolean, what: string): Promise<Map<string, number>> {
    let latest = new Map<string, number>();
    await waitFor(
      async () => {
        const response = await fetch(`http://127.0.0.1:${cluster.port}/metrics`);
        if (response.status !== 200) return false;
        latest = parse(await response.text());
        return check(latest);
      },
      { what: `metrics where ${what}` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last scrape: ${JSON.stringify(Object.fromEntries(latest))}`);
    });
    return latest;
  }

  before(async () => {
    redis = await startRedis();
    cluster = await startCluster({ REDIS_URL: redis.url, HEARTBEAT_MS: '500' });
  });

  after(async () => {
    for (const stream of streams) stream.close();
    await cluster?.stop();
    await redis?.stop();
  });

  test('agrees with the status feed on connections, totals, workers and Redis', async () => {
    for (let i = 0; i < OPENED; i++) streams.push(openSse(cluster.port));
    await waitFor(() => streams.every((s) => s.text().includes('\r\n\r\n')), { what: 'every stream to open' });
    for (const stream of streams.splice(0, CLOSED)) stream.close();
    for (let i = 0; i < PINGS; i++) assert.equal((await fetch(`http://127.0.0.1:${cluster.port}/ping`)).status, 204);

    const held = OPENED - CLOSED;
    const m = await waitForMetrics(
      (s) => s.get('msse_connections') === held && s.get('msse_connections_closed_total') === CLOSED && s.get('msse_ping_requests_total') === PINGS,
      `${held} connections, ${CLOSED} closed and ${PINGS} pings`,
    );
    const status = await nextStatus(cluster.port, (s) => s.connections === held && s.totals.pings === PINGS);

    assert.equal(m.get('msse_connections'), status.connections);
    assert.equal(m.get('msse_host_connections'), status.host.connections);
    assert.equal(m.get('msse_workers'), status.workers);
    assert.equal(m.get('msse_workers'), 2);
    assert.equal(m.get('msse_connections_opened_total'), status.totals.opened);
    assert.equal(m.get('msse_connections_opened_total'), OPENED);
    assert.equal(m.get('msse_connections_closed_total'), status.totals.closed);
    assert.equal(m.get('msse_dropped_clients_total'), status.totals.dropped);
    assert.equal(m.get('msse_redis_up'), 1);
    assert.ok(m.get('msse_heartbeats_total')! > 0, 'heartbeats every 500 ms are counted');
    for (const worker of status.perWorker) {
      assert.equal(m.get(`msse_worker_connections{worker="${worker.id}"}`), worker.connections);
      assert.ok(m.get(`msse_event_loop_delay_seconds{worker="${worker.id}"}`)! >= 0);
      assert.ok(m.get(`msse_worker_gc_pause_seconds{worker="${worker.id}",kind="all"}`)! >= 0);
      assert.ok(m.get(`msse_worker_resident_memory_bytes{worker="${worker.id}"}`)! > 0);
    }
    assert.ok(m.get('msse_resident_memory_bytes')! > status.perWorker.reduce((sum, w) => sum + w.rss, 0) / 2);
  });

  test('reports Redis down, and the count from this host, until Redis is back', async () => {
    const held = OPENED - CLOSED;
    await redis.kill();
    const down = await waitForMetrics((s) => s.get('msse_redis_up') === 0, 'Redis is down');
    assert.equal(down.get('msse_connections'), held);
    await redis.restart();
    await waitForMetrics((s) => s.get('msse_redis_up') === 1 && s.get('msse_connections') === held, 'Redis is back with the count');
    assert.ok((await scrape()).has('msse_connections'));
  });
});
