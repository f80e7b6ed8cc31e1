// The one place that reads process.env for the server. Everything else gets the
// frozen Config this returns, so a bad value stops start-up here, naming the
// variable and the value it got, instead of surfacing as odd behaviour later.
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { openFileLimit } from './open-file-limit.js';
import { redactUrl } from './redact-url.js';
import { loadMercureConfig, type MercureConfig } from './mercure-config.js';
import { wholeNumber } from './whole-number.js';
import { defaultAcceptPath, nodeHasReusePort, type AcceptPath } from './accept-path.js';

export type HeartbeatKind = 'comment' | 'nul';
export type TickPhase = 'spread' | 'aligned';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly workers: number;
  /** Unset means: use 127.0.0.1:managedRedisPort, starting redis-server there if nothing answers. */
  readonly redisUrl: string | undefined;
  /**
   * REDIS_SENTINELS: the Sentinels that say which Redis is the master, and
   * follow it through a failover; REDIS_URL then only carries the user,
   * password and TLS. Undefined: REDIS_URL, or the managed Redis.
   */
  readonly redisSentinels: ReadonlyArray<{ host: string; port: number }> | undefined;
  /** REDIS_SENTINEL_NAME: the master's name in the Sentinels' configuration (`sentinel monitor <name> ...`). */
  readonly redisSentinelName: string;
  /** REDIS_CA_FILE: the CA that signs a rediss:// Redis's certificate; undefined means Node's default CAs. */
  readonly redisCaFile: string | undefined;
  /** That file's PEM, read once here, so the primary and every worker (restarts too) trust the same CA. */
  readonly redisCa: string | undefined;
  readonly managedRedisPort: number;
  /** MANAGED_REDIS_DIR: where the managed Redis keeps its append-only file (the Mercure history). */
  readonly managedRedisDir: string;
  /** REDIS_COMMAND_TIMEOUT_MS: a command Redis has not answered by then fails (see counter/hung-redis-watch.ts). */
  readonly redisCommandTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly heartbeat: HeartbeatKind;
  readonly logLevel: LogLevel;
  readonly headersTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxConnectionsPerWorker: number;
  readonly maxUnsentBytes: number;
  readonly drainMs: number;
  /** Before a drain closes the listeners, /ping answers 503 for this long (a load balancer's notice). */
  readonly drainNoticeMs: number;
  readonly drainGraceMs: number;
  readonly retryMs: number;
  readonly leaseMs: number;
  readonly countKey: string;
  readonly hostId: string;
  /** Connections the operator expects this host to hold; only used to warn about open-file limits. */
  readonly expectedConnections: number;
  /** Node/V8 flags added to each worker's command line. */
  readonly workerNodeFlags: readonly string[];
  /** How connections reach the workers (see config/accept-path.ts), and why that one. */
  readonly acceptPath: AcceptPath;
  readonly acceptPathReason: string;
  /** Where in the heartbeat tick each worker's wheel fires (see connections/timing-wheel.ts). */
  readonly tickPhase: TickPhase;
  /** When set, /status_watcher and /metrics answer only requests that carry it (see http/status-token.ts). */
  readonly statusToken: string | undefined;
  /** The Mercure hub's settings (see mercure-config.ts). */
  readonly mercure: MercureConfig;
}

type Env = Record<string, string | undefined>;

// File descriptors a worker keeps for itself (IPC channel, Redis, stdio, the
// listening handle, status watchers) besides the SSE sockets it holds.
const RESERVED_FDS = 100;

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  return wholeNumber(name, raw === '' ? undefined : raw, fallback, min, max);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, raw, `one of ${allowed.join(', ')}`);
  return raw as T;
}

function redisUrl(env: Env): string | undefined {
  const raw = env.REDIS_URL;
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The message goes to the log: it shows the value without its password.
    throw new ConfigError('REDIS_URL', redactUrl(raw), 'a URL such as redis://127.0.0.1:6379');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', redactUrl(raw), 'a redis:// or rediss:// URL');
  }
  return raw;
}

