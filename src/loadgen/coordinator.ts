// The coordinator: starts the client processes (of either engine: engine.ts),
// gives each its share, follows their progress, decides when the ramp is over
// and when the hold ends, then collects every process's result, adds them up
// and writes the report.
//
// Its states: ramp (until every process has tried every connection once),
// hold (--hold seconds), stopping (stop sent, results awaited). The run ends
// after the hold, at --duration, on a signal, or when a client process dies.
// Each wait is bounded: the duration timer is armed at the start, and a stop
// arms a grace timer after which any process that has not answered is killed.
import type { ChildProcess } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { isIP, isIPv4 } from 'node:net';
import { startClient } from './engine.js';
import type { ClientMessage, ClientPlan, CoordinatorMessage } from './messages.js';
import type { LoadgenOptions } from './options.js';
import type { ProcessShare } from './process-plan.js';
import { buildReport, lastKnown, summaryLine, writeReport, type ClientRecord } from './final-report.js';
import { formatProgress, ProgressWriter, type Phase } from './progress-line.js';
import { sumProgress, type EndedBy, type Totals } from './report.js';
import { ephemeralPortCount } from './source-range.js';
import { topicTarget } from './topics.js';

const STOP_GRACE_MS = 15_000;
// A client stops on its own this long after --duration, should the coordinator hang.
const CLIENT_DEADLINE_SLACK_MS = 30_000;
// The late allowance on top of the heartbeat interval.
const LATE_ALLOWANCE_MS = 1_000;
const MAX_RSS_SAMPLES = 100_000;
// `timeout` and a terminal both signal the process group: one request to stop can arrive twice at once.
const REPEAT_SIGNAL_WINDOW_MS = 500;

interface Client extends ClientRecord {
  child: ChildProcess;
  exited: Promise<void>;
}

export interface CoordinatorIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** The request, and where in it each connection's topic number goes (0 without --topics). */
function buildRequest(options: LoadgenOptions): { request: string; topicAt: number } {
  const { target } = options;
  const topics = options.topics > 0 ? topicTarget(target.path) : { target: target.path, topicAt: 0 };
  const method = 'GET ';
  const lines = [
    `${method}${topics.target} HTTP/1.1`,
    `Host: ${target.hostHeader}`,
    'Accept: text/event-stream',
    'Cache-Control: no-cache',
    'User-Agent: million-sse-loadgen',
    ...options.headers,
  ];
  return { request: `${lines.join('\r\n')}\r\n\r\n`, topicAt: options.topics > 0 ? method.length + topics.topicAt : 0 };
}

async function resolveHost(host: string, sources: readonly string[]): Promise<string> {
  if (isIP(host) !== 0) return host;
  // Bound sockets must connect within their own family.
  const family = sources.length > 0 ? (isIPv4(sources[0]!) ? 4 : 6) : 0;
  return (await lookup(host, { family })).address;
}

/** Warns when the source addresses cannot have enough ephemeral ports for the run. */
function portWarning(options: LoadgenOptions): string | undefined {
  const ports = ephemeralPortCount();
  const count = Math.max(1, options.sources.length);
  const perSource = Math.ceil(options.connections / count);
  if (perSource <= ports) return undefined;
  const fix = options.sources.length === 0 ? 'pass --sources with several addresses' : 'pass more --sources';
  return (
    `warning: ${perSource} connections per source address, but the ephemeral port range ` +
    `(/proc/sys/net/ipv4/ip_local_port_range) has ${ports} ports; ${fix}`
  );
}

