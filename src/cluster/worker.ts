// One worker: a Fastify server holding its share of the streams, reporting its
// count to Redis and its figures to the primary once a second.
import cluster from 'node:cluster';
import type { WorkerConfig } from '../config/worker-config.js';
import { createLogger } from '../logger.js';
import { buildServer } from '../http/server.js';
import { createWorkerState } from '../http/worker-state.js';
import { createRedisClient, describeRedis, loggableRedisError, openRedis, redisTargetOf } from '../counter/redis-client.js';
import { History } from '../hub/history.js';
import { Hub } from '../hub/hub.js';
import { BLOCK_MS, UpdateSource } from '../hub/update-source.js';
import { HungRedisWatch } from '../counter/hung-redis-watch.js';
import { RedisCounterStore } from '../counter/redis-counter-store.js';
import { memoryFigures } from '../status/memory.js';
import { GcPauses } from '../status/gc-pauses.js';
import { isPrimaryMessage, type WorkerMessage, type WorkerStats } from './messages.js';
import { MetricsRequests } from './metrics-requests.js';

const REPORT_MS = 1_000;
const MEMORY_EVERY_TICKS = 5;
const METRICS_TIMEOUT_MS = 2_000;
const LISTEN_BACKLOG = 65_535;
const FINAL_REPORT_TIMEOUT_MS = 1_000;
// From closing the listening socket to answering 503: requests already on their way are served.
const ACCEPTED_GRACE_MS = 200;

function hubFigures(hub: Hub): Pick<WorkerStats, 'subscribers' | 'published' | 'deliveries' | 'hubDropped' | 'fanOutMs'> {
  const counters = hub.counters();
  return {
    subscribers: counters.subscribers,
    published: counters.published,
    deliveries: counters.deliveries,
    hubDropped: counters.dropped,
    fanOutMs: counters.fanOutMs,
  };
}

/** The configuration, from the primary over IPC (see config/worker-config.ts). */
function receiveConfig(): Promise<WorkerConfig> {
  return new Promise((resolve, reject) => {
    if (process.send === undefined) {
      reject(new Error('no IPC channel: start the server with the primary (node dist/primary.js)'));
      return;
    }
    const onMessage = (message: unknown): void => {
      if (!isPrimaryMessage(message) || message.type !== 'config') return;
      process.off('message', onMessage);
      resolve(Object.freeze(message.config));
    };
    process.on('message', onMessage);
    process.send({ type: 'config-request' } satisfies WorkerMessage);
  });
}