function redisSentinels(env: Env): Array<{ host: string; port: number }> | undefined {
  const raw = env.REDIS_SENTINELS;
  if (raw === undefined || raw === '') return undefined;
  const expected = 'host:port of each Sentinel, separated by commas (10.0.0.2:26379,10.0.0.3:26379)';
  return raw.split(',').map((entry) => {
    const match = /^\s*(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})\s*$/.exec(entry);
    const port = Number(match?.[2]);
    if (match === null || port < 1 || port > 65_535) throw new ConfigError('REDIS_SENTINELS', raw, expected);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

function redisCa(env: Env): { redisCaFile: string | undefined; redisCa: string | undefined } {
  const file = env.REDIS_CA_FILE;
  if (file === undefined || file === '') return { redisCaFile: undefined, redisCa: undefined };
  // A CA with a plain redis:// URL would be ignored, and the password would
  // cross the network in clear: most likely the "s" of rediss:// is missing.
  if (!/^rediss:/i.test(env.REDIS_URL ?? '')) {
    throw new ConfigError('REDIS_CA_FILE', file, 'to be set only with a rediss:// (TLS) REDIS_URL');
  }
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError('REDIS_CA_FILE', file, `a readable file holding the CA certificate that signed Redis's (${code})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError('REDIS_CA_FILE', file, 'a PEM file with at least one -----BEGIN CERTIFICATE----- block');
  }
  return { redisCaFile: file, redisCa: pem };
}

function keyPart(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // Host ids end up inside Redis key names; keep them to characters that need no quoting anywhere.
  if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(raw)) throw new ConfigError(name, raw, 'letters, digits, _ . : or -, at most 100');
  return raw;
}

// A large run has dozens of workers, so each one's idle footprint counts many
// times over. A 1 MB young generation (V8's default grows to 16 MB per
// semi-space) and no V8 helper threads take about 14 MB off each worker's
// idle RSS; a heartbeat server allocates little and GCs small heaps.
const DEFAULT_WORKER_FLAGS = '--max-semi-space-size=1 --v8-pool-size=0';

function nodeFlags(env: Env, name: string, fallback: string): string[] {
  const raw = env[name] ?? fallback;
  const flags = raw.split(/\s+/).filter((flag) => flag !== '');
  const bad = flags.find((flag) => !/^--[a-z0-9-]+(=[^\s]*)?$/.test(flag));
  if (bad !== undefined) throw new ConfigError(name, raw, 'Node flags such as --max-semi-space-size=1, separated by spaces');
  return flags;
}

// Visible ASCII only: the token travels in an Authorization header and a
// query parameter. Sixteen characters at least, so that a short password
// typed in a hurry is refused; `openssl rand -hex 32` makes a good one.
function statusToken(env: Env): string | undefined {
  const raw = env.STATUS_TOKEN;
  if (raw === undefined || raw === '') return undefined;
  if (!/^[\x21-\x7e]{16,256}$/.test(raw)) throw new ConfigError('STATUS_TOKEN', '(hidden)', '16 to 256 visible ASCII characters, no spaces (openssl rand -hex 32 makes one)');
  return raw;
}

function acceptPath(env: Env): { path: AcceptPath; reason: string } {
  const chosen = oneOf(env, 'ACCEPT_PATH', 'auto', ['auto', 'reuseport', 'round-robin']);
  if (chosen === 'auto') return defaultAcceptPath();
  if (chosen === 'reuseport' && !nodeHasReusePort()) {
    throw new ConfigError('ACCEPT_PATH', chosen, `auto or round-robin: Node ${process.versions.node} has no reusePort (22.12 or later has)`);
  }
  return { path: chosen, reason: 'ACCEPT_PATH' };
}

export function loadConfig(env: Env = process.env): Config {
  const heartbeatMs = integer(env, 'HEARTBEAT_MS', 15_000, 10, 3_600_000);
  const fdLimit = openFileLimit();
  const workers = integer(env, 'WORKERS', os.availableParallelism(), 1, 1024);
  const maxConnectionsPerWorker = integer(
    env,
    'MAX_CONNECTIONS_PER_WORKER',
    Math.max(1, fdLimit - RESERVED_FDS),
    1,
  );
  const leaseMs = integer(env, 'LEASE_MS', 5_000, 1_000, 10_000);
  const drainMs = integer(env, 'DRAIN_MS', 10_000, 0, 600_000);
  const accept = acceptPath(env);
  return Object.freeze({
    port: integer(env, 'PORT', 5252, 0, 65_535),
    host: env.HOST === undefined || env.HOST === '' ? '0.0.0.0' : env.HOST,
    workers,
    redisUrl: redisUrl(env),
    redisSentinels: redisSentinels(env),
    redisSentinelName: keyPart(env, 'REDIS_SENTINEL_NAME', 'mymaster'),
    ...redisCa(env),
    managedRedisPort: integer(env, 'MANAGED_REDIS_PORT', 6379, 1, 65_535),
    managedRedisDir:
      env.MANAGED_REDIS_DIR === undefined || env.MANAGED_REDIS_DIR === ''
        ? path.join(os.homedir(), '.local', 'state', 'million-sse', `redis-${integer(env, 'MANAGED_REDIS_PORT', 6379, 1, 65_535)}`)
        : path.resolve(env.MANAGED_REDIS_DIR),
    redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 2_000, 100, 60_000),
    heartbeatMs,
    heartbeat: oneOf<HeartbeatKind>(env, 'HEARTBEAT', 'comment', ['comment', 'nul']),
    logLevel: oneOf<LogLevel>(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    headersTimeoutMs: integer(env, 'HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    // 8 KB is what nginx and most proxies allow for a request's headers; an SSE
    // handshake needs a few hundred bytes.
    maxHeaderBytes: integer(env, 'MAX_HEADER_BYTES', 8_192, 1_024, 65_536),
    maxConnectionsPerWorker,
    maxUnsentBytes: integer(env, 'MAX_UNSENT_BYTES', 16_384, 1, 64 * 1024 * 1024),
    drainMs,
    drainNoticeMs: integer(env, 'DRAIN_NOTICE_MS', 0, 0, 600_000),
    drainGraceMs: integer(env, 'DRAIN_GRACE_MS', 5_000, 100, 600_000),
    retryMs: integer(env, 'RETRY_MS', 3_000, 0, 3_600_000),
    leaseMs,
    countKey: keyPart(env, 'COUNT_KEY', 'connections'),
    hostId: keyPart(env, 'HOST_ID', `${os.hostname()}-${randomBytes(3).toString('hex')}`),
    expectedConnections: integer(env, 'EXPECTED_CONNECTIONS', 0, 0),
    workerNodeFlags: Object.freeze(nodeFlags(env, 'WORKER_NODE_FLAGS', DEFAULT_WORKER_FLAGS)),
    acceptPath: accept.path,
    acceptPathReason: accept.reason,
    tickPhase: oneOf<TickPhase>(env, 'TICK_PHASE', 'spread', ['spread', 'aligned']),
    statusToken: statusToken(env),
    mercure: loadMercureConfig(env),
  });
}
