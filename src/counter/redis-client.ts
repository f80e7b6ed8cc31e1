// One place that creates ioredis clients, so every process authenticates and
// speaks TLS the same way, reconnects the same way, and logs Redis going away
// (or refusing us) the same way, without ever logging the password.
import { Redis, type RedisOptions } from 'ioredis';
import { redactUrl } from '../config/redact-url.js';
import { RedisAccessError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Config } from '../config/config.js';

/** Which Redis, and how to reach it: REDIS_URL (or the managed Redis's URL) and REDIS_CA_FILE. */
export interface RedisTarget {
  /** redis://[[user]:password@]host:port, or rediss:// for TLS. */
  url: string;
  /** PEM of the CA to trust instead of Node's default CAs. */
  ca?: string | undefined;
  /** Where that PEM came from, for messages. */
  caFile?: string | undefined;
  /** Sentinels to ask for the master (REDIS_SENTINELS); `url` then gives only the credentials and TLS. */
  sentinels?: ReadonlyArray<{ host: string; port: number }> | undefined;
  sentinelName?: string | undefined;
}

/** The target a process's Config names: REDIS_URL (or the managed Redis's) with its CA, or the Sentinels. */
export function redisTargetOf(config: Config, url: string): RedisTarget {
  return { url, ca: config.redisCa, caFile: config.redisCaFile, sentinels: config.redisSentinels, sentinelName: config.redisSentinelName };
}

