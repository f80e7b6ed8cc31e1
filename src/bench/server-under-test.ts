// Starts the pieces a benchmark measures: a redis-server from redis.conf and
// the cluster (node dist/primary.js), with their output in a log file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, type WriteStream } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer } from '../cluster/redis-launcher.js';
import { inheritedEnv } from '../config/bench-env.js';

export const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Started {
  child: ChildProcess;
  pid: number;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function started(child: ChildProcess): Started {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    pid: child.pid!,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A Redis of the run's own, with its append-only file in a fresh folder (nothing of an earlier run comes back). */
export async function startRedis(port: number): Promise<Started> {
  return started(await startRedisServer(port, { dir: mkdtempSync(path.join(os.tmpdir(), 'msse-bench-redis-')) }));
}

export function startCluster(env: Record<string, string>, log: WriteStream): Started {
  const child = spawn(process.execPath, [path.join(DIST, 'primary.js')], {
    env: inheritedEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  return started(child);
}

/** A port nothing listens on right now, on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function openLog(file: string): WriteStream {
  return createWriteStream(file, { flags: 'a' });
}
