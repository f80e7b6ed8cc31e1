// The counting rules, checked against the real Redis scripts and against the
// in-memory implementation used by unit tests: both must agree.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { CounterStore } from '../src/counter/counter-store.js';
import { RedisCounterStore } from '../src/counter/redis-counter-store.js';
import { MemoryCounterState, MemoryCounterStore } from '../src/counter/memory-counter-store.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
const clients: Redis[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const client of clients) client.disconnect();
  await redis.stop();
});

interface Flavour {
  name: string;
  /** Two hosts sharing one count; `total` reads it the way a user would. */
  make(leaseMs: number): Promise<{ a: CounterStore; b: CounterStore; total(): Promise<number>; nextRun(): CounterStore }>;
}

let keySeq = 0;
const flavours: Flavour[] = [
  {
    name: 'redis',
    async make(leaseMs) {
      const countKey = `count${++keySeq}`;
      const client = new Redis(redis.url);
      clients.push(client);
      return {
        a: new RedisCounterStore(client, { countKey, hostId: 'host-a', leaseMs, runId: 'run-1' }),
        b: new RedisCounterStore(client, { countKey, hostId: 'host-b', leaseMs, runId: 'run-1' }),
        total: async () => Number(await redis.client.get(countKey)),
        nextRun: () => new RedisCounterStore(client, { countKey, hostId: 'host-a', leaseMs, runId: 'run-2' }),
      };
    },
  },
  {
    name: 'memory',
    async make(leaseMs) {
      const state = new MemoryCounterState();
      return {
        a: new MemoryCounterStore(state, 'host-a', leaseMs),
        b: new MemoryCounterStore(state, 'host-b', leaseMs),
        total: async () => state.total,
        nextRun: () => new MemoryCounterStore(state, 'host-a', leaseMs, Date.now, 'run-2'),
      };
    },
  },
];

