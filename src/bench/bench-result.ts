// The benchmark's JSON result, its self-consistency checks, and the markdown
// table that sets each of the original experiment's criteria beside our figure.
import type { KernelSample, MachineCpu } from './proc-sampler.js';
import type { SecondFigures, StallProfile } from './stall-profile.js';
import type { Percentiles } from '../loadgen/histogram.js';
import type { FanOut, FanOutComparison } from './fan-out-figures.js';

export interface Sample {
  /** Milliseconds since the hold started. */
  t: number;
  rss: Record<string, number>;
  loadgenRss: number;
  kernel: KernelSample;
  connections: number | null;
  heartbeatsPerSec: number;
  /** CPU used since the last sample, in cores (CPU seconds per second of wall time): the server's processes, the load generator's, the whole machine by kind. Absent in older results. */
  cpu?: { server: number; loadgen: number; machine: MachineCpu };
  /** The workers' last second, from the status feed: GC pauses summed (ms), workers with a major GC, the worst event-loop delay, V8 heap in use summed (which part of a growing RSS is the heap; absent in results before it was sampled), and the heap left after each worker's last major GC summed (only once every worker has had one). Null without a feed. */
  workers?: { gcPauseMs: number; gcMajorPauseMs: number; inMajorGc: number; worstLoopDelayMs: number; heapUsedBytes?: number; heapLiveBytes?: number } | null;
}

type Counted = { total: number; byReason: Record<string, number> };

export interface BenchResult {
  version: 1;
  date: string;
  machine: { cores: number; memoryBytes: number; kernel: string; node: string; openFileLimit: number };
  settings: {
    connections: number;
    holdSeconds: number;
    settleSeconds?: number;
    rate: number;
    heartbeatMs: number;
    workers: number;
    quick: boolean;
    sources: string;
    maxPending: number;
    connectTimeoutMs: number;
    /** Absent in results from before the C engine, the namespace and spread ticks. */
    engine?: 'node' | 'c';
    batchMs?: number | null;
    tickPhase?: 'spread' | 'aligned';
    acceptPath?: 'reuseport' | 'round-robin';
    /** --hosts: app hosts behind HAProxy; absent or null: one cluster, reached directly. */
    hosts?: number | null;
    /** --direct: the app host reached without HAProxy. */
    direct?: boolean;
    /** --publish-rate, --topics, --payload: present when the run published. */
    publishRate?: number;
    topics?: number;
    payloadBytes?: number;
  };
  /** Where the run happened: a namespace made for it (null: the host) and its established-hash size. */
  host?: { netns: string | null; ehashBuckets: number | null; ownEhash: boolean | null };
  tuning: string[];
  /** Streams the load generator had open at its peak. */
  established: number;
  /** The highest count /status_watcher reported from Redis during the hold. */
  statusConnections: number;
  heldAtEndOfHold: number | null;
  failed: Counted;
  closedByServer: Counted;
  rampMs: number;
  memory: {
    idleRssBytes: Record<string, number>;
    holdRssMedianBytes: Record<string, number>;
    /** (Σ hold-median RSS − Σ idle RSS) of primary, workers and Redis, over N. */
    serverBytesPerConnection: number;
    /** Growth of the kernel's slab over N; both ends of each connection are on this machine. */
    kernelSlabBytesPerConnection: number;
    kernelTcpBufferBytes: number;
    loadgenBytesPerConnection: number | null;
    memAvailableBytesAtHold: number;
    /**
     * Where in the hold (ms from its start) the slopes below begin: the first
     * sample from which the count held no longer changed. Null: it changed
     * until the end, and there are no slopes.
     */
    slopesFromMs?: number | null;
    /** Least-squares slope of the server's total RSS over the hold from slopesFromMs, bytes per hour. */
    serverRssSlopeBytesPerHour?: number | null;
    /** The same for the V8 heap in use, summed over the workers: live JavaScript and garbage not yet collected. */
    workersHeapSlopeBytesPerHour?: number | null;
    /**
     * The same for the heap left after each worker's last major GC, summed
     * over the workers, from the samples where every worker has had one: live
     * JavaScript alone, so growth here is a leak.
     */
    workersHeapLiveSlopeBytesPerHour?: number | null;
  };
  cpu: {
    serverSecondsDuringHold: number;
    heartbeatsDuringHold: number;
    microsecondsPerHeartbeat: number | null;
    loadPerCore: number;
    holdSeconds: number;
  };
  ping: {
    samples: number;
    failures: number;
    /** Each failure's message and its count, where any failed. */
    failureCauses?: Record<string, number>;
    /** Seconds with no probe because the last one was still waiting for its answer. */
    skipped?: number;
    last60: { medianMs: number; meanMs: number };
    p50Ms: number;
    p99Ms: number;
    burstRatePerSec: number;
    burstFailures: number;
  };
  heartbeats: {
    expectedIntervalMs: number;
    /** Over the hold: the load generator counts gaps from the end of the settle to the end of the hold, before the /ping burst. */
    gapMs: Percentiles;
    measuredFrom?: string | null;
    measuredUntil?: string | null;
    /** Each load-generator process's own gaps: the median and the worst of their p99s, the worst max. */
    perProcessGapMs?: { processes: number; medianP99: number | null; worstP99: number | null; worstMax: number | null };
    late: number;
    /** Frames the clients received: one opening frame per stream plus the heartbeats. */
    receivedFrames: number;
    /** Of those, updates (events carrying a publish time): not heartbeats. Absent in older results. */
    updateFrames?: number;
    openingFrames: number;
    serverWritten: number;
    serverWrittenAtEndOfHold: number;
  };
  loadgen: { exitCode: number | null; processes: number; endedBy: string; complete: boolean };
  /** The hold's stall seconds set against its other seconds (see stall-profile.ts); absent in older results, null without a status feed. */
  stalls?: StallProfile | null;
  /** With --publish-rate: the fan-out over the hold; the hold's heartbeat gaps and /ping are then those during it. Absent or null: no publishing. */
  fanOut?: FanOut | null;
  samples: Sample[];
  /** With --compare: million-sse against a bare node:net loop, medians of alternating runs. */
  comparison: Comparison | null;
  /** With --compare nchan,floor: the fan-out of each, one run each, and million-sse's ratios to them. Absent in older results. */
  fanOutComparison?: FanOutComparison | null;
}

