// How connections reach the workers (src/config/accept-path.ts), on real
// clusters: with SO_REUSEPORT every worker has a listening socket of its own
// and the kernel spreads connections over them; the round-robin path stays
// available and keeps a single socket in the primary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { withCluster as withClusterIn, type TestCluster } from './helpers/cluster.js';
import { nextStatus, openSse, type RawStream } from './helpers/sse-client.js';
import { waitFor } from './helpers/wait.js';
import { defaultAcceptPath, nodeHasReusePort } from '../src/config/accept-path.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

/** The pids of the processes with a TCP socket listening on `port`, one entry per socket (ss from iproute2). */
function listeners(port: number): number[] {
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes('LISTEN'))
    .map((line) => Number(/pid=(\d+)/.exec(line)?.[1]));
}

async function openMany(port: number, n: number): Promise<RawStream[]> {
  const streams = Array.from({ length: n }, () => openSse(port));
  await waitFor(() => streams.every((s) => s.text().includes('retry:') || s.text().includes(' 503 ')), {
    what: `${n} answers`,
    timeoutMs: 30_000,
  });
  return streams;
}

async function count(): Promise<number> {
  return Number((await redis.client.get('connections')) ?? 0);
}

function withCluster(env: Record<string, string>, body: (cluster: TestCluster) => Promise<void>): Promise<void> {
  return withClusterIn(redis, { HEARTBEAT_MS: '1000', DRAIN_MS: '200', ...env }, body);
}

test('auto picks SO_REUSEPORT on Linux with Node 22.12 or later, and round-robin elsewhere', () => {
  assert.equal(defaultAcceptPath('linux', '24.11.0').path, 'reuseport');
  assert.equal(defaultAcceptPath('linux', '22.12.0').path, 'reuseport');
  assert.equal(defaultAcceptPath('linux', '22.11.0').path, 'round-robin');
  assert.match(defaultAcceptPath('linux', '20.20.2').reason, /Node 20\.20\.2 has no reusePort/);
  assert.equal(defaultAcceptPath('darwin', '24.11.0').path, 'round-robin');
  assert.match(defaultAcceptPath('win32', '24.11.0').reason, /win32 does not balance/);
  assert.equal(nodeHasReusePort('23.1.0'), true);
  assert.equal(nodeHasReusePort('23.0.0'), false);
});

test('SO_REUSEPORT: N workers show N listening sockets, and connections spread over them as evenly as a hash does', async () => {
  await withCluster({ WORKERS: '4' }, async (cluster) => {
    const started = await cluster.waitForLog((l) => l.msg.startsWith('million-sse listening'), 'the start-up line');
    assert.equal(started.acceptPath, 'reuseport', 'the start-up line says which accept path is in use');
    assert.match(started.msg, /accept path: reuseport/);
    const status = await nextStatus(cluster.port, (s) => s.perWorker.length === 4);
    const workerPids = status.perWorker.map((w) => w.pid).sort();
    assert.deepEqual(listeners(cluster.port).sort(), workerPids, 'one listening socket per worker, none in the primary');

    const n = 4_000;
    const streams = await openMany(cluster.port, n);
    await waitFor(async () => (await count()) === n, { what: `count ${n}` });
    const spread = await nextStatus(cluster.port, (s) => s.perWorker.reduce((sum, w) => sum + w.connections, 0) === n);
    const shares = spread.perWorker.map((w) => w.connections);
    // The kernel hashes each connection's address and port pair, so a worker's
    // share is binomial: n = 4,000, p = 1/4 gives a standard deviation of
    // sqrt(n p (1 - p)) = 27.4, 2.7 % of a share. The bound is six of them
    // (a false alarm about once in 250 million runs per worker); a worker
    // left out, or a hash that favours one socket, is far outside it.
    const sd = Math.sqrt(n * 0.25 * 0.75);
    const bound = Math.ceil(6 * sd);
    for (const share of shares) assert.ok(Math.abs(share - n / 4) <= bound, `each worker holds ${n / 4} ± ${bound} (6 standard deviations): ${shares.join(', ')}`);
    for (const stream of streams) stream.close();
    await waitFor(async () => (await count()) === 0, { what: 'count 0' });
  });
});

test("SO_REUSEPORT: a SIGKILLed worker's replacement listens again, and the count stays exact", async () => {
  await withCluster({ WORKERS: '2' }, async (cluster) => {
    const streams = await openMany(cluster.port, 400);
    const status = await nextStatus(cluster.port, (s) => s.connections === 400 && s.perWorker.length === 2);
    const [victim, survivor] = status.perWorker as [(typeof status.perWorker)[0], (typeof status.perWorker)[0]];
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(async () => (await count()) === survivor.connections, { what: "the victim's share to leave the count" });
    // The replacement binds its own socket on the same port.
    await waitFor(() => listeners(cluster.port).length === 2 && !listeners(cluster.port).includes(victim.pid), {
      what: 'two listening sockets again, the replacement among them',
      timeoutMs: 10_000,
    });
    const more = await openMany(cluster.port, 400);
    const expected = survivor.connections + 400;
    await waitFor(async () => (await count()) === expected, { what: `count ${expected}` });
    const after = await nextStatus(cluster.port, (s) => s.connections === expected && s.perWorker.length === 2);
    assert.ok(after.perWorker.every((w) => w.connections > 0), 'the replacement takes new connections');
    for (const stream of [...streams, ...more]) stream.close();
    await waitFor(async () => (await count()) === 0, { what: 'count 0' });
  });
});

test('SO_REUSEPORT: the per-worker cap still answers 503 with Retry-After', async () => {
  await withCluster({ WORKERS: '2', MAX_CONNECTIONS_PER_WORKER: '5' }, async (cluster) => {
    const streams = await openMany(cluster.port, 40);
    const held = streams.filter((s) => s.text().startsWith('HTTP/1.1 200'));
    const refused = streams.filter((s) => s.text().startsWith('HTTP/1.1 503'));
    assert.equal(held.length, 10, `two workers hold five each: ${JSON.stringify(streams.map((s) => s.text().slice(0, 12)))}`);
    assert.equal(refused.length, 30);
    assert.match(refused[0]!.text(), /retry-after: \d+/i);
    await waitFor(async () => (await count()) === 10, { what: 'count 10' });
    for (const stream of streams) stream.close();
  });
});

test('ACCEPT_PATH=round-robin: one listening socket, in the primary, and both workers hold a share', async () => {
  await withCluster({ WORKERS: '2', ACCEPT_PATH: 'round-robin' }, async (cluster) => {
    await cluster.waitForLog((l) => l.acceptPath === 'round-robin', 'the start-up line');
    assert.deepEqual(listeners(cluster.port), [cluster.child.pid]);
    const streams = await openMany(cluster.port, 200);
    const status = await nextStatus(cluster.port, (s) => s.connections === 200);
    assert.ok(status.perWorker.every((w) => w.connections > 0), 'both workers hold a share');
    for (const stream of streams) stream.close();
  });
});