/** How a target is shown in logs: never with its password. */
export function describeRedis(target: RedisTarget): string {
  if (target.sentinels === undefined) return redactUrl(target.url);
  return `sentinel master "${target.sentinelName}" via ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
}

/**
 * A client for `target` with `options`. ioredis takes the user name and
 * password from the URL (AUTH user pass, or AUTH pass without a user), and
 * turns TLS on by itself only for URLs that start with the lower-case
 * "rediss://" (Redis#parseOptions); the scheme is tested here without regard to
 * case, and the CA, when there is one, replaces Node's default list.
 */
export function openRedis(target: RedisTarget, options: RedisOptions): Redis {
  const tls = /^rediss:/i.test(target.url) ? { tls: target.ca === undefined ? {} : { ca: target.ca } } : {};
  if (target.sentinels !== undefined) {
    // The Sentinels name the master, and ioredis asks them again on every
    // reconnect. A failover always brings one: the old master is gone, or
    // Sentinel kills every normal client of an instance it reconfigures
    // (CLIENT KILL TYPE normal, on the promoted replica too).
    //
    // `failoverDetector` stays off. It closes the connection again on each
    // +switch-master, and a detector from a connection that died with the old
    // master is still listening: when its close lands while the client is
    // asking the Sentinels, ioredis rejects that connect and gives the client
    // up for good ('end'), and that process counts nothing from then on. Our
    // hosts test lost a worker so in about one failover in three.
    const url = new URL(target.url);
    return new Redis({
      ...options,
      ...tls,
      sentinels: target.sentinels.map((s) => ({ ...s })),
      name: target.sentinelName ?? 'mymaster',
      ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
      ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
      failoverDetector: false,
      // A client that reached the replica while it was being promoted, or the
      // old master come back as a replica, gets READONLY on every write: it
      // reconnects, which asks the Sentinels again (ioredis's own recipe).
      reconnectOnError: (err) => (/\bREADONLY\b/.test(err.message) ? 2 : false),
      sentinelRetryStrategy: (times) => Math.min(times * 100, 1_000),
    });
  }
  return new Redis(target.url, { ...options, ...tls });
}

export function createRedisClient(target: RedisTarget, logger: Logger, commandTimeoutMs: number): Redis {
  const redis = openRedis(target, {
    // A Redis that keeps the connection but never answers would otherwise
    // hold each command for good (see hung-redis-watch.ts).
    commandTimeout: commandTimeoutMs,
    // Reports are re-sent every second with absolute values; queueing them
    // while Redis is away would only pile up stale copies.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Reconnect forever, at most a second apart, so a restarted Redis is found quickly.
    retryStrategy: (times) => Math.min(times * 100, 1_000),
  });
  const shown = describeRedis(target);
  // What this outage was last reported as: ioredis emits an error on every
  // failed reconnect, and each outage is said once, and again only if its
  // cause changes (Redis comes back but refuses the password).
  let reported: string | undefined;
  redis.on('ready', () => {
    reported = undefined;
    logger.info({ redis: shown }, 'redis connected');
  });
  redis.on('error', (err: Error) => {
    // The primary refuses to start on these; here they come later (Redis
    // was down at start, or a password was changed on a running Redis) and
    // the streams keep going without a count.
    const refused = redisAccessError(err, target);
    const cause = refused?.message ?? 'unreachable';
    if (cause === reported) return;
    reported = cause;
    if (refused !== undefined) logger.error({ redis: shown, variable: refused.variable, reason: refused.reason }, refused.message);
    else logger.warn({ err: loggableRedisError(err), redis: shown }, 'redis unreachable');
  });
  redis.on('close', () => {
    // Also fires on our own disconnect() at shutdown; a real outage is reported by 'error'.
    logger.debug({ redis: shown }, 'redis connection closed');
  });
  return redis;
}

export function isRedisUp(redis: Redis): boolean {
  return redis.status === 'ready';
}

/**
 * An ioredis error as a log field. ioredis attaches the failed command and its
 * arguments to reply errors (`err.command.args`), and for a refused AUTH those
 * arguments are the user name and the password: they are left out.
 */
export function loggableRedisError(err: Error): Record<string, unknown> {
  const { code, command } = err as Error & { code?: string; command?: { name?: unknown } };
  return {
    type: err.name,
    message: err.message,
    ...(code === undefined ? {} : { code }),
    ...(typeof command?.name === 'string' ? { command: command.name } : {}),
  };
}

// Node's codes for a certificate chain that does not lead to a trusted CA
// (OpenSSL's X509_V_ERR_* names, https://nodejs.org/api/tls.html#x509-certificate-error-codes).
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);
const INVALID_CERTIFICATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REJECTED', 'CERT_REVOKED', 'INVALID_CA', 'INVALID_PURPOSE']);

/**
 * The RedisAccessError that `err` amounts to, or undefined when `err` is Redis
 * being down or slow (which waiting fixes). Reply texts are Redis's own:
 * WRONGPASS (Redis 6+: wrong password or unknown ACL user), "invalid password"
 * (Redis 5 and older), NOAUTH (a password is required and none was sent),
 * NOPERM (the ACL user may not run a command or touch a key).
 */
export function redisAccessError(err: Error, target: RedisTarget): RedisAccessError | undefined {
  const where = `Redis at ${describeRedis(target)}`;
  const code = (err as NodeJS.ErrnoException).code;
  const said = code !== undefined && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  const fail = (variable: 'REDIS_URL' | 'REDIS_CA_FILE', message: string): RedisAccessError =>
    new RedisAccessError(variable, `${message} (${said})`, said);

  if (/\bWRONGPASS\b|invalid password|invalid username-password/i.test(err.message)) {
    return fail('REDIS_URL', `${where} refused the user name or password in REDIS_URL; fix REDIS_URL: redis://:password@host:port, or redis://user:password@host:port for an ACL user`);
  }
  if (/\bNOAUTH\b/.test(err.message)) {
    return fail('REDIS_URL', `${where} requires a password and REDIS_URL has none; put it in REDIS_URL: redis://:password@host:port`);
  }
  // Inside a Lua script Redis 7.0 words it "ERR The user executing the script can't run this command ..." instead.
  if (/\bNOPERM\b|user executing the script can't/.test(err.message)) {
    return fail('REDIS_URL', `the Redis user in REDIS_URL lacks a permission the connection count needs; grant it (see the README's ACL line) or use another user in REDIS_URL`);
  }
  if (code === undefined) return undefined;
  if (UNTRUSTED_CERTIFICATE.has(code)) {
    return target.caFile === undefined
      ? fail('REDIS_CA_FILE', `the TLS certificate of ${where} is not signed by a CA this machine trusts; set REDIS_CA_FILE to the CA certificate (PEM) that signed it`)
      : fail('REDIS_CA_FILE', `the TLS certificate of ${where} is not signed by the CA in REDIS_CA_FILE=${target.caFile}; set REDIS_CA_FILE to the CA certificate (PEM) that signed it`);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return fail('REDIS_URL', `the TLS certificate of ${where} is not issued for that host name; use in REDIS_URL a host name or address the certificate lists`);
  }
  if (INVALID_CERTIFICATE.has(code)) {
    return fail('REDIS_URL', `the TLS certificate of ${where} is not valid; renew it on the Redis server, or point REDIS_URL at another`);
  }
  if (code.startsWith('ERR_SSL_')) {
    return fail('REDIS_URL', `the TLS handshake with ${where} failed; rediss:// needs Redis's tls-port (redis:// its plain port), and Redis must not require client certificates (tls-auth-clients no)`);
  }
  return undefined;
}
