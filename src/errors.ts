// The one error catalogue. Each HTTP error has a stable code, a message and a
// status; the error handler turns them into the JSON body a client sees, and
// never a stack trace.
import createError from '@fastify/error';

export const NotFound = createError('MSSE_NOT_FOUND', 'Route %s %s not found', 404);
export const Full = createError('MSSE_FULL', 'This worker holds its maximum of %d connections', 503);
export const Draining = createError('MSSE_DRAINING', 'The server is shutting down', 503);
export const MetricsNotReady = createError('MSSE_METRICS_NOT_READY', 'The first metrics have not arrived from the primary yet', 503);

/** Seconds a client should wait before retrying a 503, sent as Retry-After. */
export const RETRY_AFTER_SECONDS = 5;

/** A configuration value that cannot be used; start-up stops with this message. */
export class ConfigError extends Error {
  readonly code = 'MSSE_BAD_CONFIG';
  constructor(readonly variable: string, readonly value: string, expected: string) {
    super(`${variable}=${JSON.stringify(value)} is not valid: expected ${expected}`);
    this.name = 'ConfigError';
  }
}

/** redis-server is needed to run a local Redis and is not on PATH. */
export class RedisServerMissingError extends Error {
  readonly code = 'MSSE_REDIS_SERVER_MISSING';
  constructor() {
    super(
      'redis-server is not installed and nothing answers on the Redis port. ' +
        'Install it (Debian/Ubuntu: sudo apt-get install -y redis-server) or set REDIS_URL to a running Redis.',
    );
    this.name = 'RedisServerMissingError';
  }
}
