// The hub's guarantee under faults, with real processes: an update answered
// 200 reaches every subscriber that was connected when it was published, live
// or by replay once the subscriber reconnects with its last id: none lost,
// none twice, in order. Faults: a worker SIGKILLed, Redis SIGKILLed and
// started again from its append-only file, and a Sentinel failover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventSource } from 'eventsource';
import { Redis } from 'ioredis';
import { childPids, startCluster } from './helpers/cluster.js';
import { startRedis, startRedisProcess } from './helpers/redis.js';
import { freePort, waitFor } from './helpers/wait.js';
import { hubEnv, publish, publisherToken, subscribe } from './helpers/mercure.js';

/** A subscriber that reconnects by itself with Last-Event-ID, as a browser's EventSource does. */
function follower(port: number, topic: string): { ids: string[]; errors: number; close(): void; opened: Promise<void> } {
  const source = new EventSource(`http://127.0.0.1:${port}/.well-known/mercure?match=${encodeURIComponent(topic)}`);
  const state = { ids: [] as string[], errors: 0, close: () => source.close(), opened: new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true })) };
  source.addEventListener('message', (event) => state.ids.push(event.lastEventId));
  source.addEventListener('error', () => state.errors++);
  return state;
}

/** Publishes `count` updates one after the other with ids `${prefix}-n`; returns the ids answered 200, in order. */
async function publishMany(port: number, topic: string, prefix: string, count: number, pub: string, between = 0): Promise<string[]> {
  const acked: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    const result = await publish(port, [['topic', topic], ['id', id], ['data', id]], pub, { connection: 'close' }).catch(() => undefined);
    if (result?.status === 200) acked.push(id);
    else assert.ok(result === undefined || result.status === 503, `a failed publish is a 503 or a cut connection, not ${result?.status}`);
    if (between > 0) await sleep(between);
  }
  return acked;
}

/** Every acknowledged id, once, in order; ids not acknowledged (stored, but the answer lost) may appear too, once. */
function assertComplete(received: string[], acked: string[], what: string): void {
  assert.equal(new Set(received).size, received.length, `${what}: no update twice`);
  const seen = received.filter((id) => acked.includes(id));
  assert.deepEqual(seen, acked, `${what}: every acknowledged update, in order`);
  const order = received.map((id) => Number(id.slice(id.lastIndexOf('-') + 1)));
  assert.deepEqual(order, [...order].sort((a, b) => a - b), `${what}: in publish order`);
}

test('a worker SIGKILLed while updates flow: its subscribers reconnect to the other with their last id and miss nothing', async () => {
  const redis = await startRedis();
  const cluster = await startCluster(hubEnv({ REDIS_URL: redis.url, WORKERS: '2', HEARTBEAT_MS: '1000' }));
  const followers: Array<ReturnType<typeof follower>> = [];
  try {
    const pub = await publisherToken();
    const topic = 'https://example.com/sigkill';
    for (let i = 0; i < 8; i++) followers.push(follower(cluster.port, topic));
    await Promise.all(followers.map((f) => f.opened));
    const publishing = publishMany(cluster.port, topic, 'k', 120, pub, 10);
    await waitFor(() => followers.every((f) => f.ids.length >= 30), { what: '30 updates everywhere' });
    const [victim] = childPids(cluster.child.pid!);
    process.kill(victim!, 'SIGKILL');
    const acked = await publishing;
    await waitFor(() => followers.every((f) => f.ids.filter((id) => acked.includes(id)).length === acked.length), {
      what: () => `every follower to have all ${acked.length} acknowledged updates (have ${followers.map((f) => f.ids.length).join(', ')})`,
      timeoutMs: 20_000,
    });
    assert.ok(followers.some((f) => f.errors > 0), 'some followers were on the killed worker and reconnected');
    for (const [i, f] of followers.entries()) assertComplete(f.ids, acked, `follower ${i}`);
  } finally {
    for (const f of followers) f.close();
    await cluster.stop();
    await redis.stop();
  }
});

test('Redis SIGKILLed and started again from its append-only file: publishes in between are refused, acknowledged ones all arrive, the history is kept', async () => {
  const redis = await startRedis();
  const cluster = await startCluster(hubEnv({ REDIS_URL: redis.url, WORKERS: '2', HEARTBEAT_MS: '1000' }));
  try {
    const pub = await publisherToken();
    const topic = 'https://example.com/redis-restart';
    const live = subscribe(cluster.port, `match=${encodeURIComponent(topic)}`);
    await waitFor(() => live.head() !== undefined, { what: 'subscribed' });
    const before = await publishMany(cluster.port, topic, 'r', 10, pub);
    assert.equal(before.length, 10);
    // appendfsync everysec: what was acknowledged more than a second ago is on disk.
    await sleep(1_500);
    await redis.kill();
    const during = await publish(cluster.port, [['topic', topic], ['id', 'r-during'], ['data', 'x']], pub);
    assert.equal(during.status, 503, 'a publish while Redis is away is refused, not lost silently');
    await redis.restart({ keepData: true });
    let after: string[] = [];
    await waitFor(async () => (after = await publishMany(cluster.port, topic, 'r', 1, pub)).length === 1, { what: 'publishing again', timeoutMs: 15_000 });
    const rest = await publishMany(cluster.port, topic, 'r2', 9, pub);
    const acked = [...before, ...after, ...rest];
    await live.waitForEvents(acked.length, 15_000);
    assert.deepEqual(live.events().map((e) => e.id), acked, 'the live subscriber got every acknowledged update, once, in order');
    assert.equal(live.isClosed(), false, 'the stream outlived the outage');
    const replay = subscribe(cluster.port, `match=${encodeURIComponent(topic)}&last_event_id=r-0`);
    await replay.waitForEvents(acked.length - 1);
    assert.deepEqual(replay.events().map((e) => e.id), acked.slice(1), 'the history survived the restart');
    live.close();
    replay.close();
  } finally {
    await cluster.stop();
    await redis.stop();
  }
});