export async function runWorker(): Promise<void> {
  // A hangup of the terminal reaches the whole process group. Whether it
  // means a rolling restart is the primary's to decide (it gets the same
  // signal); left to its default, it would kill every worker at once.
  process.on('SIGHUP', () => undefined);
  const config = await receiveConfig();
  const workerId = cluster.worker?.id ?? 0;
  const logger = createLogger(config.logLevel, { role: 'worker', worker: workerId });

  // Worker ids count up from 1, restarts included; the modulo keeps a replacement within the spread.
  const tickPhase = config.tickPhase === 'spread' ? ((workerId - 1) % config.workers) / config.workers : 0;
  const state = createWorkerState(
    config,
    (watching) => process.send?.({ type: 'watching', watching } satisfies WorkerMessage),
    tickPhase,
  );
  const metrics = new MetricsRequests((id) => process.send?.({ type: 'metrics-request', id } satisfies WorkerMessage), METRICS_TIMEOUT_MS);
  state.fetchMetrics = () => metrics.ask();
  const { registry, watchers } = state;

  // The primary resolved the Redis URL before forking.
  const redisTarget = redisTargetOf(config, config.redisUrl!);
  const redis = createRedisClient(redisTarget, logger, config.redisCommandTimeoutMs);
  const hung = new HungRedisWatch(redis, logger, describeRedis(redisTarget));
  const store = new RedisCounterStore(redis, config);
  const field = String(workerId);

  // The Mercure hub: publishes go through the counter's client (short
  // commands that fail fast while Redis is away: the publisher gets a 503),
  // and the history is read on a connection of its own (see update-source.ts).
  const { mercure } = config;
  // WAIT gets half the command timeout, so that Redis answers it before the client gives up on it.
  const history = new History(redis, mercure.historyKey, mercure.historySize, mercure.publishReplicas, Math.floor(config.redisCommandTimeoutMs / 2));
  const hub = new Hub({
    history,
    logger,
    base: mercure.hubUrl,
    // A subscriber may be a few updates behind (an update can be up to
    // MERCURE_MAX_UPDATE_BYTES) before it counts as one that stopped reading.
    maxUnsentBytes: Math.max(config.maxUnsentBytes, 4 * mercure.maxUpdateBytes),
    maxPendingPublishes: mercure.maxPendingPublishes,
    written: (socket) => registry.touch(socket),
  });
  const reader = openRedis(redisTarget, {
    commandTimeout: BLOCK_MS + config.redisCommandTimeoutMs,
    retryStrategy: (times) => Math.min(times * 100, 1_000),
    maxRetriesPerRequest: null,
  });
  // Outages are reported by the counter's client; this one only retries.
  reader.on('error', (err: Error) => logger.debug({ err: loggableRedisError(err) }, 'history reader: redis error'));
  // Updates published from now on; when Redis cannot say where its history
  // ends, from this instant by Redis's entry-id clock.
  const startAfter = await Promise.race([
    history.lastEntryId(),
    new Promise<string>((resolve) => setTimeout(resolve, config.redisCommandTimeoutMs, `${Date.now()}-0`).unref()),
  ]).catch(() => `${Date.now()}-0`);
  const source = new UpdateSource(reader, mercure.historyKey, (updates) => hub.dispatch(updates), logger, startAfter);
  state.hub = hub;
  source.start();

  // Reading memory opens /proc/self/status and walks the heap's spaces: a
  // few syscalls that dozens of workers need not make every second for a
  // figure that moves slowly.
  let memory = memoryFigures();
  let ticks = 0;
  const gcPauses = new GcPauses();
  // A report Redis refuses (READONLY from a replica mid-failover, NOPERM after
  // an ACL change) is no connection error, so the client's own logging never
  // sees it: it is said here once per cause. A Redis that is away is already
  // reported by the client, and those failures are left to it.
  let refused: string | undefined;
  const reported = (): void => {
    refused = undefined;
    hung.outcome();
  };
  const notReported = (err: Error): void => {
    hung.outcome(err);
    if (err.name !== 'ReplyError' || err.message === refused) return;
    refused = err.message;
    logger.warn({ err: loggableRedisError(err) }, "redis refused this worker's count report; retrying every second");
  };
  const tick = setInterval(() => {
    // Absolute and unconditional: this also renews the host's lease and puts
    // the count back after Redis restarts empty. Failures are retried by the next tick.
    store.report(field, registry.size).then(reported, notReported);
    const counters = registry.counters();
    const loopDelay = registry.takeLoopDelay();
    const gc = gcPauses.take();
    if (++ticks % MEMORY_EVERY_TICKS === 0) memory = memoryFigures();
    const message: WorkerMessage = {
      type: 'stats',
      stats: {
        id: workerId,
        pid: process.pid,
        connections: counters.held,
        opened: counters.opened,
        closed: counters.closed,
        dropped: counters.dropped,
        heartbeats: counters.heartbeats,
        pings: state.pings,
        watchers: watchers.size,
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        eventLoopDelayMs: loopDelay.meanMs,
        eventLoopDelayP99Ms: loopDelay.maxMs,
        gcPauseMs: gc.ms,
        gcMajorPauseMs: gc.majorMs,
        heapLive: gcPauses.liveBytes,
        ...hubFigures(hub),
      },
    };
    process.send?.(message);
  }, REPORT_MS);
  tick.unref();

  const app = await buildServer(state, logger);

  // Whatever way a worker leaves, its sockets go with it: its share is 0.
  const finish = async (code: number): Promise<never> => {
    clearInterval(tick);
    hub.stop();
    void source.stop();
    const final = store.report(field, 0);
    const timeout = new Promise((resolve) => setTimeout(resolve, FINAL_REPORT_TIMEOUT_MS).unref());
    await Promise.race([final, timeout]).catch(() => undefined);
    redis.disconnect();
    process.exit(code);
  };

  let drainStarted = false;
  const drain = async (): Promise<void> => {
    if (drainStarted) return;
    drainStarted = true;
    logger.info({ connections: registry.size, drainMs: config.drainMs, drainNoticeMs: config.drainNoticeMs }, 'draining');
    // Behind a load balancer: /ping fails first, and everything else carries
    // on, until the balancer has seen it and sends new clients elsewhere.
    // Closing the listener at once would leave the balancer a few seconds in
    // which it still picks this host (with leastconn, first of all: a
    // draining host has the fewest connections) and its clients are refused.
    if (config.drainNoticeMs > 0) {
      state.leaving = true;
      await new Promise((resolve) => setTimeout(resolve, config.drainNoticeMs));
    }
    app.server.close();
    // Connections accepted just before the close may not have sent their
    // request yet: they are served as usual, not told 503, and a stream
    // opened so is ended by the drain with the others. In a rolling restart
    // the client never sees a refusal, only a stream that ends and a retry.
    await new Promise((resolve) => setTimeout(resolve, ACCEPTED_GRACE_MS));
    state.draining = true;
    app.server.closeIdleConnections();
    watchers.endAll();
    await registry.drain(config.drainMs);
    await finish(0);
  };

  process.on('message', (message: unknown) => {
    if (!isPrimaryMessage(message)) return;
    if (message.type === 'snapshot') watchers.publish(message.json);
    else if (message.type === 'metrics') metrics.settle(message.id, message.text);
    else if (message.type === 'drain') void drain();
  });
  // The primary coordinates shutdown; a signal that reaches the worker directly
  // (Ctrl-C reaches the whole process group) means the same drain.
  process.on('SIGTERM', () => void drain());
  process.on('SIGINT', () => void drain());
  // The IPC channel closes when the primary dies, even by SIGKILL: no orphans.
  process.on('disconnect', () => {
    logger.warn('primary is gone; exiting');
    registry.destroyAll();
    void finish(1);
  });

  // A ramp of thousands of connections a second overflows Node's default
  // accept backlog of 511; the kernel caps this at net.core.somaxconn.
  // With SO_REUSEPORT this backlog is this worker's own accept queue.
  const reusePort = config.acceptPath === 'reuseport';
  // Fastify hands these options to net.Server#listen as they are. `exclusive`
  // makes the worker bind its own socket instead of asking the primary for a
  // shared one, and `reusePort` lets every worker bind the same port. It is
  // passed as a variable because Fastify's listen types predate it.
  const listenOptions = { port: config.port, host: config.host, backlog: LISTEN_BACKLOG, exclusive: reusePort, reusePort };
  await app.listen(listenOptions);
  registry.start();
  process.send?.({ type: 'listening', acceptPath: config.acceptPath } satisfies WorkerMessage);
  logger.debug({ port: config.port, acceptPath: config.acceptPath, tickPhase }, 'worker listening');
}