interface CompareSide {
  microsecondsPerHeartbeat: number[];
  bytesPerConnection: number[];
  medianMicroseconds: number;
  medianBytes: number;
}

export interface Comparison {
  runs: number;
  millionSse: CompareSide;
  bare: CompareSide;
  /** million-sse's median CPU per heartbeat over the bare loop's. */
  cpuRatio: number;
  memoryRatio: number;
}

/** What must hold in any complete run, whatever the timings: problems found, empty when none. */
export function consistencyProblems(result: BenchResult): string[] {
  const problems: string[] = [];
  const n = result.settings.connections;
  if (result.established !== n) problems.push(`established ${result.established}, expected ${n}`);
  if (result.statusConnections !== result.established) problems.push(`/status_watcher reported ${result.statusConnections}, the load generator established ${result.established}`);
  if (result.failed.total !== 0) problems.push(`${result.failed.total} connections failed: ${JSON.stringify(result.failed.byReason)}`);
  const received = result.heartbeats.receivedFrames - result.heartbeats.openingFrames - (result.heartbeats.updateFrames ?? 0);
  const written = result.heartbeats.serverWritten;
  // Every heartbeat a client received was written by the server; at most one
  // per stream can be in flight (or written to a closing socket) at the end,
  // and through HAProxy (--hosts) one more, on the proxy's side of the stream.
  const inFlight = result.settings.hosts ? 2 : 1;
  if (received > written) problems.push(`clients received ${received} heartbeats, more than the ${written} written`);
  if (written - received > inFlight * result.heartbeats.openingFrames) {
    problems.push(`${written - received} heartbeats written but never received, more than ${inFlight === 1 ? 'one' : inFlight} per stream`);
  }
  // Memory per connection is a measurement, not a consistency rule: at a few
  // thousand connections garbage collection alone can make it come out negative.
  for (const [name, rss] of Object.entries(result.memory.holdRssMedianBytes)) if (!(rss > 0)) problems.push(`no RSS samples for ${name}`);
  if (result.ping.samples === 0) problems.push('no /ping samples');
  if (result.loadgen.exitCode !== 0) problems.push(`the load generator exited with ${result.loadgen.exitCode}`);
  const fan = result.fanOut;
  if (fan) {
    if (fan.publish.failed.total > 0) problems.push(`${fan.publish.failed.total} publishes failed: ${JSON.stringify(fan.publish.failed.byReason)}`);
    if (fan.missing > 0) problems.push(`${fan.missing} of ${fan.expected} deliveries missing`);
    if (fan.duplicates > 0 || fan.outOfOrder > 0) problems.push(`${fan.duplicates} duplicate and ${fan.outOfOrder} out-of-order deliveries`);
    if (fan.received === 0) problems.push('no update delivered');
  }
  return problems;
}

