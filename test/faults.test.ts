// Faults, repeated: workers SIGKILLed during a ramp, Redis SIGKILLed while
// clients come and go, and a rolling restart (SIGHUP) under a client that
// connects throughout. Each loop is bounded in count and time; each ends with
// the count in Redis compared with what the clients really hold. Then Redis
// away past a lease, and Redis stopped (alive, answering nothing).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventSource } from 'eventsource';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, startRedisProcess, type TestRedis } from './helpers/redis.js';
import { childPids, startCluster, withCluster as withClusterIn, type TestCluster } from './helpers/cluster.js';
import { nextStatus, openSse, rawRequest, statusEvents, type RawStream } from './helpers/sse-client.js';
import { freePort, waitFor } from './helpers/wait.js';
import { seeded } from './helpers/seeded.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

function withCluster(env: Record<string, string>, body: (cluster: TestCluster) => Promise<void>): Promise<void> {
  return withClusterIn(redis, env, body);
}

async function count(): Promise<number | null> {
  const value = await redis.client.get('connections').catch(() => null);
  return value === null ? null : Number(value);
}

async function countIs(expected: () => number, what: string, timeoutMs = 8_000): Promise<void> {
  let last: number | null = null;
  await waitFor(async () => (last = await count()) === expected(), { what: () => `${what}: count ${expected()} (last ${last})`, timeoutMs });
}

function workerPids(cluster: TestCluster): number[] {
  // The cluster counts in the test's Redis: the primary's only children are its workers.
  return childPids(cluster.child.pid!);
}

/** Open, or closed for good; a stream still waiting for its head is neither. */
const settled = (s: RawStream): boolean => s.isClosed() || s.text().includes('retry:');
const held = (streams: RawStream[]): number => streams.filter((s) => !s.isClosed()).length;

test('workers SIGKILLed at random during a ramp of 3,000 connections: the count is exact once the ramp ends', async () => {
  await withCluster({ WORKERS: '3' }, async (cluster) => {
    const random = seeded(9);
    const streams: RawStream[] = [];
    let kills = 0;
    let killing = true;
    // A kill every 400-800 ms, of whichever worker the dice pick (a fresh replacement included).
    const killer = (async () => {
      while (killing) {
        await sleep(400 + random() * 400);
        const pids = workerPids(cluster);
        if (!killing || pids.length === 0) continue;
        try {
          process.kill(pids[Math.floor(random() * pids.length)]!, 'SIGKILL');
          kills++;
        } catch {
          // It had just died.
        }
      }
    })();
    // About 1,000 a second, in steps of 50.
    for (let i = 0; i < 3_000; i += 50) {
      for (let j = 0; j < 50; j++) streams.push(openSse(cluster.port));
      await sleep(50);
    }
    killing = false;
    await killer;
    await waitFor(() => streams.every(settled), { what: 'every connection to be answered or closed', timeoutMs: 20_000 });
    // Every worker back, and every killed worker's clients told by their closed socket.
    await nextStatus(cluster.port, (s) => s.workers === 3, 20_000);
    await sleep(500);
    assert.ok(kills >= 4, `${kills} workers killed during the ramp`);
    assert.ok(held(streams) > 0 && held(streams) < 3_000, `some streams died with their worker, some live: ${held(streams)} held`);
    await countIs(() => held(streams), `after ${kills} kills`);
    for (const stream of streams) stream.close();
    await countIs(() => 0, 'after everyone left');
  });
});

test('Redis SIGKILLed and restarted five times while clients connect and leave: the count is exact at the end', async () => {
  await withCluster({}, async (cluster) => {
    const random = seeded(5);
    const streams: RawStream[] = [];
    const leave = (n: number): void => {
      // `destroyed` at once; the 'close' event (isClosed) comes a tick later.
      const open = streams.filter((s) => !s.socket.destroyed);
      for (let i = 0; i < n && open.length > 0; i++) open.splice(Math.floor(random() * open.length), 1)[0]!.close();
    };
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 40; i++) streams.push(openSse(cluster.port));
      leave(15);
      await redis.kill();
      // While it is down: more come, some go.
      for (let i = 0; i < 20; i++) streams.push(openSse(cluster.port));
      leave(10);
      await sleep(200 + random() * 500);
      await redis.restart();
      await sleep(random() * 500);
    }
    await waitFor(() => streams.every(settled), { what: 'every connection answered or closed' });
    assert.equal(held(streams), 5 * (40 + 20 - 25));
    await countIs(() => held(streams), 'after five Redis deaths');
    for (const stream of streams) stream.close();
    await countIs(() => 0, 'after everyone left');
  });
});

