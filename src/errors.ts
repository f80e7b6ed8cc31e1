// The one error catalogue. Each HTTP error has a stable code, a message and a
// status; the error handler turns them into the JSON body a client sees, and
// never a stack trace.
import createError from '@fastify/error';

export const NotFound = createError('MSSE_NOT_FOUND', 'Route %s %s not found', 404);
export const Full = createError('MSSE_FULL', 'This worker holds its maximum of %d connections', 503);
export const TooManyWatchers = createError('MSSE_TOO_MANY_WATCHERS', 'This worker serves its maximum of %d status watchers', 503);
export const Draining = createError('MSSE_DRAINING', 'The server is shutting down', 503);
export const Unauthorized = createError(
  'MSSE_UNAUTHORIZED',
  'This resource needs the status token: send Authorization: Bearer <token> (an EventSource on /status_watcher: ?token=<token>)',
  401,
);
// The Mercure hub (src/hub/). The WWW-Authenticate challenge of RFC 6750 that
// goes with a 400, 401 or 403 about a token is set by the route.
export const BadForm = createError('MSSE_BAD_FORM', 'Malformed form body: %s', 400);
export const MercureBadRequest = createError('MSSE_MERCURE_BAD_REQUEST', '%s', 400);
export const MercureUnsupportedMediaType = createError('MSSE_MERCURE_UNSUPPORTED_MEDIA_TYPE', 'Publish with application/x-www-form-urlencoded', 415);
export const MercureTooLarge = createError('MSSE_MERCURE_TOO_LARGE', '%s', 413);
export const MercureUnauthorized = createError('MSSE_MERCURE_UNAUTHORIZED', '%s', 401);
export const MercureForbidden = createError('MSSE_MERCURE_FORBIDDEN', '%s', 403);
export const MercureUnavailable = createError('MSSE_MERCURE_UNAVAILABLE', '%s', 503);
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

/**
 * Exit status of a start-up that no restart can fix: sysexits(3)'s EX_CONFIG.
 * pm2's `stop_exit_codes` (ecosystem.config.cjs) and systemd's
 * `RestartPreventExitStatus=` take it as "stop, do not restart".
 */
export const EX_CONFIG = 78;

/**
 * Redis answered but will not let this server in: it refused the password or
 * the ACL user in REDIS_URL, that user lacks a permission the counter needs,
 * or its TLS certificate cannot be verified. Unlike Redis being down, waiting
 * cannot fix it, so start-up stops with EX_CONFIG and this message, which
 * names the variable to fix. `reason` is what Redis or TLS said.
 */
export class RedisAccessError extends Error {
  readonly code = 'MSSE_REDIS_ACCESS';
  readonly exitCode = EX_CONFIG;
  constructor(readonly variable: 'REDIS_URL' | 'REDIS_CA_FILE', message: string, readonly reason: string) {
    super(message);
    this.name = 'RedisAccessError';
  }
}