/** redis-sentinel from `file`, resolved once it watches its master. */
function startSentinel(file: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-sentinel', [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-sentinel did not start: ${output}`));
    }, 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('+monitor master')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('error', reject);
  });
}

test('a Sentinel failover with MERCURE_PUBLISH_REPLICAS=1: every acknowledged update was on the promoted replica and reaches the subscriber', async () => {
  const [masterPort, replicaPort, secondPort, ...sentinelPorts] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  // No wait for more replicas before a full sync: the test has both at once.
  const master = await startRedisProcess(['--port', String(masterPort), '--appendonly', 'no', '--repl-diskless-sync-delay', '0']);
  // Two replicas: after one is promoted, the other confirms writes (WAIT 1).
  const replicas = [
    await startRedisProcess(['--port', String(replicaPort), '--appendonly', 'no', '--replicaof', '127.0.0.1', String(masterPort)]),
    await startRedisProcess(['--port', String(secondPort), '--appendonly', 'no', '--replicaof', '127.0.0.1', String(masterPort)]),
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'msse-sentinel-'));
  const sentinels: ChildProcess[] = [];
  let cluster: Awaited<ReturnType<typeof startCluster>> | undefined;
  const masterClient = new Redis({ port: masterPort, lazyConnect: true });
  masterClient.on('error', () => undefined);
  try {
    await masterClient.connect();
    let replication = '';
    await waitFor(async () => /slave1:.*state=online/.test((replication = await masterClient.info('replication'))), {
      what: () => `both replicas in sync: ${replication}`,
      timeoutMs: 20_000,
    });
    masterClient.disconnect();
    for (const [i, port] of sentinelPorts.entries()) {
      const file = path.join(dir, `sentinel${i}.conf`);
      const conf = [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor hub 127.0.0.1 ${masterPort} 2`, 'sentinel down-after-milliseconds hub 1000', 'sentinel failover-timeout hub 5000'];
      writeFileSync(file, `${conf.join('\n')}\n`);
      sentinels.push(await startSentinel(file));
    }
    cluster = await startCluster(
      hubEnv({
        REDIS_SENTINELS: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
        REDIS_SENTINEL_NAME: 'hub',
        MERCURE_PUBLISH_REPLICAS: '1',
        WORKERS: '2',
        HEARTBEAT_MS: '1000',
      }),
    );
    const pub = await publisherToken();
    const topic = 'https://example.com/failover';
    const live = subscribe(cluster.port, `match=${encodeURIComponent(topic)}`);
    await waitFor(() => live.head() !== undefined, { what: 'subscribed' });
    const before = await publishMany(cluster.port, topic, 'f', 10, pub);
    assert.equal(before.length, 10);
    await master.stop();
    const sentinel = new Redis({ port: sentinelPorts[0]!, lazyConnect: true });
    await sentinel.connect();
    await waitFor(async () => ((await sentinel.call('sentinel', 'get-master-addr-by-name', 'hub')) as string[])[1] !== String(masterPort), {
      what: 'Sentinel to promote a replica',
      timeoutMs: 15_000,
    });
    sentinel.disconnect();
    // Publishes are refused (not acknowledged and then lost) until the other
    // replica follows the new master and can confirm them.
    let after: string[] = [];
    for (let round = 0; round < 60 && after.length < 10; round++) {
      after = after.concat(await publishMany(cluster.port, topic, `f${round}`, 1, pub, 250));
    }
    assert.ok(after.length >= 10, `publishing resumed after the failover (${after.length} acknowledged)`);
    const acked = [...before, ...after];
    await waitFor(() => live.events().filter((e) => acked.includes(e.id!)).length === acked.length, {
      what: () => `all ${acked.length} acknowledged updates (have ${live.events().length})`,
      timeoutMs: 15_000,
    });
    const received = live.events().map((e) => e.id!);
    assert.equal(new Set(received).size, received.length, 'no update twice');
    assert.deepEqual(received.filter((id) => acked.includes(id)), acked, 'every acknowledged update, in order');
    assert.equal(live.isClosed(), false, 'the stream outlived the failover');
    live.close();
  } finally {
    masterClient.disconnect();
    await cluster?.stop();
    for (const s of sentinels) s.kill('SIGKILL');
    await master.stop();
    for (const replica of replicas) await replica.stop();
  }
});
