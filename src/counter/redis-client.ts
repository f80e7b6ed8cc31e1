// One place that creates ioredis clients, so every process reconnects and
// logs Redis going away the same way.
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export function createRedisClient(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    // Reports are re-sent every second with absolute values; queueing them
    // while Redis is away would only pile up stale copies.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Reconnect forever, at most a second apart, so a restarted Redis is found quickly.
    retryStrategy: (times) => Math.min(times * 100, 1_000),
  });
  // Unknown until the first answer, so an outage at start-up is reported too.
  let up: boolean | undefined;
  redis.on('ready', () => {
    up = true;
    logger.info({ redis: url }, 'redis connected');
  });
  redis.on('error', (err: Error) => {
    // ioredis emits an error on every failed reconnect; say it once per outage.
    if (up !== false) logger.warn({ err, redis: url }, 'redis unreachable');
    up = false;
  });
  redis.on('close', () => {
    // Also fires on our own disconnect() at shutdown; a real outage is reported by 'error'.
    logger.debug({ redis: url }, 'redis connection closed');
    if (up === true) up = undefined;
  });
  return redis;
}

export function isRedisUp(redis: Redis): boolean {
  return redis.status === 'ready';
}
