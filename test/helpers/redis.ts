// A real redis-server for a test, from the repo's redis.conf, on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { REDIS_CONF, answersPing } from '../../src/cluster/redis-launcher.js';
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

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', [REDIS_CONF, '--port', String(port)], { stdio: 'ignore' });
  await waitFor(() => answersPing(port), { what: `redis-server on port ${port}` });
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child = await launch(port);
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
      child = await launch(port);
      await waitFor(() => client.status === 'ready', { what: 'test client reconnected to redis' });
    },
    async stop() {
      client.disconnect();
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