const kb = (bytes: number | null): string => (bytes === null ? 'n/a' : bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`);
const s = (ms: number | null): string => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);

function slope(bytesPerHour: number | null | undefined): string {
  if (bytesPerHour === null || bytesPerHour === undefined) return 'n/a';
  const mb = bytesPerHour / (1024 * 1024);
  return `${mb >= 0 ? '+' : ''}${mb.toFixed(1)} MB/hour`;
}

/** Stall seconds against the others, medians: where the CPU went when the workers fell behind. */
function stallLine(stalls: StallProfile): string {
  const figures = (f: SecondFigures): string =>
    `server ${f.serverCpu} / load generator ${f.loadgenCpu} cores; user ${f.user}, system ${f.system}, softirq ${f.softirq}, steal ${f.steal}, idle ${f.idle}; ` +
    `GC ${f.gcPauseMs} ms (major ${f.gcMajorPauseMs} ms, ${Math.round(f.withMajorGc * 100)} % of seconds with one)`;
  const stalled = stalls.stalled ? `; a stall second: ${figures(stalls.stalled)}` : '';
  const steady = stalls.steady ? `; a steady second: ${figures(stalls.steady)}` : '';
  return `${stalls.seconds} of ${stalls.ofSeconds} s${stalled}${steady}`;
}

function hostLine(result: BenchResult): string {
  const { host, settings } = result;
  const where = host?.netns ? `namespace ${host.netns}` : 'host loopback';
  const hash = host?.ehashBuckets ? `, established hash ${host.ehashBuckets.toLocaleString('en-US')} buckets` : '';
  const engine = settings.engine ? `; load generator: ${settings.engine} engine${settings.batchMs ? ` (reads batched every ${settings.batchMs} ms)` : ''}` : '';
  const perHost = settings.hosts ? ' per host' : '';
  const server = settings.acceptPath ? `; server: ${settings.workers} workers${perHost}, accept path ${settings.acceptPath}, ticks ${settings.tickPhase}` : '';
  const hosts = !settings.hosts
    ? ''
    : settings.direct
      ? '; to one app host directly over veth, no HAProxy (server figures count the app host and Redis with its Sentinels)'
      : `; through HAProxy to ${settings.hosts} app hosts (server figures count every app host, HAProxy and Redis with its Sentinels)`;
  return `${where}${hash}${engine}${server}${hosts}`;
}

const ms = (value: number | null): string => (value === null ? 'n/a' : `${value} ms`);

/** The fan-out's rows, where the run published. */
function fanOutRows(result: BenchResult): Array<[string, string, string]> {
  const f = result.fanOut;
  if (!f) return [];
  const failed = f.publish.failed.total > 0 ? ` (${Object.entries(f.publish.failed.byReason).map(([k, v]) => `${k} ${v}`).join(', ')})` : '';
  const rows: Array<[string, string, string]> = [
    ['publishing', '', `${f.publish.ok.toLocaleString('en-US')} of ${f.publish.attempted.toLocaleString('en-US')} accepted over ${f.publish.seconds} s (${f.publishRate}/s, ${f.topics} topic${f.topics === 1 ? '' : 's'}, ${f.payloadBytes} B), ${f.publish.failed.total} failed${failed}; publish p50 ${ms(f.publish.latencyMs.p50)}, p99 ${ms(f.publish.latencyMs.p99)}`],
    ['deliveries', '', `${f.deliveriesPerSec.toLocaleString('en-US')} /s; ${f.received.toLocaleString('en-US')} of ${f.expected.toLocaleString('en-US')} due, ${f.missing} missing, ${f.duplicates} duplicate, ${f.outOfOrder} out of order`],
    ['delivery latency', '', `p50 ${ms(f.deliveryMs.p50)}, p99 ${ms(f.deliveryMs.p99)}, max ${ms(f.deliveryMs.max)} (publish time to the client's read; heartbeat gaps and /ping above are during the fan-out)`],
  ];
  if (f.lastSubscriber) {
    const l = f.lastSubscriber;
    rows.push(['until the last subscriber has it', '', `median ${ms(l.medianMs)}, max ${ms(l.maxMs)} over ${l.updates} updates (${l.reachedAll} reached every subscriber)`]);
  }
  return rows;
}

