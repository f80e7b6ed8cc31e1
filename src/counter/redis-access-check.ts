// The primary's start-up check: connect to Redis once, with the credentials
// and TLS settings every worker will use, and run each counter operation with
// a count of 0. A refusal that waiting cannot fix (a wrong password, an
// unknown ACL user, a permission missing, an untrusted certificate) throws a
// RedisAccessError before any worker is forked. Without this check every
// process would retry forever, the count would never move, and pm2 would
// restart nothing because nothing crashed.
//
// Redis being down or slow is not that: the check then returns the error and
// the cluster starts anyway, serving streams without a count, exactly as it
// does when Redis goes away later.
import { openRedis, redisAccessError, type RedisTarget } from './redis-client.js';
import { RedisCounterStore, type RedisCounterStoreOptions } from './redis-counter-store.js';
import type { Logger } from '../logger.js';

/** How long the check waits for Redis before starting without it. */
export const CHECK_TIMEOUT_MS = 3_000;

/**
 * Resolves to null when every counter operation worked, or to the error that
 * kept the check from finishing (Redis down, slow, or answering something
 * else); rejects with a RedisAccessError when Redis refuses this server.
 */
export async function checkRedisAccess(
  target: RedisTarget,
  options: Omit<RedisCounterStoreOptions, 'runId'>,
  logger: Logger,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<Error | null> {
  const redis = openRedis(target, {
    lazyConnect: true,
    // One attempt: a Redis that is down is reported, not waited for.
    retryStrategy: () => null,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  // A refused AUTH or a failed TLS handshake reaches us as an 'error' event;
  // connect() itself then only rejects with "Connection is closed".
  let connectionError: Error | undefined;
  redis.on('error', (err: Error) => {
    connectionError ??= err;
  });
  let connected = false;
  const check = async (): Promise<null> => {
    await redis.connect();
    connected = true;
    // A host id of its own: the check adds and removes only its own keys, and
    // if it dies half-way its lease expires and any primary reaps a share of 0.
    const store = new RedisCounterStore(redis, { ...options, hostId: `${options.hostId}-start-check`, runId: 'start-check' });
    // Each script the workers and the primary run, so that an ACL user missing
    // a command or a key pattern is caught here. The second report goes as
    // EVALSHA (ioredis sends a script's first call on a connection as EVAL).
    await store.claimHost();
    await store.report('check', 0);
    await store.report('check', 0);
    // Reaping is what the primary does every second anyway; said the same way.
    const reaped = await store.reapExpiredHosts();
    if (reaped.length > 0) logger.warn({ hosts: reaped }, 'removed the share of hosts whose lease expired');
    await store.read();
    await store.removeWorker('check');
    // forgetWorker (HDEL) is left out: without it only tombstones stay, so an
    // ACL line from before it still starts.
    await store.removeHost({ remember: false });
    return null;
  };
  const running = check();
  // Past the deadline the check is abandoned; its late failure is of no interest.
  running.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs * 2} ms`)), timeoutMs * 2);
  });
  try {
    return await Promise.race([running, deadline]);
  } catch (err) {
    const cause = connected ? (err as Error) : (connectionError ?? (err as Error));
    const refused = redisAccessError(cause, target);
    if (refused !== undefined) throw refused;
    return cause;
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}