export async function runCoordinator(options: LoadgenOptions, shares: ProcessShare[], io: CoordinatorIo): Promise<number> {
  const progress = new ProgressWriter(io.stderr);
  const warning = portWarning(options);
  if (warning !== undefined) progress.note(warning);
  const host = await resolveHost(options.target.host, options.sources);
  const { request, topicAt } = buildRequest(options);

  const startedAt = new Date();
  const start = performance.now();
  let phase: Phase = 'ramp';
  let rampDoneAt: Date | null = null;
  let rampMs: number | null = null;
  let stoppedAt: Date | null = null;
  // Set by stop(), which runs from callbacks; `as` keeps TypeScript from narrowing it to the initial value.
  let endedBy = 'hold' as EndedBy;
  let stopRequestedAt = 0;
  let peakEstablished = 0;
  let coordinatorRssPeak = process.memoryUsage.rss();
  let holdTimer: NodeJS.Timeout | undefined;
  let markTimer: NodeJS.Timeout | undefined;
  let measuredFrom: Date | null = null;
  let freezeTimer: NodeJS.Timeout | undefined;
  let measuredUntil: Date | null = null;
  let durationTimer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let lastOpened = 0;
  let lastPrintAt = start;

  const clients: Client[] = shares.map((share) => {
    const child = startClient(options.engine);
    const client: Client = {
      share,
      pid: child.pid ?? null,
      child,
      latest: undefined,
      result: undefined,
      rssPeak: 0,
      holdSamples: [],
      problem: null,
      // A fork that fails to start emits 'error', and may not emit 'close'.
      // 'close' comes after 'exit' and after the channel's last message.
      exited: new Promise((resolve) => {
        child.once('close', () => resolve());
        child.once('error', () => child.pid === undefined && resolve());
      }),
    };
    child.on('message', (message: ClientMessage) => onMessage(client, message));
    // 'close', not 'exit': a process that sends its result and exits at once
    // can be seen to exit before its last message has been read from the
    // channel (seen at 250,000 connections, with both cores busy closing them).
    child.once('close', (code, signal) => {
      if (client.result === undefined) {
        client.problem ??= signal === null ? `exited with code ${code} before reporting` : `killed by ${signal} before reporting`;
        stop('error');
      }
    });
    // Also a failed IPC send; the process then has no full share in the result.
    child.on('error', (err) => {
      client.problem ??= `process error: ${err.message}`;
    });
    const plan: ClientPlan = {
      share,
      host,
      port: options.target.port,
      request,
      topics: options.topics,
      topicAt,
      sources: options.sources,
      connectTimeoutMs: options.connectTimeoutMs,
      lateAfterMs: options.heartbeatMs === 0 ? 0 : options.heartbeatMs + LATE_ALLOWANCE_MS,
      reconnect: options.reconnect,
      deadlineMs: options.durationMs + CLIENT_DEADLINE_SLACK_MS,
      ...(options.engine === 'c' ? { batchMs: options.batchMs } : {}),
    };
    send(client, { type: 'start', plan });
    return client;
  });

  function send(client: Client, message: CoordinatorMessage): void {
    if (client.child.connected) client.child.send(message, (err) => err && (client.problem ??= `IPC: ${err.message}`));
  }

  function latestTotals(): Totals {
    return sumProgress(clients.flatMap((c) => lastKnown(c) ?? []));
  }

  function onMessage(client: Client, message: ClientMessage): void {
    const p = message.type === 'progress' ? message.progress : message.result;
    if (message.type === 'result') client.result = message.result;
    else client.latest = message.progress;
    client.rssPeak = Math.max(client.rssPeak, p.rssBytes);
    if (phase === 'hold' && client.holdSamples.length < MAX_RSS_SAMPLES) client.holdSamples.push(p.rssBytes);
    coordinatorRssPeak = Math.max(coordinatorRssPeak, process.memoryUsage.rss());
    if (phase === 'stopping') return;
    peakEstablished = Math.max(peakEstablished, latestTotals().established);
    if (phase === 'ramp' && clients.every((c) => c.latest?.rampDone === true)) {
      phase = 'hold';
      rampDoneAt = new Date();
      rampMs = Math.round(performance.now() - start);
      holdTimer = setTimeout(() => stop('hold'), options.holdMs);
      if (options.measureAfterMs !== null) {
        markTimer = setTimeout(() => {
          measuredFrom = new Date();
          for (const client of clients) send(client, { type: 'mark' });
          if (options.measureForMs !== null) {
            freezeTimer = setTimeout(() => {
              measuredUntil = new Date();
              for (const client of clients) send(client, { type: 'freeze' });
            }, options.measureForMs);
          }
        }, options.measureAfterMs);
      }
    }
  }

  function stop(reason: EndedBy): void {
    if (phase === 'stopping') return;
    phase = 'stopping';
    endedBy = reason;
    stoppedAt = new Date();
    stopRequestedAt = Date.now();
    clearTimeout(holdTimer);
    clearTimeout(markTimer);
    clearTimeout(freezeTimer);
    clearTimeout(durationTimer);
    for (const client of clients) send(client, { type: 'stop' });
    graceTimer = setTimeout(() => kill(`no result within ${STOP_GRACE_MS} ms of the stop; killed`), STOP_GRACE_MS);
  }

  function kill(problem: string): void {
    for (const client of clients) {
      if (client.child.exitCode !== null || client.child.signalCode !== null) continue;
      // One that has reported is only slow to exit (its kernel is closing
      // 20,000 sockets at once): killed, but its result stands. At a million
      // all 51 C processes had reported and were still marked as failed.
      if (client.result === undefined) client.problem ??= problem;
      client.child.kill('SIGKILL');
    }
  }

  const onSignal = (signal: NodeJS.Signals): void => {
    if (phase !== 'stopping') {
      progress.note(`${signal}: stopping; the report follows (a second ${signal} ends at once)`);
      stop('signal');
    } else if (Date.now() - stopRequestedAt > REPEAT_SIGNAL_WINDOW_MS) {
      kill(`killed on a second ${signal}`);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  durationTimer = setTimeout(() => stop('duration'), options.durationMs);
  const printProgress = (): void => {
    const now = performance.now();
    const totals = latestTotals();
    const rss = process.memoryUsage.rss();
    coordinatorRssPeak = Math.max(coordinatorRssPeak, rss);
    const snapshot = {
      id: options.id,
      elapsedMs: now - start,
      phase,
      requested: options.connections,
      totals,
      openRate: ((totals.opened - lastOpened) * 1000) / Math.max(1, now - lastPrintAt),
      rssBytes: rss + totals.rssBytes,
      processes: clients.length,
    };
    progress.write(options.progressJson ? JSON.stringify(snapshot) : formatProgress(snapshot));
    lastOpened = totals.opened;
    lastPrintAt = now;
  };
  const progressTimer = options.progressMs > 0 ? setInterval(printProgress, options.progressMs) : undefined;

  await Promise.all(clients.map((c) => c.exited));
  clearInterval(progressTimer);
  clearTimeout(graceTimer);
  clearTimeout(durationTimer);
  clearTimeout(holdTimer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (options.progressMs > 0) printProgress();
  progress.end();

  const report = buildReport({
    options,
    clients,
    startedAt,
    rampDoneAt,
    measuredFrom,
    measuredUntil,
    rampMs,
    stoppedAt,
    endedBy,
    peakEstablished,
    coordinatorRssPeak,
  });
  writeReport(options.reportPath, report);
  for (const client of clients) {
    if (client.problem !== null) io.stderr.write(`client process ${client.share.index}: ${client.problem}\n`);
  }
  io.stdout.write(`${summaryLine(report, options.reportPath)}\n`);
  return report.complete && endedBy !== 'error' ? 0 : 1;
}
