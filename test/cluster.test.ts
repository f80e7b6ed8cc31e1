// The real cluster (node dist/primary.js) with a real Redis: the count stays
// exact through connects, disconnects and every fault the README promises.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { startCluster, withCluster as withClusterIn, type TestCluster } from './helpers/cluster.js';
import { nextStatus, openSse, rawRequest, type RawOptions, type RawStream } from './helpers/sse-client.js';
import { waitFor } from './helpers/wait.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

async function count(key = 'connections'): Promise<number | null> {
  const value = await redis.client.get(key);
  return value === null ? null : Number(value);
}

async function countIs(expected: number, what: string, timeoutMs = 5_000): Promise<void> {
  let last: number | null = null;
  await waitFor(async () => (last = await count()) === expected, { what: () => `${what}: count ${expected} (last ${last})`, timeoutMs });
}

async function openMany(port: number, n: number, options: RawOptions = {}): Promise<RawStream[]> {
  const streams = Array.from({ length: n }, () => openSse(port, '/', options));
  await waitFor(() => streams.every((s) => s.text().includes('retry:')), { what: `${n} streams open`, timeoutMs: 15_000 });
  return streams;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function withCluster(env: Record<string, string>, body: (cluster: TestCluster) => Promise<void>): Promise<void> {
  return withClusterIn(redis, env, body);
}

test('the count is exact over hundreds of connections on two workers, through connects and disconnects', async () => {
  await withCluster({}, async (cluster) => {
    const streams = await openMany(cluster.port, 300);
    await countIs(300, 'after 300 connects');
    for (const stream of streams.slice(0, 120)) stream.close();
    await countIs(180, 'after 120 disconnects');
    const more = await openMany(cluster.port, 40);
    await countIs(220, 'after 40 more connects');
    const status = await nextStatus(cluster.port, (s) => s.connections === 220 && s.host.connections === 220);
    assert.equal(status.workers, 2);
    assert.equal(status.redis, 'up');
    assert.equal(status.perWorker.reduce((sum, w) => sum + w.connections, 0), 220);
    assert.ok(status.perWorker.every((w) => w.connections > 0), 'both workers hold a share');
    for (const stream of [...streams, ...more]) stream.close();
    await countIs(0, 'after everyone left');
  });
});

test("a worker killed with SIGKILL: exactly its share goes at once, and it is replaced", async () => {
  await withCluster({}, async (cluster) => {
    const streams = await openMany(cluster.port, 200);
    const status = await nextStatus(cluster.port, (s) => s.connections === 200 && s.perWorker.length === 2);
    const victim = status.perWorker[0]!;
    const survivor = status.perWorker[1]!;
    process.kill(victim.pid, 'SIGKILL');
    await countIs(survivor.connections, 'after the SIGKILL');
    await cluster.waitForLog((l) => l.msg === 'worker killed by SIGKILL; restarting' && l.workerPid === victim.pid, 'the restart log line');
    const closed = streams.filter((s) => s.isClosed()).length;
    await waitFor(() => streams.filter((s) => s.isClosed()).length === victim.connections, { what: "the victim's clients to see the close" });
    assert.ok(closed <= victim.connections);
    // The replacement serves new connections and the count stays exact.
    await nextStatus(cluster.port, (s) => s.workers === 2 && !s.perWorker.some((w) => w.pid === victim.pid));
    const more = await openMany(cluster.port, 50);
    await countIs(survivor.connections + 50, 'after reconnecting through the replacement');
    for (const stream of [...streams, ...more]) stream.close();
    await countIs(0, 'after everyone left');
  });
});

test('Redis killed and restarted empty: streams keep their heartbeats, the feed says Redis is down, the count comes back exact', async () => {
  await withCluster({}, async (cluster) => {
    const streams = await openMany(cluster.port, 120);
    await countIs(120, 'before the outage');
    await redis.kill();
    const down = await nextStatus(cluster.port, (s) => s.redis === 'down');
    assert.equal(down.connections, null);
    assert.equal(down.host.connections, 120);
    const before = streams[0]!.chunks.length;
    await waitFor(() => streams[0]!.chunks.length >= before + 2, { what: 'heartbeats while Redis is down' });
    assert.ok(streams.every((s) => !s.isClosed()));
    await redis.restart();
    await countIs(120, 'after Redis came back empty');
    await nextStatus(cluster.port, (s) => s.redis === 'up' && s.connections === 120);
    for (const stream of streams) stream.close();
    await countIs(0, 'after everyone left');
  });
});

test("a dead host's share expires within its lease; the workers of a SIGKILLed primary exit by themselves", async () => {
  await withCluster({ HOST_ID: 'host-a' }, async (a) => {
    const onA = await openMany(a.port, 30);
    const b = await startCluster({ REDIS_URL: redis.url, HOST_ID: 'host-b', LEASE_MS: '2000', HEARTBEAT_MS: '500' });
    try {
      const onB = await openMany(b.port, 70);
      await countIs(100, 'with both hosts');
      const statusB = await nextStatus(b.port, (s) => s.host.connections === 70 && s.perWorker.length === 2);
      assert.equal(statusB.hosts, 2);
      // A whole host dies at once: workers and primary, nobody cleans up.
      for (const worker of statusB.perWorker) process.kill(worker.pid, 'SIGKILL');
      b.child.kill('SIGKILL');
      await b.exited;
      assert.equal(await count(), 100, 'nothing removed the share yet');
      // Its last report was at most a second before the kill, so its lease ends
      // within LEASE_MS of it; host-a reaps within a status second after that.
      await countIs(30, "after host-b's lease expired", 2_000 + 2 * 1_000);
      await a.waitForLog((l) => l.msg === 'removed the share of hosts whose lease expired', 'the reaper log line');
      for (const stream of onB) stream.close();
    } finally {
      await b.stop();
    }
    // Orphans: kill A's primary alone; its workers notice and leave.
    const statusA = await nextStatus(a.port, (s) => s.perWorker.length === 2);
    a.child.kill('SIGKILL');
    await a.exited;
    await waitFor(() => statusA.perWorker.every((w) => !processAlive(w.pid)), { what: 'the orphaned workers to exit' });
    for (const stream of onA) stream.close();
  });
});

/** The host's hash: worker id -> its count, or "dead". */
async function hostFields(hostId: string): Promise<Record<string, string>> {
  return redis.client.hgetall(`connections:host:${hostId}`);
}

/**
 * A fixed HOST_ID (scripts/hosts.sh sets one, pm2 restarts a primary at once):
 * `before` leaves the host's hash with tombstones and old workers' fields,
 * then the primary is SIGKILLed and started again with the same id.
 */
async function restartedPrimaryCountsExactly(before: (cluster: TestCluster) => Promise<void>): Promise<void> {
  await redis.client.flushall();
  // The longest lease: a count that comes right only once the host's lease
  // has run out (and it reaps itself) is not what this promises.
  const env = { REDIS_URL: redis.url, HOST_ID: 'fixed-host', HEARTBEAT_MS: '500', DRAIN_MS: '300', LEASE_MS: '10000' };
  const first = await startCluster(env);
  let second: TestCluster | undefined;
  try {
    await before(first);
    const fieldsBefore = await hostFields('fixed-host');
    assert.ok(Object.values(fieldsBefore).includes('dead'), `a tombstone in the host's hash: ${JSON.stringify(fieldsBefore)}`);
    first.child.kill('SIGKILL');
    await first.exited;
    second = await startCluster(env);
    const streams = await openMany(second.port, 100);
    const status = await nextStatus(second.port, (s) => s.host.connections === 100 && s.perWorker.length === 2);
    assert.ok(status.perWorker.every((w) => w.connections > 0), 'both new workers hold a share');
    await countIs(100, 'the new run counted exactly');
    // Only the new run's two workers are left in the hash: nothing old for hosts.lua to walk.
    await waitFor(async () => Object.keys(await hostFields('fixed-host')).sort().join() === '1,2', { what: "the hash to hold the new run's workers only" });
    assert.equal((await nextStatus(second.port, (s) => s.connections === 100)).hosts, 1);
    for (const stream of streams) stream.close();
    await countIs(0, 'after everyone left');
  } finally {
    await first.stop();
    await second?.stop();
  }
}

test('a fixed HOST_ID: a worker SIGKILLed, then the primary SIGKILLed and started again at once; the new run counts exactly', async () => {
  await restartedPrimaryCountsExactly(async (cluster) => {
    const streams = await openMany(cluster.port, 40);
    const status = await nextStatus(cluster.port, (s) => s.connections === 40 && s.perWorker.length === 2);
    const victim = status.perWorker[0]!;
    process.kill(victim.pid, 'SIGKILL');
    await cluster.waitForLog((l) => l.msg === "removed a dead worker's share of the count", 'the dead share removed');
    await nextStatus(cluster.port, (s) => s.workers === 2 && !s.perWorker.some((w) => w.pid === victim.pid));
    for (const stream of streams) stream.close();
  });
});

test('a fixed HOST_ID: a rolling restart, then the primary SIGKILLed and started again at once; the new run counts exactly', async () => {
  await restartedPrimaryCountsExactly(async (cluster) => {
    const streams = await openMany(cluster.port, 20);
    cluster.child.kill('SIGHUP');
    const done = await cluster.waitForLog((l) => l.msg === 'rolling restart done', 'the rolling restart to finish', 20_000);
    assert.equal(done.replaced, 2);
    for (const stream of streams) stream.close();
  });
});

test('SIGTERM drains: streams end spread over DRAIN_MS, the host leaves the count, exit 0', async () => {
  await withCluster({ DRAIN_MS: '1500' }, async (cluster) => {
    const streams = await openMany(cluster.port, 60);
    await countIs(60, 'before the drain');
    const signalledAt = performance.now();
    cluster.child.kill('SIGTERM');
    const { code } = await cluster.exited;
    assert.equal(code, 0);
    await waitFor(() => streams.every((s) => s.isClosed()), { what: 'every stream ended' });
    const closeTimes = streams.map((s) => s.closedAt()! - signalledAt);
    const spread = Math.max(...closeTimes) - Math.min(...closeTimes);
    assert.ok(spread > 500, `closes spread over ${Math.round(spread)} ms, not one storm`);
    assert.equal(await count(), 0);
    assert.equal(await redis.client.scard('connections:hosts'), 0);
    assert.ok(cluster.logs.some((l) => l.msg === 'drained; exiting'));
  });
});

test('DRAIN_NOTICE_MS: /ping fails first while streams still open, then the drain goes on as usual', async () => {
  await withCluster({ DRAIN_MS: '500', DRAIN_NOTICE_MS: '1500' }, async (cluster) => {
    const held = await openMany(cluster.port, 10);
    const ping = async (): Promise<string> => {
      const answer = rawRequest(cluster.port, 'GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await answer.closed;
      return answer.text().split('\r\n')[0]!;
    };
    assert.equal(await ping(), 'HTTP/1.1 204 No Content');
    cluster.child.kill('SIGTERM');
    await cluster.waitForLog((l) => l.msg === 'draining' && l.role === 'worker', 'the workers to start draining');
    await waitFor(async () => (await ping()) === 'HTTP/1.1 503 Service Unavailable', { what: '/ping to fail' });
    // Still serving during the notice: a new stream opens, the held ones stay.
    const late = await openMany(cluster.port, 1);
    assert.ok(held.every((s) => !s.isClosed()));
    const { code } = await cluster.exited;
    assert.equal(code, 0);
    await waitFor(() => [...held, ...late].every((s) => s.isClosed()), { what: 'every stream ended after the notice' });
    assert.equal(await count(), 0);
  });
});

test('a second signal during the drain exits 1 at once', async () => {
  await withCluster({ DRAIN_MS: '20000', DRAIN_GRACE_MS: '20000' }, async (cluster) => {
    const streams = await openMany(cluster.port, 10);
    cluster.child.kill('SIGTERM');
    await cluster.waitForLog((l) => l.msg === 'draining' && l.role === 'primary', 'the drain to start');
    await new Promise((resolve) => setTimeout(resolve, 700));
    cluster.child.kill('SIGINT');
    const { code } = await cluster.exited;
    assert.equal(code, 1);
    assert.ok(cluster.logs.some((l) => l.msg === 'second signal while draining; exiting now'));
    for (const stream of streams) stream.close();
  });
});

test('a drain that outlasts its bound exits 1', async () => {
  // Raw clients that never close: ending their streams waits on them, past DRAIN_MS + DRAIN_GRACE_MS.
  await withCluster({ DRAIN_MS: '300', DRAIN_GRACE_MS: '200' }, async (cluster) => {
    const streams = await openMany(cluster.port, 4, { allowHalfOpen: true });
    cluster.child.kill('SIGTERM');
    const { code } = await cluster.exited;
    assert.equal(code, 1);
    assert.ok(cluster.logs.some((l) => l.msg === 'drain took too long; exiting'));
    for (const stream of streams) stream.close();
  });
});
