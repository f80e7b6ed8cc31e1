// A real redis-server for a test, from the repo's redis.conf, on a free port.
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../src/cluster/redis-launcher.js';
import { freePort, waitFor } from './wait.js';

export interface TestRedis {
  port: number;
  url: string;
  client: Redis;
  /** SIGKILLs the server (its data is gone: redis.conf keeps none). */
  kill(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child = await startRedisServer(port);
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
    async restart() {
      child = await startRedisServer(port);
      await waitFor(() => client.status === 'ready', { what: 'test client reconnected to redis' });
    },
    async stop() {
      client.disconnect();
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
