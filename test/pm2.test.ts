// Deploying with pm2 through ecosystem.config.cjs, with pm2's home in a temp folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './helpers/cluster.js';
import { startRedis } from './helpers/redis.js';
import { nextStatus, openSse } from './helpers/sse-client.js';
import { freePort, waitFor } from './helpers/wait.js';

const run = promisify(execFile);
const PM2 = path.join(ROOT, 'node_modules/.bin/pm2');

test('pm2 start ecosystem.config.cjs runs the cluster in fork mode, waits for ready, and stops it cleanly', async (t) => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'msse-pm2-'));
  const redis = await startRedis();
  const port = await freePort();
  const env = { ...process.env, PM2_HOME: home, PORT: String(port), HOST: '127.0.0.1', WORKERS: '2', REDIS_URL: redis.url, DRAIN_MS: '200' };
  const pm2 = (...args: string[]) => run(PM2, args, { cwd: ROOT, env, timeout: 60_000 });
  t.after(async () => {
    await pm2('kill').catch(() => undefined);
    await redis.stop();
    await rm(home, { recursive: true, force: true });
  });

  // With wait_ready, `pm2 start` returns once the primary said every worker listens.
  await pm2('start', 'ecosystem.config.cjs');
  const { stdout } = await pm2('jlist');
  const [app] = JSON.parse(stdout) as Array<{ name: string; pm2_env: { status: string; exec_mode: string } }>;
  assert.equal(app?.name, 'million-sse');
  assert.equal(app?.pm2_env.status, 'online');
  assert.equal(app?.pm2_env.exec_mode, 'fork_mode');

  const ping = await fetch(`http://127.0.0.1:${port}/ping`);
  assert.equal(ping.status, 204);
  const stream = openSse(port);
  await waitFor(async () => (await redis.client.get('connections')) === '1', { what: 'the count under pm2' });

  // The rolling restart under pm2: new workers, the same primary. (`pm2
  // reload` of a fork-mode app would restart the primary and every stream.)
  const pid = async (): Promise<number> => (JSON.parse((await pm2('jlist')).stdout) as Array<{ pid: number }>)[0]!.pid;
  const primaryPid = await pid();
  const before = await nextStatus(port, (s) => s.workers === 2);
  const oldPids = before.perWorker.map((w) => w.pid);
  await pm2('sendSignal', 'SIGHUP', 'million-sse');
  await nextStatus(port, (s) => s.workers === 2 && s.perWorker.every((w) => !oldPids.includes(w.pid)), 20_000);
  assert.equal(await pid(), primaryPid);
  await stream.closed;
  const again = openSse(port);
  await waitFor(async () => (await redis.client.get('connections')) === '1', { what: 'the count after the rolling restart' });

  // pm2 stop sends SIGINT: the cluster drains and takes its count with it.
  await pm2('stop', 'million-sse');
  await again.closed;
  await waitFor(async () => (await redis.client.get('connections')) === '0', { what: 'the count removed on stop' });
});
