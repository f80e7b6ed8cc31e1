// Starts the pieces a benchmark measures: a redis-server from redis.conf and
// the cluster (node dist/primary.js), with their output in a log file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REDIS_CONF, answersPing } from '../cluster/redis-launcher.js';

export const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Started {
  child: ChildProcess;
  pid: number;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function started(child: ChildProcess): Started {
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

export async function startRedisServer(port: number, log: WriteStream): Promise<Started> {
  const child = spawn('redis-server', [REDIS_CONF, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const deadline = Date.now() + 10_000;
  while (!(await answersPing(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}; see the log`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return started(child);
}

export function startCluster(env: Record<string, string>, log: WriteStream): Started {
  const child = spawn(process.execPath, [path.join(DIST, 'primary.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  return started(child);
}

export function openLog(file: string): WriteStream {
  return createWriteStream(file, { flags: 'a' });
}
