// Finds the Redis the cluster counts in, or starts one. With REDIS_URL set it
// never starts anything. Without it, it uses whatever answers on
// 127.0.0.1:MANAGED_REDIS_PORT, and otherwise runs `redis-server redis.conf` as
// a supervised child, restarting it if it dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/config.js';
import { RedisServerMissingError } from '../errors.js';
import type { Logger } from '../logger.js';

export const REDIS_CONF = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../redis.conf');

export interface RedisHandle {
  url: string;
  /** True when this process started redis-server. */
  managed: boolean;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const RESTART_DELAY_MS = 500;

/** True when something on host:port answers a Redis PING (PONG, or NOAUTH from a protected Redis). */
export function answersPing(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString('latin1'))));
  });
}

/**
 * Runs `redis-server redis.conf` on `port` and resolves once it answers PING;
 * rejects with its last output if it exits or stays silent. The primary, the
 * benchmark and the tests all start Redis through this one function.
 * `ownProcessGroup`: Ctrl-C in a terminal signals the whole foreground group,
 * and the primary's Redis must outlive the drain that signal starts (the
 * workers report their last counts to it); the primary stops it at the end.
 */
export function startRedisServer(port: number, { ownProcessGroup = false, dir }: { ownProcessGroup?: boolean; dir: string }): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    // The append-only file goes to `dir` (redis.conf keeps the history there).
    mkdirSync(dir, { recursive: true });
    const child = spawn('redis-server', [REDIS_CONF, '--port', String(port), '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'], detached: ownProcessGroup });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-2_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new RedisServerMissingError() : err));
    child.once('exit', (code, signal) => reject(new Error(`redis-server exited at start (code ${code}, signal ${signal}): ${output.trim()}`)));
    const deadline = Date.now() + START_TIMEOUT_MS;
    const poll = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (await answersPing(port)) {
        child.removeAllListeners('exit');
        child.stdout?.off('data', collect);
        child.stderr?.off('data', collect);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      } else if (Date.now() > deadline) {
        child.kill('SIGKILL');
        reject(new Error(`redis-server did not answer on port ${port} within ${START_TIMEOUT_MS} ms: ${output.trim()}`));
      } else {
        setTimeout(() => void poll(), 50);
      }
    };
    child.once('spawn', () => void poll());
  });
}

/**
 * The managed redis-server runs in its own process group, so that Ctrl-C does
 * not stop it before the drain is done; then nothing stops it when the primary
 * dies without a chance to (SIGKILL, the OOM killer), and the next start would
 * quietly reuse it. This guard does: a shell whose stdin is a pipe from the
 * primary, which the kernel closes however the primary ends. At end of file
 * it sends redis-server SIGTERM. It is killed as soon as its redis-server
 * exits, so it never signals a process id that has been reused.
 */
function guard(server: ChildProcess): void {
  if (server.pid === undefined) return;
  const watchdog = spawn('sh', ['-c', 'read -r _; kill -TERM "$1" 2>/dev/null', 'million-sse-redis-guard', String(server.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.once('error', () => undefined);
  // Neither the guard nor its pipe keeps the primary's event loop alive.
  watchdog.unref();
  (watchdog.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  server.once('exit', () => watchdog.kill('SIGKILL'));
}

export async function ensureRedis(config: Config, logger: Logger): Promise<RedisHandle> {
  if (config.redisUrl !== undefined) {
    return { url: config.redisUrl, managed: false, stop: async () => undefined };
  }
  // The Sentinels say where the master is; the URL is only a carrier for
  // credentials, and there are none.
  if (config.redisSentinels !== undefined) {
    return { url: 'redis://sentinel-master', managed: false, stop: async () => undefined };
  }
  const port = config.managedRedisPort;
  const url = `redis://127.0.0.1:${port}`;
  if (await answersPing(port)) {
    logger.info({ redis: url }, 'using the Redis already answering on this port');
    return { url, managed: false, stop: async () => undefined };
  }

  let child = await startRedisServer(port, { ownProcessGroup: true, dir: config.managedRedisDir });
  guard(child);
  let stopping = false;
  logger.info({ redis: url, conf: REDIS_CONF, redisPid: child.pid }, 'started redis-server');

  const supervise = (current: ChildProcess): void => {
    current.once('exit', (code, signal) => {
      if (stopping) return;
      logger.warn({ code, signal, restartInMs: RESTART_DELAY_MS }, 'redis-server exited; restarting it');
      const restart = (): void => {
        startRedisServer(port, { ownProcessGroup: true, dir: config.managedRedisDir }).then(
          (next) => {
            child = next;
            guard(next);
            logger.info({ redisPid: next.pid }, 'redis-server restarted');
            supervise(next);
          },
          (err: unknown) => {
            logger.error({ err }, 'redis-server failed to restart; trying again');
            if (!stopping) setTimeout(restart, RESTART_DELAY_MS * 4);
          },
        );
      };
      setTimeout(restart, RESTART_DELAY_MS);
    });
  };
  supervise(child);

  return {
    url,
    managed: true,
    stop: () => {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}