for (const flavour of flavours) {
  test(`${flavour.name}: absolute reports are idempotent and sum across workers and hosts`, async () => {
    const { a, b, total } = await flavour.make(5_000);
    await a.report('1', 10);
    await a.report('1', 10); // a replayed command changes nothing
    await a.report('2', 5);
    await b.report('1', 7);
    assert.equal(await total(), 22);
    await a.report('1', 3);
    assert.equal(await total(), 15);
    const read = await a.read();
    assert.equal(read.connections, 15);
    assert.equal(read.hosts, 2);
    assert.deepEqual(
      read.perHost.map(({ id, connections, workers }) => ({ id, connections, workers })),
      [
        { id: 'host-a', connections: 8, workers: 2 },
        { id: 'host-b', connections: 7, workers: 1 },
      ],
    );
    for (const host of read.perHost) assert.ok(host.leaseAgeMs !== null && host.leaseAgeMs >= 0 && host.leaseAgeMs < 1_000, `lease age ${host.leaseAgeMs}`);
    assert.deepEqual(read.gone, []);
  });

  test(`${flavour.name}: a dead worker's share goes exactly, once, and its late report cannot bring it back`, async () => {
    const { a, total } = await flavour.make(5_000);
    await a.report('1', 10);
    await a.report('2', 4);
    assert.equal(await a.removeWorker('2'), 4);
    assert.equal(await a.removeWorker('2'), 0);
    await a.report('2', 4); // sent before it died, arriving after
    assert.equal(await total(), 10);
  });

  test(`${flavour.name}: a clean shutdown removes the host's whole share`, async () => {
    const { a, b, total } = await flavour.make(5_000);
    await a.report('1', 10);
    await a.report('2', 4);
    await b.report('1', 1);
    assert.equal(await a.removeHost(), 14);
    assert.equal(await total(), 1);
    const read = await b.read();
    assert.deepEqual(read.perHost.map((h) => h.id), ['host-b']);
    assert.deepEqual(read.gone.map(({ id, cause, connections }) => ({ id, cause, connections })), [{ id: 'host-a', cause: 'stopped', connections: 14 }]);
    assert.ok(Math.abs(read.gone[0]!.at - Date.now()) < 2_000);
  });

  test(`${flavour.name}: a host that stops renewing its lease is reaped by another`, async () => {
    const { a, b, total } = await flavour.make(1_000);
    await a.report('1', 10);
    await b.report('1', 3);
    assert.deepEqual(await b.reapExpiredHosts(), []);
    // host-a goes silent; host-b keeps reporting.
    const deadline = Date.now() + 3_000;
    let reaped: string[] = [];
    while (reaped.length === 0 && Date.now() < deadline) {
      await b.report('1', 3);
      reaped = await b.reapExpiredHosts();
      await sleep(100);
    }
    assert.deepEqual(reaped, ['host-a']);
    assert.equal(await total(), 3);
    const read = await b.read();
    assert.deepEqual(read.perHost.map((h) => h.id), ['host-b']);
    assert.deepEqual(read.gone.map(({ id, cause, connections }) => ({ id, cause, connections })), [{ id: 'host-a', cause: 'lease expired', connections: 10 }]);
  });

  test(`${flavour.name}: a restarted primary's claim is a clean slate for its host; the earlier run's reports no longer count`, async () => {
    const { a, b, total, nextRun } = await flavour.make(5_000);
    assert.equal(await a.claimHost(), 0);
    await a.report('1', 45);
    await a.report('2', 30);
    await a.report('3', 7);
    await a.removeWorker('1'); // killed; the supervisor replaces it with worker 3
    await b.report('1', 5);
    // The primary is SIGKILLed with its workers, and started again with the same HOST_ID.
    const again = nextRun();
    assert.equal(await again.claimHost(), 37, 'what the earlier run left');
    assert.equal(await again.claimHost(), 0, 'a second claim of the same run removes nothing');
    assert.equal(await total(), 5);
    await a.report('2', 30); // the old worker 2's report, arriving late
    // The new run's worker 1 reports where the old run left a tombstone.
    await again.report('1', 45);
    await again.report('2', 55);
    assert.equal(await total(), 105);
    assert.deepEqual(
      (await again.read()).perHost.map(({ id, connections, workers }) => ({ id, connections, workers })),
      [
        { id: 'host-a', connections: 100, workers: 2 },
        { id: 'host-b', connections: 5, workers: 1 },
      ],
    );
  });

  test(`${flavour.name}: once a host is removed, the first report of a run takes it back (Redis restarted empty, a host reaped while alive)`, async () => {
    const { a, b, total } = await flavour.make(5_000);
    await a.claimHost();
    await a.report('1', 10);
    await b.report('1', 2);
    assert.equal(await a.removeHost(), 10);
    await a.report('1', 10);
    await a.report('2', 3);
    assert.equal(await total(), 15);
  });

  test(`${flavour.name}: forgetting a tombstone removes only a tombstone`, async () => {
    const { a, total } = await flavour.make(5_000);
    await a.report('1', 10);
    await a.report('2', 4);
    await a.removeWorker('2');
    assert.equal(await a.forgetWorker('1'), false, 'a live field stays');
    assert.equal(await a.forgetWorker('2'), true);
    assert.equal(await a.forgetWorker('2'), false);
    assert.equal(await total(), 10);
    assert.deepEqual((await a.read()).perHost.map(({ connections, workers }) => ({ connections, workers })), [{ connections: 10, workers: 1 }]);
  });

  test(`${flavour.name}: a dead worker no longer counts as one of its host's workers`, async () => {
    const { a } = await flavour.make(5_000);
    await a.report('1', 10);
    await a.report('2', 4);
    await a.removeWorker('2');
    assert.deepEqual((await a.read()).perHost.map(({ connections, workers }) => ({ connections, workers })), [{ connections: 10, workers: 1 }]);
  });
}

test('redis: after Redis restarts empty, the next reports put the exact count back', async () => {
  const client = new Redis(redis.url, { enableOfflineQueue: false, retryStrategy: () => 50 });
  client.on('error', () => undefined);
  clients.push(client);
  const store = new RedisCounterStore(client, { countKey: 'restart', hostId: 'h', leaseMs: 5_000, runId: 'run-1' });
  await new Promise((resolve) => client.once('ready', resolve));
  await store.report('1', 8);
  await store.report('2', 2);
  await redis.kill();
  await redis.restart();
  assert.equal(await redis.client.get('restart'), null);
  // Scripts are gone too (NOSCRIPT); the store must load them again by itself.
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      await store.report('1', 8);
      await store.report('2', 2);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
  assert.equal(await redis.client.get('restart'), '10');
});
