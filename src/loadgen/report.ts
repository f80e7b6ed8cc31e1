// What client processes report, and the run's report: the types, and how
// per-process numbers add up. Every client message carries absolute totals,
// never increments, so a lost or repeated progress message cannot skew a sum.
import type { Engine } from './engine.js';
import type { Arrival } from './arrival-tracker.js';
import type { UpdateCounts } from './event-reader.js';
import { Histogram, type HistogramData, type Percentiles } from './histogram.js';

/** Counts by reason: `ECONNREFUSED`, `HTTP_503`, `TIMEOUT`, `EOF`... */
export type Counts = Record<string, number>;

/** Updates counted as event-reader.ts reads them: received, duplicates, out of order, skipped. */
export interface ClientProgress extends UpdateCounts {
  index: number;
  pid: number;
  /** Connection attempts made, reconnects included. */
  attempts: number;
  /** Attempts in flight: connecting, or waiting for the response head. */
  pending: number;
  /** Streams open now. */
  established: number;
  /** Streams ever established, reconnects included. */
  opened: number;
  /** First attempts that failed, by reason. */
  failed: Counts;
  /** Established streams that the server (or the network) ended, by reason. */
  closedByServer: Counts;
  /** Reconnect attempts (with --reconnect). */
  reconnects: number;
  reconnectsFailed: Counts;
  /** Frames received: events, comments and NUL bytes. */
  heartbeats: number;
  /** Silences longer than the heartbeat interval plus the allowance. */
  late: number;
  /** Streams silent for longer than that right now. */
  overdue: number;
  /** Every connection has been tried once, and each attempt has succeeded or failed. */
  rampDone: boolean;
  rssBytes: number;
}

export interface ClientResult extends ClientProgress {
  establishedAtStop: number;
  /** Connections never tried because the run ended first. */
  notAttempted: number;
  rssStartBytes: number;
  eventLoopDelayMs: { p99: number; max: number };
  gapMs: HistogramData;
  firstHeartbeatMs: HistogramData;
  connectMs: HistogramData;
  /** From each update's publish time to its read. */
  deliveryMs: HistogramData;
  /** Per update (sequence number): clients of this process that got it, and the latest delivery. */
  arrivals: Arrival[];
  /**
   * The C engine's batch period: its reads, and so the times of frames, are
   * taken once per period, so its gaps are measured to within this. Absent
   * from the Node engine, which reads each socket as data arrives.
   */
  batchMs?: number;
}

/** A run's figures summed over its client processes: a process's own, less what names it. */
export type Totals = Omit<ClientProgress, 'index' | 'pid' | 'rampDone'>;

export function total(counts: Counts): number {
  let sum = 0;
  for (const value of Object.values(counts)) sum += value;
  return sum;
}

function addCounts(into: Counts, from: Counts): void {
  for (const [reason, count] of Object.entries(from)) into[reason] = (into[reason] ?? 0) + count;
}

export function sumProgress(progresses: Iterable<ClientProgress>): Totals {
  const sum: Totals = {
    attempts: 0,
    pending: 0,
    established: 0,
    opened: 0,
    failed: {},
    closedByServer: {},
    reconnects: 0,
    reconnectsFailed: {},
    heartbeats: 0,
    updates: 0,
    duplicates: 0,
    outOfOrder: 0,
    skipped: 0,
    late: 0,
    overdue: 0,
    rssBytes: 0,
  };
  for (const p of progresses) {
    sum.attempts += p.attempts;
    sum.pending += p.pending;
    sum.established += p.established;
    sum.opened += p.opened;
    addCounts(sum.failed, p.failed);
    addCounts(sum.closedByServer, p.closedByServer);
    sum.reconnects += p.reconnects;
    addCounts(sum.reconnectsFailed, p.reconnectsFailed);
    sum.heartbeats += p.heartbeats;
    // Absent from a process of an older build; counted as none.
    sum.updates += p.updates ?? 0;
    sum.duplicates += p.duplicates ?? 0;
    sum.outOfOrder += p.outOfOrder ?? 0;
    sum.skipped += p.skipped ?? 0;
    sum.late += p.late;
    sum.overdue += p.overdue;
    sum.rssBytes += p.rssBytes;
  }
  return sum;
}

export function mergeHistograms(parts: Iterable<HistogramData>): Histogram {
  const merged = new Histogram();
  for (const part of parts) merged.merge(part);
  return merged;
}

export type EndedBy = 'hold' | 'duration' | 'signal' | 'error';

export interface ProcessReport {
  index: number;
  pid: number | null;
  connections: number;
  rssStartBytes: number | null;
  rssPeakBytes: number | null;
  /** Median of the once-a-second samples over the hold; null when there was no hold. */
  rssHoldMedianBytes: number | null;
  eventLoopDelayMs: { p99: number; max: number } | null;
  /** This process's own heartbeat gaps and late heartbeats; null when it did not report. */
  gapMs: Percentiles | null;
  late: number | null;
  /** Set when the process did not end with a result: how it exited, or why it was killed. */
  problem: string | null;
}

export interface Report {
  id: string;
  url: string;
  /** False when a client process crashed or was killed before reporting: the sums then miss its share. */
  complete: boolean;
  endedBy: EndedBy;
  timestamps: {
    startedAt: string;
    rampDoneAt: string | null;
    /** From here on gaps and late heartbeats were counted (--measure-after); null: the whole run. */
    measuredFrom: string | null;
    /** Until here (--measure-for); null: to the end of the run. */
    measuredUntil: string | null;
    stoppedAt: string | null;
    endedAt: string;
  };
  settings: {
    rate: number;
    sources: number;
    holdS: number;
    durationS: number;
    heartbeatMs: number;
    maxPending: number;
    connectTimeoutMs: number;
    reconnect: boolean;
    engine: Engine;
    /** The C engine's batch period (gaps are measured to within it); null for the Node engine. */
    batchMs: number | null;
  };
  connections: number;
  established: { peak: number; atEnd: number };
  /** Streams established over the run, reconnects included. */
  opened: number;
  attempts: number;
  failed: { total: number; byReason: Counts };
  notAttempted: number;
  closedByServer: { total: number; byReason: Counts };
  reconnects: { attempts: number; failed: { total: number; byReason: Counts } };
  heartbeats: number;
  /** What the clients read of the updates in their streams (see event-reader.ts). */
  updates: UpdateCounts & {
    /** From each update's publish time to the moment a client read it. */
    deliveryMs: Percentiles;
    /** Per update: clients that got it, and the latest delivery (for a broadcast: when the last subscriber had it). */
    arrivals: Arrival[];
  };
  late: number;
  /** Gaps between consecutive frames on a stream. */
  gapMs: Percentiles;
  /** From the response head to the stream's first frame (on million-sse, its opening comment). */
  firstHeartbeatMs: Percentiles;
  /** From the connection attempt to the response head. */
  connectMs: Percentiles;
  /** From the start until every connection was established or had failed; null if that never happened. */
  rampMs: number | null;
  processes: number;
  perProcess: ProcessReport[];
  memory: {
    coordinatorRssPeakBytes: number;
    clientsRssPeakBytes: number;
    clientsRssHoldMedianBytes: number | null;
    /** (Σ client hold-median RSS − Σ client RSS before the first connection) / streams held at the end. */
    bytesPerHeldConnection: number | null;
  };
}
