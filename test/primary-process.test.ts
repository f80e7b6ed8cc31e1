// The primary as a process: bad configuration, and the Redis it finds or starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { childPids, runPrimary, startCluster } from './helpers/cluster.js';
import { openSse } from './helpers/sse-client.js';
import { freePort, waitFor } from './helpers/wait.js';
import { answersPing } from '../src/cluster/redis-launcher.js';
import { freshDir, startRedis } from './helpers/redis.js';

test('a bad value stops start-up with exit 1 and a message naming the variable and the value', async () => {
  const primary = runPrimary({ PORT: 'eighty', WORKERS: '1' });
  const { code } = await primary.exited;
  assert.equal(code, 1);
  assert.ok(primary.logs.some((l) => l.level === 60 && l.msg === 'PORT="eighty" is not valid: expected a whole number from 0 to 65535'), JSON.stringify(primary.logs));
});

test('without REDIS_URL and with nothing on the port, the primary runs redis-server from redis.conf and supervises it', async () => {
  const redisPort = await freePort();
  const cluster = await startCluster({ MANAGED_REDIS_PORT: String(redisPort), MANAGED_REDIS_DIR: freshDir(), WORKERS: '1', DRAIN_MS: '200' });
  try {
    const started = await cluster.waitForLog((l) => l.msg === 'started redis-server', 'the start log line');
    assert.match(String(started.conf), /redis\.conf$/);
    const client = new Redis({ port: redisPort, lazyConnect: true, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    await client.connect();
    const stream = openSse(cluster.port);
    await waitFor(async () => (await client.get('connections')) === '1', { what: 'the count in the managed Redis' });
    // It dies; the primary starts it again and the workers put the count back.
    process.kill(Number(started.redisPid), 'SIGKILL');
    await cluster.waitForLog((l) => l.msg === 'redis-server exited; restarting it', 'the restart log line');
    await cluster.waitForLog((l) => l.msg === 'redis-server restarted', 'the restarted log line');
    await waitFor(async () => (await client.get('connections').catch(() => null)) === '1', { what: 'the count after the restart' });
    stream.close();
    client.disconnect();
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
    assert.equal(await answersPing(redisPort), false, 'the managed redis-server stops with the primary');
  } finally {
    await cluster.stop();
  }
});

test('Ctrl-C (SIGINT to the whole process group) drains cleanly: the managed Redis outlives the drain', async () => {
  const redisPort = await freePort();
  // A drain long enough for a signalled Redis to be gone before it ends.
  const cluster = await startCluster({ MANAGED_REDIS_PORT: String(redisPort), MANAGED_REDIS_DIR: freshDir(), WORKERS: '2', DRAIN_MS: '1500' }, true);
  try {
    const stream = openSse(cluster.port);
    await stream.waitForText('retry:');
    process.kill(-cluster.child.pid!, 'SIGINT');
    assert.equal((await cluster.exited).code, 0);
    await stream.closed;
    const messages = cluster.logs.map((l) => l.msg);
    assert.ok(!messages.includes('redis-server exited; restarting it'), 'Redis was not hit by the terminal signal');
    assert.ok(!messages.some((m) => m.startsWith('could not remove')), "the host's count was removed");
    assert.equal(await answersPing(redisPort), false, 'the managed redis-server stops with the primary');
  } finally {
    await cluster.stop();
  }
});

test('without redis-server installed, the primary exits 1 and says how to install it', async () => {
  const primary = runPrimary({ PATH: '/nonexistent', MANAGED_REDIS_PORT: String(await freePort()), WORKERS: '1' });
  assert.equal((await primary.exited).code, 1);
  const fatal = primary.logs.find((l) => l.level === 60);
  assert.match(fatal?.msg ?? '', /redis-server is not installed.*apt-get install -y redis-server/);
});

test('with REDIS_URL set it never starts a Redis; it warns when the workers cannot hold EXPECTED_CONNECTIONS', async () => {
  const redis = await startRedis();
  const cluster = await startCluster({ REDIS_URL: redis.url, WORKERS: '1', MAX_CONNECTIONS_PER_WORKER: '1000', EXPECTED_CONNECTIONS: '5000' });
  try {
    assert.ok(!cluster.logs.some((l) => l.msg === 'started redis-server'));
    const warning = cluster.logs.find((l) => l.level === 40 && /fewer than EXPECTED_CONNECTIONS/.test(l.msg));
    assert.ok(warning, 'a capacity warning');
  } finally {
    await cluster.stop();
    await redis.stop();
  }
});

/** Alive, and not a zombie waiting for whoever adopted it to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

test('the primary SIGKILLed: its workers and its managed redis-server are gone within 10 s', async () => {
  const redisPort = await freePort();
  const cluster = await startCluster({ MANAGED_REDIS_PORT: String(redisPort), MANAGED_REDIS_DIR: freshDir(), WORKERS: '2' }, true);
  try {
    await cluster.waitForLog((l) => l.msg === 'started redis-server', 'the start log line');
    const stream = openSse(cluster.port);
    await stream.waitForText('retry:');
    // Everything it started: two workers, redis-server and the guard watching over it.
    const children = childPids(cluster.child.pid!);
    assert.equal(children.length, 4, `two workers, redis-server and its guard: ${children.join(', ')}`);
    cluster.child.kill('SIGKILL');
    await cluster.exited;
    await waitFor(() => children.every((pid) => !alive(pid)), { what: 'every process the primary started to end', timeoutMs: 10_000 });
    assert.equal(await answersPing(redisPort), false, 'nothing answers on the managed Redis port');
    await stream.closed;
  } finally {
    await cluster.stop();
  }
});
