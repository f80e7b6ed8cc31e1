// The end of a run: the per-process records summed into the report, the
// report written to disk, and the one-line summary for stdout.
import { renameSync, writeFileSync } from 'node:fs';
import type { LoadgenOptions } from './options.js';
import type { ProcessShare } from './process-plan.js';
import { median } from '../stats/median.js';
import { mergeArrivals } from './arrival-tracker.js';
import { Histogram } from './histogram.js';
import { formatCounts, formatMegabytes } from './progress-line.js';
import {
  mergeHistograms,
  sumProgress,
  total,
  type ClientProgress,
  type ClientResult,
  type EndedBy,
  type ProcessReport,
  type Report,
} from './report.js';

/** What the coordinator knows of one client process at the end. */
export interface ClientRecord {
  share: ProcessShare;
  pid: number | null;
  latest: ClientProgress | undefined;
  result: ClientResult | undefined;
  rssPeak: number;
  /** RSS samples taken over the hold, one a second. */
  holdSamples: number[];
  /** Why the process has no result, or what went wrong with it; null when all is well. */
  problem: string | null;
}

/** A process's final result, or, for one lost before it reported, what it last reported. */
export function lastKnown(client: ClientRecord): ClientProgress | undefined {
  return client.result ?? client.latest;
}

interface ReportInput {
  options: LoadgenOptions;
  clients: ClientRecord[];
  startedAt: Date;
  rampDoneAt: Date | null;
  /** When gaps started to be counted afresh (--measure-after); null: over the whole run. */
  measuredFrom: Date | null;
  /** When they stopped being counted (--measure-for); null: to the end. */
  measuredUntil: Date | null;
  rampMs: number | null;
  stoppedAt: Date | null;
  endedBy: EndedBy;
  peakEstablished: number;
  coordinatorRssPeak: number;
}

export function buildReport(input: ReportInput): Report {
  const { options, clients } = input;
  const results = clients.flatMap((c) => (c.result ? [c.result] : []));
  // A process lost before its result still contributes what it last reported.
  const totals = sumProgress(clients.flatMap((c) => lastKnown(c) ?? []));
  const atEnd = clients.reduce((sum, c) => sum + (c.result?.establishedAtStop ?? c.latest?.established ?? 0), 0);
  const perProcess: ProcessReport[] = clients.map((c) => ({
    index: c.share.index,
    pid: c.pid,
    connections: c.share.connections,
    rssStartBytes: c.result?.rssStartBytes ?? null,
    rssPeakBytes: c.rssPeak > 0 ? c.rssPeak : null,
    rssHoldMedianBytes: c.holdSamples.length === 0 ? null : median(c.holdSamples),
    eventLoopDelayMs: c.result?.eventLoopDelayMs ?? null,
    gapMs: c.result === undefined ? null : Histogram.from(c.result.gapMs).summary(),
    late: c.result?.late ?? null,
    problem: c.problem,
  }));
  const holdMedians = perProcess.map((p) => p.rssHoldMedianBytes);
  const everyMedian = holdMedians.every((m) => m !== null);
  const clientsHoldMedian = everyMedian ? holdMedians.reduce<number>((sum, m) => sum + m!, 0) : null;
  const everyStart = perProcess.every((p) => p.rssStartBytes !== null);
  const clientsStart = perProcess.reduce((sum, p) => sum + (p.rssStartBytes ?? 0), 0);
  const complete = results.length === clients.length && clients.every((c) => c.problem === null);
  return {
    id: options.id,
    url: options.target.url,
    complete,
    endedBy: input.endedBy,
    timestamps: {
      startedAt: input.startedAt.toISOString(),
      rampDoneAt: input.rampDoneAt?.toISOString() ?? null,
      measuredFrom: input.measuredFrom?.toISOString() ?? null,
      measuredUntil: input.measuredUntil?.toISOString() ?? null,
      stoppedAt: input.stoppedAt?.toISOString() ?? null,
      endedAt: new Date().toISOString(),
    },
    settings: {
      rate: options.rate,
      sources: options.sources.length,
      holdS: options.holdMs / 1000,
      durationS: options.durationMs / 1000,
      heartbeatMs: options.heartbeatMs,
      maxPending: options.maxPending,
      connectTimeoutMs: options.connectTimeoutMs,
      reconnect: options.reconnect,
      engine: options.engine,
      batchMs: options.engine === 'c' ? options.batchMs : null,
    },
    connections: options.connections,
    established: { peak: Math.max(input.peakEstablished, atEnd), atEnd },
    opened: totals.opened,
    attempts: totals.attempts,
    failed: { total: total(totals.failed), byReason: totals.failed },
    notAttempted: results.reduce((sum, r) => sum + r.notAttempted, 0),
    closedByServer: { total: total(totals.closedByServer), byReason: totals.closedByServer },
    reconnects: {
      attempts: totals.reconnects,
      failed: { total: total(totals.reconnectsFailed), byReason: totals.reconnectsFailed },
    },
    heartbeats: totals.heartbeats,
    updates: {
      updates: totals.updates,
      duplicates: totals.duplicates,
      outOfOrder: totals.outOfOrder,
      skipped: totals.skipped,
      deliveryMs: mergeHistograms(results.map((r) => r.deliveryMs)).summary(),
      arrivals: mergeArrivals(results.map((r) => r.arrivals)),
    },
    late: totals.late,
    gapMs: mergeHistograms(results.map((r) => r.gapMs)).summary(),
    firstHeartbeatMs: mergeHistograms(results.map((r) => r.firstHeartbeatMs)).summary(),
    connectMs: mergeHistograms(results.map((r) => r.connectMs)).summary(),
    rampMs: input.rampMs,
    processes: clients.length,
    perProcess,
    memory: {
      coordinatorRssPeakBytes: input.coordinatorRssPeak,
      clientsRssPeakBytes: perProcess.reduce((sum, p) => sum + (p.rssPeakBytes ?? 0), 0),
      clientsRssHoldMedianBytes: clientsHoldMedian,
      bytesPerHeldConnection:
        clientsHoldMedian !== null && everyStart && atEnd > 0 ? Math.round((clientsHoldMedian - clientsStart) / atEnd) : null,
    },
  };
}

