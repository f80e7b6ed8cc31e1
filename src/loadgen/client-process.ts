// One client process, forked by the coordinator: it waits for its plan, runs
// a connection pool, reports progress once a second and its result at the end,
// over the IPC channel. It ends on the coordinator's stop, when the channel
// closes (the coordinator is gone), or at its own deadline, whichever is first.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ConnectionPool } from './connection-pool.js';
import type { ClientMessage, ClientPlan, CoordinatorMessage } from './messages.js';
import type { ClientResult } from './report.js';

const PROGRESS_MS = 1_000;
// monitorEventLoopDelay records the time between its own timer's runs, so
// every sample includes this resolution; it is subtracted to leave the delay.
// Coarse on purpose: a large run has dozens of client processes, and each
// wake-up of each of them costs the machine the server runs on.
const LOOP_DELAY_RESOLUTION_MS = 1_000;

function send(message: ClientMessage, then?: () => void): void {
  if (!process.connected) {
    then?.();
    return;
  }
  process.send!(message, undefined, undefined, () => then?.());
}

function delayMs(nanoseconds: number): number {
  return Math.max(0, Math.round((nanoseconds / 1e6 - LOOP_DELAY_RESOLUTION_MS) * 100) / 100);
}

function run(plan: ClientPlan): void {
  const rssStartBytes = process.memoryUsage.rss();
  // The client's own event-loop delay: large values mean measured gaps include the client's lag, not only the server's.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loopDelay.enable();
  let finished = false;

  const pool = new ConnectionPool(plan, () => {
    // The ramp's garbage (connect requests, write requests, head strings) is
    // not what a held connection costs; one full collection here (the
    // coordinator starts this process with --expose-gc) makes the RSS sampled
    // over the hold reflect the held connections. It runs once, and takes a
    // few milliseconds at 20,000 sockets.
    (globalThis as { gc?: () => void }).gc?.();
    send({ type: 'progress', progress: pool.progress(plan.share.index, process.memoryUsage.rss()) });
  });

  const progressTimer = setInterval(() => {
    send({ type: 'progress', progress: pool.progress(plan.share.index, process.memoryUsage.rss()) });
  }, PROGRESS_MS);

  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearInterval(progressTimer);
    clearTimeout(deadline);
    const rssBytes = process.memoryUsage.rss();
    const { establishedAtStop, notAttempted } = pool.stop();
    loopDelay.disable();
    const result: ClientResult = {
      ...pool.progress(plan.share.index, rssBytes),
      establishedAtStop,
      notAttempted,
      rssStartBytes,
      eventLoopDelayMs: { p99: delayMs(loopDelay.percentile(99)), max: delayMs(loopDelay.max) },
      gapMs: pool.gaps.toJSON(),
      firstHeartbeatMs: pool.firstHeartbeat.toJSON(),
      connectMs: pool.connectTime.toJSON(),
      deliveryMs: pool.events.delivery.toJSON(),
      arrivals: pool.events.arrivals.toJSON(),
    };
    // Every socket is destroyed and every timer cleared; exit rather than wait
    // for the last 'close' events, once the result is on its way.
    send({ type: 'result', result }, () => process.exit(0));
  };

  const deadline = setTimeout(finish, plan.deadlineMs);
  process.on('message', (message: CoordinatorMessage) => {
    if (message.type === 'stop') finish();
    else if (message.type === 'mark') pool.mark();
    else if (message.type === 'freeze') pool.freeze();
  });
  process.on('disconnect', finish);
  pool.start();
}

if (process.send === undefined) {
  process.stderr.write('client-process.js is started by the load generator (million-sse-loadgen), not by hand\n');
  process.exit(2);
}

// A Ctrl-C reaches the whole process group. The coordinator decides when the
// run ends and asks for each process's result; a client that died on the
// signal would take its share of the numbers with it.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

process.once('message', (message: CoordinatorMessage) => {
  if (message.type === 'start') run(message.plan);
});
