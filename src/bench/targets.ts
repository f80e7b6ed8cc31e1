// The servers a benchmark can measure, behind one interface: million-sse (the
// cluster with its Redis) and the bare node:net loop it is compared with.
import { spawn } from 'node:child_process';
import type { WriteStream } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StatusFollower } from './status-follower.js';
import { DIST, startCluster, startRedis, started } from './server-under-test.js';

export interface Target {
  name: 'million-sse' | 'bare-node-net';
  /** The SSE stream the load generator opens. */
  streamUrl: string;
  /** GET /ping, where the target has one. */
  pingUrl: URL | undefined;
  /** Every process of the server, by name; its memory and CPU are charged to the server. */
  pids(): Record<string, number>;
  /** Connections the server counts now (million-sse: the count in Redis). */
  connections(): number | null;
  /** Heartbeats the server has written so far. */
  heartbeatsWritten(): number;
  stop(): Promise<void>;
}

export interface TargetOptions {
  port: number;
  workers: number;
  heartbeatMs: number;
  expectedConnections: number;
  redisPort: number;
  log: WriteStream;
  /** Extra server environment (TICK_PHASE, ACCEPT_PATH). */
  env?: Record<string, string>;
}


export async function startMillionSse(options: TargetOptions): Promise<Target> {
  const redis = await startRedis(options.redisPort);
  const cluster = startCluster(
    {
      PORT: String(options.port),
      HOST: '127.0.0.1',
      WORKERS: String(options.workers),
      REDIS_URL: `redis://127.0.0.1:${options.redisPort}`,
      HEARTBEAT_MS: String(options.heartbeatMs),
      LOG_LEVEL: 'warn',
      DRAIN_MS: '2000',
      EXPECTED_CONNECTIONS: String(options.expectedConnections),
      ...options.env,
    },
    options.log,
  );
  const base = `http://127.0.0.1:${options.port}`;
  const status = new StatusFollower(new URL('/status_watcher', base));
  status.start();
  const stopAll = async (): Promise<void> => {
    status.stop();
    await cluster.stop('SIGTERM');
    await redis.stop('SIGTERM');
  };
  try {
    await status.waitFor((s) => s.workers === options.workers && s.redis === 'up', 120_000, `${options.workers} workers and Redis`);
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    name: 'million-sse',
    streamUrl: `${base}/`,
    pingUrl: new URL('/ping', base),
    pids() {
      const pids: Record<string, number> = { primary: cluster.pid, redis: redis.pid };
      for (const worker of status.latest?.perWorker ?? []) pids[`worker-${worker.id}`] = worker.pid;
      return pids;
    },
    connections: () => status.latest?.connections ?? null,
    heartbeatsWritten: () => status.latest?.totals.heartbeats ?? 0,
    stop: stopAll,
  };
}

export async function startBare(options: TargetOptions): Promise<Target> {
  const child = spawn(process.execPath, [path.join(DIST, 'bench/bare-sse-server.js'), String(options.port), String(options.heartbeatMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.pipe(options.log, { end: false });
  let latest = { connections: -1, heartbeats: 0 };
  let rest = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) latest = JSON.parse(line) as typeof latest;
  });
  const deadline = Date.now() + 10_000;
  while (latest.connections < 0) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('the bare server did not start');
    await sleep(100);
  }
  const server = started(child);
  return {
    name: 'bare-node-net',
    streamUrl: `http://127.0.0.1:${options.port}/`,
    pingUrl: undefined,
    pids: () => ({ server: server.pid }),
    connections: () => latest.connections,
    heartbeatsWritten: () => latest.heartbeats,
    stop: async () => {
      await server.stop();
    },
  };
}