/** Written whole and renamed into place, so a reader never sees half a report. */
export function writeReport(path: string, report: Report): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(temporary, path);
}

export function summaryLine(r: Report, path: string): string {
  const ms = (value: number | null): string => (value === null ? '-' : `${value} ms`);
  const failed = r.failed.total > 0 ? ` (${formatCounts(r.failed.byReason)})` : '';
  const closed = r.closedByServer.total > 0 ? ` (${formatCounts(r.closedByServer.byReason)})` : '';
  const perConnection = r.memory.bytesPerHeldConnection === null ? '' : `, ${r.memory.bytesPerHeldConnection} B RSS per held connection`;
  return (
    `[${r.id}] ${r.endedBy}${r.complete ? '' : ' (INCOMPLETE)'}: ` +
    `established ${r.established.atEnd}/${r.connections} (peak ${r.established.peak}), ` +
    `failed ${r.failed.total}${failed}, closed by server ${r.closedByServer.total}${closed}, ` +
    `reconnects ${r.reconnects.attempts}, heartbeats ${r.heartbeats}, late ${r.late}, ` +
    (r.updates.updates > 0
      ? `updates ${r.updates.updates} (duplicates ${r.updates.duplicates}, out of order ${r.updates.outOfOrder}, skipped ${r.updates.skipped}, ` +
        `delivery p50 ${ms(r.updates.deliveryMs.p50)} p99 ${ms(r.updates.deliveryMs.p99)} max ${ms(r.updates.deliveryMs.max)}), `
      : '') +
    `gap p50 ${ms(r.gapMs.p50)} p99 ${ms(r.gapMs.p99)} max ${ms(r.gapMs.max)}, ` +
    `ramp ${r.rampMs === null ? '-' : `${(r.rampMs / 1000).toFixed(1)} s`}, ` +
    `rss peak ${formatMegabytes(r.memory.clientsRssPeakBytes + r.memory.coordinatorRssPeakBytes)}${perConnection}; report ${path}`
  );
}
