// The cluster primary: finds or starts Redis, forks the workers, publishes the
// status feed once a second, removes the share of any worker that dies, reaps
// hosts whose lease expired, and drains everything on SIGTERM or SIGINT.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.js';
import { workerEnv, type WorkerConfig } from '../config/worker-config.js';
import type { Logger } from '../logger.js';
import { createRedisClient, describeRedis, isRedisUp, loggableRedisError, redisTargetOf } from '../counter/redis-client.js';
import { HungRedisWatch } from '../counter/hung-redis-watch.js';
import { checkRedisAccess } from '../counter/redis-access-check.js';
import { RedisCounterStore } from '../counter/redis-counter-store.js';
import { CountKeeper } from '../counter/count-keeper.js';
import { StatusAggregator } from '../status/status-snapshot.js';
import { ClusterMetrics } from '../status/metrics.js';
import { ensureRedis } from './redis-launcher.js';
import { pickPort } from './pick-port.js';
import { Supervisor } from './supervisor.js';
import { answerMetricsRequest } from './metrics-requests.js';
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
  // Each start is a run of its own: its workers' reports count, an earlier
  // run's under the same HOST_ID no longer do (see counter/lua/claim.lua).
  const runId = randomBytes(8).toString('hex');
  const resolved: WorkerConfig = Object.freeze({ ...config, port, redisUrl: redisHandle.url, runId });
  const redis = createRedisClient(redisTarget, logger, config.redisCommandTimeoutMs);
  const hung = new HungRedisWatch(redis, logger, describeRedis(redisTarget));
  const store = new RedisCounterStore(redis, resolved);
  const keeper = new CountKeeper({
    store,
    logger,
    leaseMs: config.leaseMs,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    isUp: () => isRedisUp(redis),
    onOutcome: (err) => hung.outcome(err),
  });
  redis.on('ready', () => keeper.connectionReady());
  const aggregator = new StatusAggregator(config.hostId);
  const metrics = new ClusterMetrics();
  /** Workers that have status watchers. */
  const watching = new Set<number>();

  const supervisor = new Supervisor({
    workers: config.workers,
    nodeFlags: config.workerNodeFlags,
    env: workerEnv(),
    logger,
    onMessage: (workerId, message, reply) => {
      if (message.type === 'stats') aggregator.update(message.stats);
      else if (message.type === 'config-request') reply({ type: 'config', config: resolved });
      else if (message.type === 'watching') {
        if (message.watching) watching.add(workerId);
        else watching.delete(workerId);
      } else {
        // Rendered on demand: most seconds nobody scrapes, and a large run has dozens of workers.
        void answerMetricsRequest(message.id, () => metrics.render(), reply, (err) => logger.warn({ err }, 'could not render the metrics'));
      }
    },
    onWorkerDied: (id) => keeper.workerGone(id),
  });
  // Every exit, a drained one (rolling restart) included: its figures leave
  // the status. A drained worker's share is already 0; it is marked dead in
  // Redis too, so that it no longer counts among the host's workers.
  supervisor.on('worker-exit', (id: number, died: boolean) => {
    aggregator.remove(id);
    watching.delete(id);
    if (!died && !supervisor.draining) keeper.workerGone(id);
  });

  let statusFailures = 0;
  let readingHistory = false;
  const statusTick = setInterval(() => {
    void (async () => {
      const count = await keeper.tick();
      // The history's length, read beside the count and never waited on: a
      // Redis that stops answering must not hold the feed (see count-keeper.ts).
      if (count !== null && !readingHistory) {
        readingHistory = true;
        redis
          .xlen(config.mercure.historyKey)
          .then((length) => aggregator.setHistoryLength(length), () => aggregator.setHistoryLength(null))
          .finally(() => (readingHistory = false));
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

  // Before the workers report: until this run holds its host, their reports
  // are ignored. A Redis that is down now is retried by every status tick.
  await keeper.claim();
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