export function markdownTable(result: BenchResult): string {
  const { heartbeats: hb, memory, cpu, ping } = result;
  const n = result.settings.connections.toLocaleString('en-US');
  const rows: Array<[string, string, string]> = [
    ['connections held', '1,000,000 (50 client machines)', `${result.established.toLocaleString('en-US')} of ${n}, ${result.failed.total} failed (one machine, load generator included)`],
    ['memory per connection', '15 KB (15 GB budget / 1M)', `${kb(memory.serverBytesPerConnection)} server user space; kernel slab ${kb(memory.kernelSlabBytesPerConnection)} (both ends)`],
    ['load per core', '1.25 (10 on 8 CPUs)', `${cpu.loadPerCore} (load ${(cpu.loadPerCore * result.machine.cores).toFixed(2)} on ${result.machine.cores} cores, load generator included)`],
    ['/ping rate sustained', '≥ 100 /s', `${ping.burstRatePerSec.toLocaleString('en-US')} /s while holding`],
    ['/ping latency (1/s prober)', 'mean of last 60', `median ${ping.last60.medianMs} ms, mean ${ping.last60.meanMs} ms, p99 ${ping.p99Ms} ms${ping.skipped ? `; ${ping.skipped} seconds skipped behind a slow answer` : ''}`],
    ['heartbeat gap p99', `${s(hb.expectedIntervalMs)}, without lag`, `${s(hb.gapMs.p99)} (p50 ${s(hb.gapMs.p50)}, max ${s(hb.gapMs.max)}), ${hb.late} late${hb.measuredFrom ? ', over the hold' : ''}${hb.perProcessGapMs?.worstP99 ? `; worst client process p99 ${s(hb.perProcessGapMs.worstP99)}, max ${s(hb.perProcessGapMs.worstMax)}` : ''}`],
    ['server CPU per heartbeat', '', cpu.microsecondsPerHeartbeat === null ? 'n/a' : `${cpu.microsecondsPerHeartbeat} µs`],
    ...(result.stalls ? [['stall seconds (a worker ≥ 0.5 s late)', '', stallLine(result.stalls)] as [string, string, string]] : []),
    ['time to establish', '', s(result.rampMs)],
    ['load generator memory', '', `${kb(memory.loadgenBytesPerConnection)} per connection`],
    ['an hour held, no growth in RAM', 'held 1 hour', `${result.heldAtEndOfHold?.toLocaleString('en-US') ?? 'n/a'} held at the end of a ${result.cpu.holdSeconds} s hold; from ${memory.slopesFromMs == null ? 'n/a' : Math.round(memory.slopesFromMs / 1000)} s on, with the count steady, server RSS slope ${slope(memory.serverRssSlopeBytesPerHour)}${memory.workersHeapSlopeBytesPerHour == null ? '' : ` (the workers' V8 heap in use: ${slope(memory.workersHeapSlopeBytesPerHour)}${memory.workersHeapLiveSlopeBytesPerHour == null ? '' : `; left after their major GCs: ${slope(memory.workersHeapLiveSlopeBytesPerHour)}`})`}`],
    ...fanOutRows(result),
    ['host', '', hostLine(result)],
  ];
  const table = [
    `| criterion | original (1mc2) | million-sse, ${n} connections |`,
    '| --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
  const c = result.comparison;
  if (c !== null) {
    table.push(
      '',
      `Against a bare \`node:net\` SSE loop with a shared timing wheel, same machine, same N, ${c.runs} alternating runs each (medians):`,
      '',
      '| server | µs CPU per heartbeat (runs) | user-space bytes per connection (runs) |',
      '| --- | --- | --- |',
      `| million-sse | ${c.millionSse.medianMicroseconds} (${c.millionSse.microsecondsPerHeartbeat.join(', ')}) | ${c.millionSse.medianBytes} (${c.millionSse.bytesPerConnection.join(', ')}) |`,
      `| bare node:net | ${c.bare.medianMicroseconds} (${c.bare.microsecondsPerHeartbeat.join(', ')}) | ${c.bare.medianBytes} (${c.bare.bytesPerConnection.join(', ')}) |`,
      `| ratio | ${c.cpuRatio}x | ${c.memoryRatio}x |`,
    );
  }
  const f = result.fanOutComparison;
  if (f) {
    const r = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : `${x}x`);
    table.push(
      '',
      'The same clients and publishing against nginx + nchan and a bare `node:net` floor fed by one Redis channel, one run each, in this run:',
      '',
      '| server | until the last subscriber has it, median / max | delivery p50 / p99 / max | deliveries /s | missing | duplicate | publish p99 | /ping p99 | gap p99 | server CPU s |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...f.sides.map((s) => {
        const o = s.fanOut;
        const last = o.lastSubscriber ? `${ms(o.lastSubscriber.medianMs)} / ${ms(o.lastSubscriber.maxMs)}` : 'n/a';
        return `| ${s.target} | ${last} | ${ms(o.deliveryMs.p50)} / ${ms(o.deliveryMs.p99)} / ${ms(o.deliveryMs.max)} | ${o.deliveriesPerSec.toLocaleString('en-US')} | ${o.missing} | ${o.duplicates} | ${ms(o.publish.latencyMs.p99)} | ${ms(s.pingP99Ms)} | ${ms(s.gapP99Ms)} | ${s.serverCpuSeconds} |`;
      }),
      ...Object.entries(f.ratios).map(([name, x]) => `| million-sse / ${name} | ${r(x.lastSubscriberMedian)} | ${r(x.deliveryP50)} / ${r(x.deliveryP99)} |  |  |  |  |  |  |  |`),
    );
  }
  return table.join('\n');
}

export const INDEX_HEADER = [
  '| date | N | established | failed | server B/conn | kernel B/conn | CPU µs/heartbeat | load/core | ping p99 ms | ping /s | gap p99 s | gap max s | ramp s | result |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
].join('\n');

export function indexRow(result: BenchResult, file: string): string {
  const cells = [
    result.date.slice(0, 16).replace('T', ' '),
    result.settings.connections,
    result.established,
    result.failed.total,
    result.memory.serverBytesPerConnection,
    result.memory.kernelSlabBytesPerConnection,
    result.cpu.microsecondsPerHeartbeat ?? 'n/a',
    result.cpu.loadPerCore,
    result.ping.p99Ms,
    result.ping.burstRatePerSec,
    s(result.heartbeats.gapMs.p99),
    s(result.heartbeats.gapMs.max),
    (result.rampMs / 1000).toFixed(1),
    `[${file}](${file})`,
  ];
  return `| ${cells.join(' | ')} |`;
}
