// The servers a benchmark can measure, behind one interface: million-sse (the
// cluster with its Redis) and the bare node:net loop it is compared with.
import { spawn } from 'node:child_process';
import type { WriteStream } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StatusFollower } from './status-follower.js';
import type { StatusSnapshot } from '../status/status-snapshot.js';
import { DIST, startCluster, startRedis, started } from './server-under-test.js';
import type { HostsNetwork } from './hosts-network.js';
import { pidsIn } from './netns-host.js';
import type { PublishRoute } from './publisher.js';

export interface Target {
  name: 'million-sse' | 'bare-node-net' | 'million-sse-hosts' | 'nchan' | 'floor';
  /** The SSE stream the load generator opens. */
  streamUrl: string;
  /** Where the clients subscribe by topic (`match`), where the target takes updates. */
  hubUrl?: string;
  /** How the benchmark publishes to it, given the run's publisher key. */
  publishRoute?(secret: string): PublishRoute;
  /** GET /ping, where the target has one. */
  pingUrl: URL | undefined;
  /** Every process of the server, by name; its memory and CPU are charged to the server. */
  pids(): Record<string, number>;
  /** Connections the server counts now (million-sse: the count in Redis). */
  connections(): number | null;
  /** Heartbeats the server has written so far. */
  heartbeatsWritten(): number;
  /** Each worker's figures for the last second, from the status feed; empty where the server has no feed. */
  workerSeconds(): StatusSnapshot['perWorker'];
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
    hubUrl: `${base}/.well-known/mercure`,
    publishRoute: (secret) => ({ kind: 'hub', url: `${base}/.well-known/mercure`, secret }),
    pingUrl: new URL('/ping', base),
    pids() {
      const pids: Record<string, number> = { primary: cluster.pid, redis: redis.pid };
      for (const worker of status.latest?.perWorker ?? []) pids[`worker-${worker.id}`] = worker.pid;
      return pids;
    },
    connections: () => status.latest?.connections ?? null,
    heartbeatsWritten: () => status.latest?.totals.heartbeats ?? 0,
    workerSeconds: () => status.latest?.perWorker ?? [],
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
    workerSeconds: () => [],
    stop: async () => {
      await server.stop();
    },
  };
}

/**
 * The app hosts of a `--hosts` network, reached through HAProxy (see
 * hosts-network.ts). Its processes are every process of every app host, of
 * the HAProxy host and of the Redis host: what serving the streams costs,
 * proxy hop included. The count is Redis's, as every host's feed says it; the
 * heartbeats written are the sum of each host's own.
 */
export async function startHosts(network: HostsNetwork, workersPerHost: number, direct: boolean): Promise<Target> {
  const feeds = network.apps.map((app) => new StatusFollower(new URL(`http://${app}/status_watcher`)));
  for (const feed of feeds) feed.start();
  const stop = async (): Promise<void> => {
    for (const feed of feeds) feed.stop();
  };
  try {
    await Promise.all(feeds.map((feed, i) => feed.waitFor((s) => s.workers === workersPerHost && s.redis === 'up', 120_000, `app host ${i + 1}'s workers and Redis`)));
  } catch (err) {
    await stop();
    throw err;
  }
  const processes: Record<string, number> = {};
  for (const [role, namespace] of [
    ...network.hosts.map((ns, i) => [`app${i + 1}`, ns] as const),
    // --direct: HAProxy idles beside the path, and is no cost of it.
    ...(direct ? [] : [['haproxy', network.lbHost] as const]),
    ['redis', network.redisHost] as const,
  ]) {
    for (const pid of await pidsIn(namespace)) processes[`${role}:${pid}`] = pid;
  }
  const entry = direct ? network.apps[0] : network.lb;
  return {
    name: 'million-sse-hosts',
    streamUrl: `http://${entry}/`,
    pingUrl: new URL(`http://${entry}/ping`),
    pids: () => processes,
    connections: () => feeds[0]!.latest?.connections ?? null,
    heartbeatsWritten: () => feeds.reduce((sum, feed) => sum + (feed.latest?.totals.heartbeats ?? 0), 0),
    workerSeconds: () => feeds.flatMap((feed) => feed.latest?.perWorker ?? []),
    stop,
  };
}
