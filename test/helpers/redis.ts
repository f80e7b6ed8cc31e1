// A real redis-server for a test, from the repo's redis.conf, on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { REDIS_CONF, startRedisServer } from '../../src/cluster/redis-launcher.js';
import { freePort, waitFor } from './wait.js';

export interface TestRedis {
  port: number;
  url: string;
  client: Redis;
  /** SIGKILLs the server. */
  kill(): Promise<void>;
  /**
   * Starts it again on the same port: empty, or with `keepData` from its
   * append-only file (what it had written to disk before it stopped).
   */
  restart(options?: { keepData?: boolean }): Promise<void>;
  /** Stops it as SHUTDOWN does: everything written to disk first. */
  shutdown(): Promise<void>;
  stop(): Promise<void>;
}

/** A folder of its own for each Redis's append-only file. */
export function freshDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'msse-test-redis-'));
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let dir = freshDir();
  let child = await startRedisServer(port, { dir });
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: false, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async restart({ keepData = false } = {}) {
      if (!keepData) dir = freshDir();
      child = await startRedisServer(port, { dir });
      await waitFor(() => client.status === 'ready', { what: 'test client reconnected to redis' });
    },
    async shutdown() {
      child.kill('SIGTERM');
      await exited(child);
    },
    async stop() {
      client.disconnect();
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}

export interface RedisProcess {
  child: ChildProcess;
  /** Everything it wrote so far (its log goes to stdout). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * redis-server from the repo's redis.conf with `args` after it (a password, a
 * TLS port, `--port 0`), for tests that need a Redis set up differently.
 * Resolves once it logs that it accepts connections: a TLS-only Redis answers
 * no plain PING to poll for.
 */
export function startRedisProcess(args: readonly string[], timeoutMs = 10_000): Promise<RedisProcess> {
  return new Promise((resolve, reject) => {
    // A copy of redis.conf in the server's own folder: a Sentinel that
    // reconfigures a server makes it rewrite its configuration file
    // (CONFIG REWRITE), which must never be the repository's.
    const dir = freshDir();
    const conf = path.join(dir, 'redis.conf');
    copyFileSync(REDIS_CONF, conf);
    const child = spawn('redis-server', [conf, ...(args.includes('--dir') ? [] : ['--dir', dir]), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server ${args.join(' ')} was not ready within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`redis-server ${args.join(' ')} exited with ${code}:\n${output}`));
    };
    const take = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!ready && /Ready to accept connections/.test(output)) {
        ready = true;
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve({
          child,
          output: () => output,
          async stop() {
            child.kill('SIGKILL');
            await exited(child);
          },
        });
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', onExit);
  });
}
