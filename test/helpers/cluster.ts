// The real cluster, started as a child process (`node dist/primary.js`), as a
// user or pm2 would start it. Tests read its JSON log lines and its status feed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './wait.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PRIMARY = path.join(ROOT, 'dist/primary.js');

export interface LogLine {
  level: number;
  msg: string;
  role?: string;
  [key: string]: unknown;
}

export interface TestCluster {
  port: number;
  child: ChildProcess;
  logs: LogLine[];
  /** Everything the process wrote to stderr that was not a JSON log line. */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  stop(): Promise<void>;
}

/** `ownGroup`: start it in its own process group, as a shell does, so a test can signal the whole group like Ctrl-C. */
export function runPrimary(env: Record<string, string>, ownGroup = false): TestCluster {
  const child = spawn(process.execPath, [PRIMARY], {
    cwd: ROOT,
    detached: ownGroup,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let rest = '';
  let stderr = '';
  const take = (chunk: Buffer): void => {
    rest += chunk.toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        stderr += `${line}\n`;
      }
    }
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const cluster: TestCluster = {
    port: Number(env.PORT),
    child,
    logs,
    stderr: () => stderr,
    exited,
    async waitForLog(match, what, timeoutMs = 15_000) {
      let found: LogLine | undefined;
      await waitFor(() => (found = logs.find(match)) !== undefined, { what, timeoutMs });
      return found!;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  return cluster;
}

/**
 * Runs `body` against a fresh cluster counting in `redis` (flushed first),
 * with short heartbeats and drains unless `env` says otherwise, and stops it
 * whatever happens.
 */
export async function withCluster(
  redis: { url: string; client: { flushall(): Promise<unknown> } },
  env: Record<string, string>,
  body: (cluster: TestCluster) => Promise<void>,
): Promise<void> {
  await redis.client.flushall();
  const cluster = await startCluster({ REDIS_URL: redis.url, HEARTBEAT_MS: '500', DRAIN_MS: '500', ...env });
  try {
    await body(cluster);
  } finally {
    await cluster.stop();
  }
}

/** Starts the cluster and waits until every worker listens. */
export async function startCluster(env: Record<string, string>, ownGroup = false): Promise<TestCluster> {
  const port = env.PORT ?? String(await freePort());
  const cluster = runPrimary({ WORKERS: '2', HOST: '127.0.0.1', ...env, PORT: port }, ownGroup);
  try {
    await Promise.race([
      cluster.waitForLog((l) => l.msg.startsWith('million-sse listening'), 'the cluster to listen', 20_000),
      cluster.exited.then(({ code }) => {
        throw new Error(`the primary exited with ${code} before listening:\n${cluster.stderr()}\n${JSON.stringify(cluster.logs)}`);
      }),
    ]);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** The processes `pid` started (for the primary: its workers, and the Redis it runs), in order; none once it is gone. */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'latin1' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0)
      .sort((x, y) => x - y);
  } catch {
    return [];
  }
}
