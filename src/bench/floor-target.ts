// The fan-out floor as a benchmark target (--compare floor): a Redis of its
// own and `processes` copies of fan-out-floor-server.js sharing the port; the
// benchmark publishes with one Redis PUBLISH an update.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIST, startRedis, started, type Started } from './server-under-test.js';
import type { Target, TargetOptions } from './targets.js';

const CHANNEL = 'bench-floor';
const START_TIMEOUT_MS = 10_000;

export async function startFloor(options: TargetOptions): Promise<Target> {
  const redis = await startRedis(options.redisPort);
  const servers: Started[] = [];
  const latest: Array<{ connections: number; heartbeats: number }> = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
    await redis.stop();
  };
  try {
    for (let i = 0; i < options.workers; i++) {
      const child = spawn(
        process.execPath,
        [path.join(DIST, 'bench/fan-out-floor-server.js'), String(options.port), String(options.heartbeatMs), String(options.redisPort), CHANNEL],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stderr?.pipe(options.log, { end: false });
      latest.push({ connections: -1, heartbeats: 0 });
      let rest = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) latest[i] = JSON.parse(line) as { connections: number; heartbeats: number };
      });
      servers.push(started(child));
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (latest.some((l) => l.connections < 0)) {
      if (servers.some((s) => s.child.exitCode !== null) || Date.now() > deadline) throw new Error('the floor servers did not start');
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const base = `http://127.0.0.1:${options.port}`;
  return {
    name: 'floor',
    streamUrl: `${base}/`,
    hubUrl: `${base}/.well-known/mercure`,
    publishRoute: () => ({ kind: 'redis', port: options.redisPort, channel: CHANNEL }),
    pingUrl: undefined,
    pids: () => ({ redis: redis.pid, ...Object.fromEntries(servers.map((s, i) => [`floor-${i + 1}`, s.pid])) }),
    connections: () => latest.reduce((sum, l) => sum + Math.max(0, l.connections), 0),
    heartbeatsWritten: () => latest.reduce((sum, l) => sum + l.heartbeats, 0),
    workerSeconds: () => [],
    stop,
  };
}