/** One fresh connection asking for a stream: 'open' when it got its head, else what it got instead. */
async function connectOnce(port: number): Promise<string> {
  const stream = rawRequest(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
  try {
    await Promise.race([stream.waitForText('retry:', 5_000), stream.closed]);
  } catch {
    // No head within 5 s: reported below.
  }
  stream.close();
  const text = stream.text();
  return text.includes('retry:') ? 'open' : text === '' ? 'closed without an answer' : text.split('\r\n')[0]!;
}

const MIGRATE_REQ = '/proc/sys/net/ipv4/tcp_migrate_req';

/**
 * Runs `body` with the kernel setting at `file` set to `value`, and puts it
 * back however the test ends: the setting is the whole machine's (its network
 * namespace's), shared with whatever else runs there. Not written at all when
 * it already has the value; put back on exit too, should the run be cut short.
 */
async function withSysctl(file: string, value: string, body: () => Promise<void>): Promise<void> {
  const before = readFileSync(file, 'latin1').trim();
  if (before === value) return body();
  const restore = (): void => writeFileSync(file, before);
  writeFileSync(file, value);
  process.once('exit', restore);
  try {
    await body();
  } finally {
    process.off('exit', restore);
    restore();
  }
}

test('SIGHUP replaces the workers one at a time: a client connecting throughout is never refused, and the count never falls below what is held', async () => {
  const HELD = 60;
  const sources: EventSource[] = [];
  try {
    // What scripts/tune-os.sh sets: a closed worker's queued connections go to the others.
    await withSysctl(MIGRATE_REQ, '1', () => withCluster({ WORKERS: '3', DRAIN_MS: '1000', RETRY_MS: '200' }, async (cluster) => {
      const url = `http://127.0.0.1:${cluster.port}/`;
      // When each client's current stream opened; null while it is reconnecting.
      const openSince: Array<number | null> = new Array(HELD).fill(null);
      const gaveUp: string[] = [];
      for (let i = 0; i < HELD; i++) {
        const source = new EventSource(url);
        source.onopen = () => (openSince[i] = performance.now());
        source.onerror = (event) => {
          openSince[i] = null;
          // EventSource retries a dropped stream by itself; an HTTP error ends it for good.
          if (source.readyState === EventSource.CLOSED) gaveUp.push(`client ${i}: ${event.message ?? 'closed'}`);
        };
        sources.push(source);
      }
      await waitFor(() => openSince.every((t) => t !== null), { what: `${HELD} streams open` });
      const first = await nextStatus(cluster.port, (s) => s.workers === 3 && s.connections === HELD);
      const oldPids = first.perWorker.map((w) => w.pid);

      // The count, each second, against the streams open for the 2.5 s before
      // it (a worker reports each second, the primary reads Redis each second).
      const belowHeld: string[] = [];
      const watcher = new EventSource(`http://127.0.0.1:${cluster.port}/status_watcher`);
      watcher.onmessage = (event) => {
        const now = performance.now();
        const status = JSON.parse(event.data as string) as { connections: number | null };
        const surelyHeld = openSince.filter((t) => t !== null && now - t >= 2_500).length;
        if (status.connections !== null && status.connections < surelyHeld) belowHeld.push(`${status.connections} < ${surelyHeld}`);
      };

      // Eight clients connecting back to back: hundreds of new connections a
      // second, some of them reaching a worker in the instant it starts to drain.
      const attempts: string[] = [];
      let connecting = true;
      const connector = Promise.all(
        Array.from({ length: 8 }, async () => {
          while (connecting) attempts.push(await connectOnce(cluster.port));
        }),
      );

      cluster.child.kill('SIGHUP');
      await cluster.waitForLog((l) => l.msg === 'rolling restart done', 'the rolling restart to finish', 60_000);
      await sleep(1_000);
      connecting = false;
      await connector;

      const refused = attempts.filter((a) => a !== 'open');
      assert.ok(attempts.length >= 500, `${attempts.length} connections tried during the roll`);
      assert.deepEqual(refused, [], `${refused.length} of ${attempts.length} refused`);
      const rolled = await nextStatus(cluster.port, (s) => s.workers === 3 && s.perWorker.every((w) => !oldPids.includes(w.pid)), 15_000);
      assert.equal(rolled.perWorker.length, 3);
      await waitFor(() => openSince.every((t) => t !== null), { what: 'every client back on a new worker' });
      await countIs(() => HELD, 'after the roll');
      watcher.close();
      assert.deepEqual(gaveUp, []);
      assert.deepEqual(belowHeld, []);
      const replaced = cluster.logs.filter((l) => l.msg === 'rolling restart: worker replaced');
      assert.equal(replaced.length, 3);
      assert.ok(!cluster.logs.some((l) => /restarting$/.test(l.msg)), 'no worker died: each was drained');
    }));
  } finally {
    for (const source of sources) source.close();
  }
});

test('a hangup of the whole process group (a terminal closing) costs no stream: the workers ignore it, the primary rolls', async () => {
  const HELD = 50;
  const sources: EventSource[] = [];
  // Its own process group, as a shell gives it: the test signals the group, as a terminal does.
  await redis.client.flushall();
  const cluster = await startCluster({ REDIS_URL: redis.url, HEARTBEAT_MS: '500', DRAIN_MS: '500', RETRY_MS: '200' }, true);
  try {
    const url = `http://127.0.0.1:${cluster.port}/`;
    const open: boolean[] = new Array(HELD).fill(false);
    const gaveUp: string[] = [];
    for (let i = 0; i < HELD; i++) {
      const source = new EventSource(url);
      source.onopen = () => (open[i] = true);
      source.onerror = () => {
        open[i] = false;
        if (source.readyState === EventSource.CLOSED) gaveUp.push(`client ${i}`);
      };
      sources.push(source);
    }
    await waitFor(() => open.every(Boolean), { what: `${HELD} streams open` });
    const before = await nextStatus(cluster.port, (s) => s.workers === 2 && s.connections === HELD);
    process.kill(-cluster.child.pid!, 'SIGHUP');
    const done = await cluster.waitForLog((l) => l.msg === 'rolling restart done', 'the primary to roll the workers', 30_000);
    assert.equal(done.replaced, 2);
    assert.equal(cluster.child.exitCode, null, 'the primary runs on');
    assert.ok(!cluster.logs.some((l) => /killed by SIGHUP/.test(l.msg)), 'no worker was killed by the hangup');
    const after = await nextStatus(cluster.port, (s) => s.workers === 2 && s.perWorker.every((w) => !before.perWorker.some((o) => o.pid === w.pid)));
    assert.equal(after.perWorker.length, 2);
    await waitFor(() => open.every(Boolean), { what: 'every client back on a new worker' });
    await countIs(() => HELD, 'after the hangup');
    assert.deepEqual(gaveUp, []);
  } finally {
    for (const source of sources) source.close();
    await cluster.stop();
  }
});

test('Redis away for longer than a lease and back with its data: no live host is reaped, and the count never falls', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'msse-lease-'));
  const port = await freePort();
  // Its data on disk: SHUTDOWN SAVE writes it, and a restart loads it, less the leases that expired meanwhile.
  const args = ['--port', String(port), '--dir', dir, '--dbfilename', 'dump.rdb'];
  let server = await startRedisProcess(args);
  const admin = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 100 });
  admin.on('error', () => undefined);
  const env = { REDIS_URL: `redis://127.0.0.1:${port}`, LEASE_MS: '6000', HEARTBEAT_MS: '1000' };
  const hosts = [await startCluster({ ...env, HOST_ID: 'lease-a' }), await startCluster({ ...env, HOST_ID: 'lease-b' })];
  const streams: RawStream[] = [];
  try {
    for (let i = 0; i < 50; i++) streams.push(openSse(hosts[i % 2]!.port));
    await waitFor(async () => (await admin.get('connections')) === '50', { what: 'both hosts counted' });
    await admin.call('SHUTDOWN', 'SAVE').catch(() => undefined); // the connection closes before any reply
    const { child } = server;
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    await sleep(7_000); // past every lease: none could be renewed
    // lease-b's workers come back later than the primaries (here: frozen for
    // the first 1.5 s), so neither primary may take lease-b's expired lease
    // for a dead host: they reap only a lease after they reconnect.
    const late = workerPids(hosts[1]!);
    for (const pid of late) process.kill(pid, 'SIGSTOP');
    server = await startRedisProcess(args);
    await sleep(1_500);
    for (const pid of late) process.kill(pid, 'SIGCONT');
    const seen = new Set<string>();
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const [total, gone] = await Promise.all([admin.get('connections').catch(() => null), admin.llen('connections:gone').catch(() => null)]);
      if (total !== null) seen.add(`count ${total}, gone ${gone}`);
      await sleep(100);
    }
    assert.deepEqual([...seen], ['count 50, gone 0'], 'the count in Redis from its return on');
    for (const host of hosts) assert.ok(!host.logs.some((l) => l.msg === 'removed the share of hosts whose lease expired'), 'no host reaped');
  } finally {
    for (const stream of streams) stream.close();
    for (const host of hosts) await host.stop();
    admin.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('Redis that stops answering (SIGSTOP): the feed goes on each second and says Redis is down, every process reconnects, and once Redis answers again the count is exact', async () => {
  const port = await freePort();
  const server = await startRedisProcess(['--port', String(port)]);
  const admin = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 100, commandTimeout: 500 });
  admin.on('error', () => undefined);
  const host = await startCluster({ REDIS_URL: `redis://127.0.0.1:${port}`, HEARTBEAT_MS: '1000', REDIS_COMMAND_TIMEOUT_MS: '500' });
  const streams: RawStream[] = [];
  let feed: RawStream | undefined;
  try {
    for (let i = 0; i < 20; i++) streams.push(openSse(host.port));
    await waitFor(async () => (await admin.get('connections')) === '20', { what: 'the streams counted' });
    feed = openSse(host.port, '/status_watcher');
    await sleep(1_500);
    const before = statusEvents(feed).length;
    process.kill(server.child.pid!, 'SIGSTOP');
    const stoppedAt = Date.now();
    await sleep(6_000);
    // The connections stay open and 'ready' the whole time: only the
    // unanswered commands can tell.
    const during = statusEvents(feed).slice(before);
    assert.ok(during.length >= 4, `the feed went on while Redis was stopped: ${during.length} events in 6 s`);
    const down = during.find((e) => e.redis === 'down');
    assert.ok(down !== undefined && down.ts - stoppedAt < 3_000, `said down ${down === undefined ? 'never' : `${down.ts - stoppedAt} ms after the stop`}`);
    assert.equal(down.connections, null);
    assert.equal(down.host.connections, 20, "this host's own count, from its workers");
    const reconnecting = host.logs.filter((l) => l.msg === 'redis answered none of the last commands in time; reconnecting');
    assert.deepEqual([...new Set(reconnecting.map((l) => (l.role === 'worker' ? `worker ${String(l.worker)}` : String(l.role))))].sort(), ['primary', 'worker 1', 'worker 2']);
    process.kill(server.child.pid!, 'SIGCONT');
    const back = await nextStatus(host.port, (e) => e.redis === 'up' && e.connections === 20, 10_000);
    assert.equal(back.host.connections, 20);
    assert.equal(await admin.get('connections'), '20');
    assert.equal(streams.filter((s) => s.isClosed()).length, 0, 'no stream was lost');
  } finally {
    if (server.child.exitCode === null) process.kill(server.child.pid!, 'SIGCONT');
    feed?.close();
    for (const stream of streams) stream.close();
    await host.stop();
    admin.disconnect();
    await server.stop();
  }
});
