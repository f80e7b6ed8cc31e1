// The cluster primary: finds or starts Redis, forks the workers, publishes the
// status feed once a second, removes the share of any worker that dies, reaps
// hosts whose lease expired, and drains everything on SIGTERM or SIGINT.
import type { Config } from '../config/config.js';
import { workerEnv } from '../config/worker-config.js';
import type { Logger } from '../logger.js';
import { createRedisClient, describeRedis, isRedisUp, loggableRedisError, redisTargetOf } from '../counter/redis-client.js';
import { HungRedisWatch } from '../counter/hung-redis-watch.js';
import { checkRedisAccess } from '../counter/redis-access-check.js';
import { RedisCounterStore } from '../counter/redis-counter-store.js';
import type { ClusterCount } from '../counter/counter-store.js';
import { StatusAggregator } from '../status/status-snapshot.js';
import { ClusterMetrics } from '../status/metrics.js';
import { ensureRedis } from './redis-launcher.js';
import { pickPort } from './accept-path.js';
import { Supervisor } from './supervisor.js';
import { installShutdown } from './shutdown.js';

const STATUS_MS = 1_000;

/** Addresses only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export async function runPrimary(config: Config, logger: Logger): Promise<void> {
  const capacity = config.workers * config.maxConnectionsPerWorker;
  if (config.expectedConnections > capacity) {
    logger.warn(
      { workers: config.workers, maxConnectionsPerWorker: config.maxConnectionsPerWorker, expectedConnections: config.expectedConnections },
      `${config.workers} workers can hold ${capacity} connections, fewer than EXPECTED_CONNECTIONS; ` +
        'raise WORKERS or the open-file limit (ulimit -n, LimitNOFILE, nofile in /etc/security/limits.conf)',
    );
  }

  if (config.statusToken === undefined && !isLoopback(config.host)) {
    logger.warn(
      { host: config.host },
      `listening on ${config.host} without STATUS_TOKEN: anyone who reaches this port can read /status_watcher and /metrics; ` +
        'set STATUS_TOKEN (openssl rand -hex 32 makes one), or HOST=127.0.0.1 behind a proxy',
    );
  }

  const { mercure } = config;
  if (mercure.publishWithoutToken && !isLoopback(config.host)) {
    logger.warn(
      { host: config.host },
      `MERCURE_PUBLISH_WITHOUT_TOKEN is on and the hub listens on ${config.host}: anyone who reaches this port can publish; ` +
        'use it only on a network of trusted clients, or set MERCURE_PUBLISHER_JWT_KEY instead',
    );
  } else if (mercure.publisherKey === undefined && !mercure.publishWithoutToken) {
    logger.info('the Mercure hub refuses every publish: set MERCURE_PUBLISHER_JWT_KEY (or MERCURE_PUBLISHER_JWKS_FILE) to let publishers in');
  }

  const redisHandle = await ensureRedis(config, logger);
  const redisTarget = redisTargetOf(config, redisHandle.url);
  // Throws RedisAccessError (exit 78) when Redis refuses our credentials or
  // certificate; a Redis that is merely down does not stop start-up.
  const unchecked = await checkRedisAccess(redisTarget, config, logger).catch(async (err: unknown) => {
    await redisHandle.stop();
    throw err;
  });
  if (unchecked !== null) {
    logger.warn(
      { err: loggableRedisError(unchecked), redis: describeRedis(redisTarget) },
      'could not check access to Redis; starting anyway, and the count follows once Redis answers',
    );
  }
  const port = config.port === 0 && config.acceptPath === 'reuseport' ? await pickPort(config.host) : config.port;
  const resolved: Config = Object.freeze({ ...config, port, redisUrl: redisHandle.url });
  const redis = createRedisClient(redisTarget, logger, config.redisCommandTimeoutMs);
  const hung = new HungRedisWatch(redis, logger, describeRedis(redisTarget));
  const store = new RedisCounterStore(redis, config);
  // While Redis is unreachable, or a Sentinel failover is under way, no host
  // can renew its lease, so a lease that ran out then says nothing about its
  // host. Reaping waits until our own connection has been up for a whole
  // lease: by then every live host has reported again. (Without this, a
  // failover longer than LEASE_MS removed every host's share for a second.)
  let redisReadyAt = performance.now();
  redis.on('ready', () => {
    redisReadyAt = performance.now();
  });
  const mayReap = (): boolean => performance.now() - redisReadyAt >= config.leaseMs;
  const aggregator = new StatusAggregator(config.hostId);
  const metrics = new ClusterMetrics();
  /** Workers that have status watchers. */
  const watching = new Set<number>();

  // Dead workers whose share could not be removed yet (Redis was down); retried every tick.
  const deadWorkers = new Set<number>();
  const removeDead = (): void => {
    for (const id of deadWorkers) {
      store.removeWorker(String(id)).then(
        (removed) => {
          deadWorkers.delete(id);
          logger.info({ worker: id, removed }, "removed a dead worker's share of the count");
        },
        () => undefined,
      );
    }
  };

  const supervisor = new Supervisor({
    workers: config.workers,
    nodeFlags: config.workerNodeFlags,
    env: workerEnv(resolved),
    logger,
    onMessage: (workerId, message, reply) => {
      if (message.type === 'stats') aggregator.update(message.stats);
      else if (message.type === 'watching') {
        if (message.watching) watching.add(workerId);
        else watching.delete(workerId);
      } else {
        // Rendered on demand: most seconds nobody scrapes, and a large run has dozens of workers.
        void metrics.render().then((text) => reply({ type: 'metrics', id: message.id, text }));
      }
    },
    onWorkerDied: (id) => {
      deadWorkers.add(id);
      removeDead();
    },
  });
  // Every exit, a drained one (rolling restart) included: its figures leave
  // the status. A drained worker's share is already 0; it is marked dead in
  // Redis too, so that it no longer counts among the host's workers.
  supervisor.on('worker-exit', (id: number, died: boolean) => {
    aggregator.remove(id);
    watching.delete(id);
    if (!died && !supervisor.draining) {
      deadWorkers.add(id);
      removeDead();
    }
  });

  let statusFailures = 0;
  // One tick at a time reads Redis, and the others do not wait for it: a
  // Redis that has stopped answering holds that tick for up to
  // REDIS_COMMAND_TIMEOUT_MS, and the feed must not freeze with it. Meanwhile
  // the ticks repeat the last count read while it is younger than that
  // timeout (a slow answer is not an outage), then say Redis is down.
  let reading = false;
  let lastRead: { count: ClusterCount; at: number } | undefined;
  const statusTick = setInterval(() => {
    void (async () => {
      let count: ClusterCount | null = null;
      if (reading) {
        if (lastRead !== undefined && performance.now() - lastRead.at < config.redisCommandTimeoutMs) count = lastRead.count;
      } else if (isRedisUp(redis)) {
        reading = true;
        removeDead();
        try {
          if (mayReap()) {
            const reaped = await store.reapExpiredHosts();
            if (reaped.length > 0) logger.warn({ hosts: reaped }, 'removed the share of hosts whose lease expired');
          }
          count = await store.read();
          lastRead = { count, at: performance.now() };
          // A Redis user without the hub's commands still counts: the length is then unknown.
          aggregator.setHistoryLength(await redis.xlen(config.mercure.historyKey).catch(() => null));
          hung.outcome();
        } catch (err) {
          hung.outcome(err);
          count = null;
        } finally {
          reading = false;
        }
      }
      const snapshot = aggregator.snapshot(count);
      metrics.update(snapshot, aggregator.countedTotals);
      // Only workers with watchers get the feed: with dozens of workers,
      // sending it to every one would cost each of them a JSON parse a second for nothing.
      if (watching.size > 0) supervisor.broadcast({ type: 'snapshot', json: JSON.stringify(snapshot) }, (id) => watching.has(id));
    })().catch((err: unknown) => {
      // The primary is the one process whose crash takes every stream down:
      // a failed status tick is logged and the next second tries again.
      statusFailures++;
      if (statusFailures === 1 || statusFailures % 60 === 0) logger.error({ err, failures: statusFailures }, 'status tick failed');
    });
  }, STATUS_MS);

  installShutdown({
    logger,
    timeoutMs: config.drainNoticeMs + config.drainMs + config.drainGraceMs,
    drain: async () => {
      clearInterval(statusTick);
      await supervisor.drain();
      await store.removeHost().catch((err: unknown) => logger.warn({ err }, "could not remove this host's count; its lease will expire"));
      redis.disconnect();
      await redisHandle.stop();
    },
    abort: () => {
      supervisor.killAll();
      void redisHandle.stop();
    },
  });

  // SIGHUP, as for nginx and HAProxy: new workers for old, one at a time,
  // without dropping the port (`pm2 sendSignal SIGHUP million-sse`).
  process.on('SIGHUP', () => {
    logger.info({ workers: config.workers }, 'SIGHUP: rolling restart, one worker at a time');
    supervisor.rollingRestart().then(
      ({ replaced }) => logger.info({ replaced }, 'rolling restart done'),
      (err: unknown) => logger.error({ err }, `rolling restart stopped: ${(err as Error).message}`),
    );
  });

  await supervisor.start();
  logger.info(
    {
      port,
      host: config.host,
      workers: config.workers,
      acceptPath: config.acceptPath,
      acceptPathReason: config.acceptPathReason,
      tickPhase: config.tickPhase,
      redis: describeRedis(redisTarget),
      hostId: config.hostId,
    },
    `million-sse listening on http://${config.host}:${port}/ (accept path: ${config.acceptPath})`,
  );
  // pm2's wait_ready: the app is ready when every worker listens.
  process.send?.('ready');
}
