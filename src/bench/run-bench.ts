// One benchmark run: tune, start Redis and the cluster, measure them idle, open
// N connections with the load generator, sample through the hold, then stop
// everything and derive the figures the original experiment was judged by.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openFileLimit } from '../config/open-file-limit.js';
import type { Report as LoadgenReport } from '../loadgen/report.js';
import { formatProgress, type ProgressSnapshot } from '../loadgen/progress-line.js';
import type { BenchOptions } from './options.js';
import { childrenOf, cpuBetween, cpuSecondsOf, kernelSample, machineCpu, percentile, rssOf, type KernelSample } from './proc-sampler.js';
import { STALL_LOOP_DELAY_MS, stallProfile } from './stall-profile.js';
import { median } from '../stats/median.js';
import { PingProber, pingBurst } from './ping-prober.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIST, freePort, openLog } from './server-under-test.js';
import { startBare, startHosts, startMillionSse, type Target, type TargetOptions } from './targets.js';
import { hostsNetwork } from './hosts-network.js';
import type { BenchResult, Sample } from './bench-result.js';
import { ehashBuckets } from './netns-host.js';
import { benchNamespace } from '../config/bench-env.js';
import { defaultAcceptPath } from '../config/accept-path.js';
import { cEngineBuilt } from '../loadgen/c-engine.js';
import { checkEngineBuilt } from '../loadgen/engine.js';
import { Publisher, publisherKey, senderFor, type PublishFigures } from './publisher.js';
import { compareFanOuts, fanOutFigures, type FanOutSide } from './fan-out-figures.js';
import { startFloor } from './floor-target.js';
import { startNchan } from './nchan-target.js';

const run = promisify(execFile);
const ROOT = path.resolve(DIST, '..');
const IDLE_SECONDS = 5;
const BURST_SECONDS = 3;
const BURST_CONCURRENCY = 32;
/**
 * The share of a worker's open-file limit the benchmark plans to fill. With
 * SO_REUSEPORT the kernel hashes connections over the workers: binomial
 * shares, about 1 % apart at 18,000 each. Node's round-robin hands each
 * connection to the next worker that has taken its last one, so a busier
 * worker gets fewer and the others more: at 13 workers for 250,000 (3 % below
 * the limit on average) some filled up and answered 503.
 */
const WORKER_FILL = { reuseport: 0.9, 'round-robin': 0.85 } as const;
/** Sockets a process keeps for itself besides the connections it holds. */
const FD_MARGIN = 200;

type Log = (line: string) => void;


export interface Measurement {
  target: Target['name'];
  established: number;
  statusConnections: number;
  heldAtEndOfHold: number | null;
  failed: BenchResult['failed'];
  closedByServer: BenchResult['closedByServer'];
  rampMs: number;
  memory: BenchResult['memory'];
  cpu: BenchResult['cpu'];
  ping: BenchResult['ping'] | null;
  heartbeats: BenchResult['heartbeats'];
  loadgen: BenchResult['loadgen'];
  stalls: BenchResult['stalls'];
  fanOut: BenchResult['fanOut'];
  samples: Sample[];
}

/**
 * Measures one running target: idle baseline, ramp with the load generator,
 * hold with a sample a second, /ping burst, the load generator's report.
 */
async function measure(target: Target, options: BenchOptions, engine: 'node' | 'c', work: string, log: Log, publisherSecret?: string): Promise<Measurement> {
  const pids = target.pids();
  const publishing = options.publishRate > 0;
  const route = target.publishRoute?.(publisherSecret ?? '');
  if (publishing && (target.hubUrl === undefined || route === undefined)) throw new Error(`--publish-rate needs a target that takes updates, and ${target.name} does not`);
  const idle: Record<string, number[]> = {};
  const idleKernel: KernelSample[] = [];
  for (let i = 0; i < IDLE_SECONDS; i++) {
    for (const [name, pid] of Object.entries(pids)) (idle[name] ??= []).push(rssOf(pid) ?? 0);
    idleKernel.push(kernelSample());
    await sleep(1_000);
  }

  // The load generator holds for --hold seconds after its own ramp; we stop
  // sampling a little before that, to leave room for the /ping burst.
  const reportFile = path.join(work, `loadgen-${target.name}-${Date.now()}.json`);
  // A ramp may take three times its nominal length before it counts as stalled.
  const rampBudgetMs = (options.connections / options.rate) * 3_000 + 120_000;
  // The load generator's own cap on the run must outlast the ramp budget and
  // the hold, or it ends a slow ramp's run before the hold is measured.
  // The margin keeps the /ping burst clear of the load generator's stop, when
  // every stream closes at once.
  const loadgenHoldSeconds = options.settleSeconds + options.holdSeconds + BURST_SECONDS + 15;
  const loadgenDurationSeconds = Math.ceil(rampBudgetMs / 1_000) + loadgenHoldSeconds + 60;
  const loadStarted = performance.now();
  const loadgen = spawn(
    process.execPath,
    [
      path.join(DIST, 'loadgen/main.js'),
      ...(publishing ? ['--url', target.hubUrl!, '--topics', String(options.topics)] : ['--url', target.streamUrl]),
      '--connections', String(options.connections),
      '--rate', String(options.rate),
      '--max-pending', String(options.maxPending),
      '--connect-timeout-ms', String(options.connectTimeoutMs),
      // On a --hosts network the load host has its own addresses.
      '--sources', hostsNetwork()?.sources ?? options.sources,
      '--hold', String(loadgenHoldSeconds),
      '--duration', String(loadgenDurationSeconds),
      '--heartbeat-ms', String(options.heartbeatMs),
      '--report', reportFile,
      '--progress-ms', '10000',
      '--progress-json',
      '--id', 'bench',
      // Gaps as the hold sees them: the ramp and the settle are left out, and
      // so are the /ping burst and the stop after it. At a million the burst
      // made 1.45M heartbeats late in the 90 s after it, against 2,936 in
      // the ten minutes before; the burst's own figures report it.
      '--measure-after', String(options.settleSeconds),
      '--measure-for', String(options.holdSeconds),
      ...(engine === 'c' ? ['--engine', 'c', '--batch-ms', String(options.batchMs)] : ['--engine', 'node']),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // The load generator's own word that every connection has been tried and
  // has succeeded or failed: its progress names the phase. Without it, a
  // ramp with a few failures would be waited for until the ramp budget ran
  // out, and the load generator's hold (counted from its own ramp's end)
  // would end before the benchmark's. Progress comes as JSON and is logged
  // as the load generator would print it.
  let loadgenRampDone = false;
  let partial = '';
  loadgen.stderr?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') continue;
      let snapshot: ProgressSnapshot | undefined;
      try {
        snapshot = JSON.parse(line) as ProgressSnapshot;
      } catch {
        // A note or an error message: plain text.
      }
      if (snapshot !== undefined && snapshot.phase !== 'ramp') loadgenRampDone = true;
      log(`loadgen: ${snapshot === undefined ? line : formatProgress(snapshot)}`);
    }
  });
  const loadgenExited = new Promise<number | null>((resolve) => loadgen.once('exit', (code) => resolve(code)));
  const loadgenPid = loadgen.pid!;
  const prober = target.pingUrl === undefined ? undefined : new PingProber(target.pingUrl);
  let publisher: Publisher | undefined;
  let sender: Awaited<ReturnType<typeof senderFor>> | undefined;
  try {
    const rampDeadline = Date.now() + rampBudgetMs;
    // A ramp that stalls is a finding, not a crash: the run holds what it got
    // and the report says how far it came (the consistency check flags it).
    while (target.connections() !== options.connections && !loadgenRampDone) {
      if (loadgen.exitCode !== null) throw new Error(`the load generator exited (${loadgen.exitCode}) before ${options.connections} were established`);
      if (Date.now() > rampDeadline) {
        log(`${target.name}: the ramp stalled: ${target.connections()} of ${options.connections} established after ${rampBudgetMs / 1000} s; holding those`);
        break;
      }
      await sleep(100);
    }
    const rampMs = performance.now() - loadStarted;
    if (target.connections() === options.connections) log(`${target.name}: all ${options.connections} established in ${(rampMs / 1000).toFixed(1)} s; holding ${options.holdSeconds} s`);
    else if (loadgenRampDone) log(`${target.name}: the load generator's ramp is done with ${target.connections()} of ${options.connections} established; holding those`);
    // Right after the ramp a server is still collecting the ramp's garbage,
    // and nothing has had its first heartbeat yet: neither is what holding costs.
    if (options.settleSeconds > 0) {
      log(`${target.name}: settling ${options.settleSeconds} s before measuring`);
      await sleep(options.settleSeconds * 1_000);
    }

    // The hold. CPU and heartbeats are read at both ends of the same window.
    prober?.start();
    // Publishing spans the hold, so its heartbeat gaps, /ping and CPU are those of the fan-out.
    if (publishing) {
      sender = await senderFor(route!, options.holdSeconds);
      publisher = new Publisher({
        send: sender.send,
        rate: options.publishRate,
        topics: options.topics,
        payloadBytes: options.payloadBytes,
      });
      log(`${target.name}: publishing ${options.publishRate} updates a second over ${options.topics} topic(s), ${options.payloadBytes} B each, through ${route!.kind === 'redis' ? `Redis channel ${route!.channel}` : route!.url}`);
      publisher.start();
    }
    const samples: Sample[] = [];
    const cpuOfAll = (all: readonly number[]): number => all.reduce((sum, pid) => sum + (cpuSecondsOf(pid) ?? 0), 0);
    const cpu = (): number => cpuOfAll(Object.values(pids));
    const cpuStart = cpu();
    const beatsStart = target.heartbeatsWritten();
    const holdStart = performance.now();
    let maxCount = 0;
    let beatsBefore = beatsStart;
    // The load generator's processes are all forked by the end of the ramp;
    // finding them means reading every process's /proc entry, once is enough.
    const loadgenPids = [loadgenPid, ...childrenOf(loadgenPid)];
    // Each second's CPU, by whom and by kind: where it went in the seconds
    // some worker fell behind (the stall profile) against the others.
    // Per second of wall time: at a million this process is itself starved,
    // and a "second" between two samples can last two.
    let serverCpuBefore = cpuStart;
    let loadgenCpuBefore = cpuOfAll(loadgenPids);
    let machineBefore = machineCpu();
    let sampledBefore = performance.now();
    for (let i = 0; i < options.holdSeconds; i++) {
      // On the clock, not a second after the last sample: sampling dozens of
      // processes takes tens of milliseconds, which over a 10-minute hold
      // pushed the burst into the load generator's stop.
      await sleep(Math.max(0, holdStart + (i + 1) * 1_000 - performance.now()));
      const rss: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) rss[name] = rssOf(pid) ?? 0;
      const loadgenRss = loadgenPids.reduce((sum, pid) => sum + (rssOf(pid) ?? 0), 0);
      const count = target.connections();
      const beats = target.heartbeatsWritten();
      maxCount = Math.max(maxCount, count ?? 0);
      const serverCpu = cpu();
      const loadgenCpu = cpuOfAll(loadgenPids);
      const machine = machineCpu();
      const sampledAt = performance.now();
      const seconds = Math.max(0.001, (sampledAt - sampledBefore) / 1_000);
      const workers = target.workerSeconds();
      samples.push({
        t: Math.round(performance.now() - holdStart),
        rss,
        loadgenRss,
        kernel: kernelSample(),
        connections: count,
        heartbeatsPerSec: beats - beatsBefore,
        cpu: {
          server: round((serverCpu - serverCpuBefore) / seconds, 100),
          loadgen: round((loadgenCpu - loadgenCpuBefore) / seconds, 100),
          machine: cpuBetween(machineBefore, machine, seconds),
        },
        workers:
          workers.length === 0
            ? null
            : {
                gcPauseMs: round(workers.reduce((sum, w) => sum + w.gcPauseMs, 0), 10),
                gcMajorPauseMs: round(workers.reduce((sum, w) => sum + w.gcMajorPauseMs, 0), 10),
                inMajorGc: workers.filter((w) => w.gcMajorPauseMs > 0).length,
                worstLoopDelayMs: Math.max(...workers.map((w) => w.eventLoopDelayP99Ms)),
                heapUsedBytes: workers.reduce((sum, w) => sum + w.heapUsed, 0),
                // Summed only once every worker has had a major GC: a worker's
                // first would otherwise read as growth.
                ...(workers.every((w) => w.heapLive > 0) ? { heapLiveBytes: workers.reduce((sum, w) => sum + w.heapLive, 0) } : {}),
              },
      });
      beatsBefore = beats;
      serverCpuBefore = serverCpu;
      loadgenCpuBefore = loadgenCpu;
      machineBefore = machine;
      sampledBefore = sampledAt;
      if (i % 30 === 29) {
        const stalled = samples.slice(-30).filter((s) => (s.workers?.worstLoopDelayMs ?? 0) >= STALL_LOOP_DELAY_MS).length;
        log(`${target.name}: hold ${i + 1}/${options.holdSeconds} s, ${count} connections${prober ? `, ping p50 ${median(prober.latenciesMs.slice(-30)).toFixed(1)} ms` : ''}, ${stalled} of the last 30 s stalled`);
      }
    }
    const published: PublishFigures | undefined = await publisher?.stop();
    if (published !== undefined) log(`${target.name}: published ${published.ok} of ${published.attempted}, p99 ${published.latencyMs.p99} ms${published.failed.total > 0 ? `; failed ${JSON.stringify(published.failed.byReason)}` : ''}`);
    const cpuSeconds = cpu() - cpuStart;
    const heartbeats = target.heartbeatsWritten() - beatsStart;
    const holdSeconds = (performance.now() - holdStart) / 1_000;
    const heldCount = target.connections();
    const serverBeatsAtEnd = target.heartbeatsWritten();
    await prober?.stop();

    let burst = { rate: 0, failures: 0 };
    if (target.pingUrl !== undefined) {
      log(`/ping burst: ${BURST_CONCURRENCY} keep-alive loops for ${BURST_SECONDS} s`);
      burst = await pingBurst(target.pingUrl, BURST_SECONDS, BURST_CONCURRENCY);
    }

    log(`${target.name}: waiting for the load generator to end its hold and report`);
    const loadgenCode = await loadgenExited;
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as LoadgenReport;
    const closeDeadline = Date.now() + 60_000;
    while (target.connections() !== 0 && Date.now() < closeDeadline) await sleep(200);
    await sleep(1_500); // one more status second, so the written total includes the last beats

    // Per connection held during the hold: a stalled ramp holds fewer than N.
    const heldMedian = median(samples.map((s) => s.connections ?? 0));
    const n = heldMedian > 0 ? heldMedian : options.connections;
    const idleMedian = Object.fromEntries(Object.entries(idle).map(([name, values]) => [name, median(values)]));
    const holdMedian = Object.fromEntries(Object.keys(pids).map((name) => [name, median(samples.map((s) => s.rss[name] ?? 0))]));
    const sum = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0);
    const slabIdle = median(idleKernel.map((k) => k.slabBytes));
    const slabHold = median(samples.map((s) => s.kernel.slabBytes));
    const latencies = prober?.latenciesMs ?? [];
    const last60 = latencies.slice(-60);
    // Memory slopes over the part of the hold where the count no longer
    // changed: a hold that starts before a slow ramp has ended (the ramp
    // budget) would count the late connections' memory as growth.
    // A second whose status read failed (null) is no change.
    let steadyFrom = samples.length;
    while (steadyFrom > 0 && (samples[steadyFrom - 1]!.connections ?? heldCount) === heldCount) steadyFrom--;
    const steady = samples.slice(steadyFrom);
    return {
      target: target.name,
      established: report.established.peak,
      statusConnections: maxCount,
      heldAtEndOfHold: heldCount,
      failed: report.failed,
      closedByServer: report.closedByServer,
      rampMs: Math.round(rampMs),
      memory: {
        idleRssBytes: idleMedian,
        holdRssMedianBytes: holdMedian,
        serverBytesPerConnection: Math.round((sum(holdMedian) - sum(idleMedian)) / n),
        kernelSlabBytesPerConnection: Math.round((slabHold - slabIdle) / n),
        kernelTcpBufferBytes: median(samples.map((s) => s.kernel.tcpMemBytes)),
        loadgenBytesPerConnection: report.memory.bytesPerHeldConnection,
        memAvailableBytesAtHold: median(samples.map((s) => s.kernel.memAvailableBytes)),
        slopesFromMs: steady[0]?.t ?? null,
        serverRssSlopeBytesPerHour: slopePerHour(steady.map((s) => [s.t, sum(s.rss)])),
        workersHeapSlopeBytesPerHour: slopePerHour(steady.flatMap((s) => (s.workers ? [[s.t, s.workers.heapUsedBytes!] as const] : []))),
        workersHeapLiveSlopeBytesPerHour: slopePerHour(steady.flatMap((s) => (s.workers?.heapLiveBytes === undefined ? [] : [[s.t, s.workers.heapLiveBytes] as const]))),
      },
      cpu: {
        serverSecondsDuringHold: round(cpuSeconds, 100),
        heartbeatsDuringHold: heartbeats,
        microsecondsPerHeartbeat: heartbeats > 0 ? round((cpuSeconds * 1e6) / heartbeats, 100) : null,
        loadPerCore: round(median(samples.map((s) => s.kernel.loadavg1)) / os.availableParallelism(), 100),
        holdSeconds: round(holdSeconds, 10),
      },
      ping:
        prober === undefined
          ? null
          : {
              samples: latencies.length,
              failures: prober.failures,
              ...(prober.failures > 0 ? { failureCauses: prober.failureCauses } : {}),
              skipped: prober.skipped,
              last60: { medianMs: round(median(last60), 10), meanMs: round(last60.reduce((a, b) => a + b, 0) / Math.max(1, last60.length), 10) },
              p50Ms: round(median(latencies), 10),
              p99Ms: round(percentile(latencies, 99), 10),
              burstRatePerSec: burst.rate,
              burstFailures: burst.failures,
            },
      heartbeats: {
        expectedIntervalMs: options.heartbeatMs,
        gapMs: report.gapMs,
        measuredFrom: report.timestamps.measuredFrom,
        measuredUntil: report.timestamps.measuredUntil,
        perProcessGapMs: worstProcess(report),
        late: report.late,
        receivedFrames: report.heartbeats,
        updateFrames: report.updates.updates,
        openingFrames: report.opened,
        serverWritten: target.heartbeatsWritten(),
        serverWrittenAtEndOfHold: serverBeatsAtEnd,
      },
      loadgen: { exitCode: loadgenCode, processes: report.processes, endedBy: report.endedBy, complete: report.complete },
      stalls: stallProfile(samples),
      fanOut: published === undefined ? null : fanOutFigures(options, report, published),
      samples,
    };
  } finally {
    await prober?.stop();
    await publisher?.stop();
    sender?.close();
    if (loadgen.exitCode === null) loadgen.kill('SIGTERM');
  }
}

/**
 * Applies scripts/tune-os.sh as root; returns its lines. Inside a namespace
 * made for the run, the namespace's own settings (port range, somaxconn,
 * tcp_rmem...) are set; the machine-wide ones (tcp_mem, file-max) only on
 * the host, so the benchmark tunes there too before entering.
 */
export async function applyTuning(log: Log): Promise<string[]> {
  if (process.getuid?.() !== 0) {
    log('not root: kernel settings left as they are (see scripts/tune-os.sh)');
    return [];
  }
  const { stdout } = await run(path.join(ROOT, 'scripts/tune-os.sh'));
  const lines = stdout.trim().split('\n');
  for (const line of lines) log(`tune: ${line}`);
  return lines;
}

/**
 * Workers per cluster: one per core, or enough for N at WORKER_FILL of the
 * open-file limit; with --hosts, enough for each host's share; with --compare,
 * one, set against the bare loop's one process, as DESIGN's reference runs did.
 */
export function workersFor(options: BenchOptions): number {
  if (options.workers !== undefined) return options.workers;
  if (options.compare) return 1;
  const perProcess = openFileLimit() - FD_MARGIN;
  const fill = WORKER_FILL[options.acceptPath ?? defaultAcceptPath().path];
  if (options.hosts !== undefined) return Math.max(1, Math.ceil(options.connections / options.hosts / (perProcess * fill)));
  return Math.max(os.availableParallelism(), Math.ceil(options.connections / (perProcess * fill)));
}

export async function runBench(options: BenchOptions, log: Log): Promise<BenchResult> {
  const startedAt = new Date();
  const work = await mkdtemp(path.join(os.tmpdir(), 'msse-bench-'));
  const serverLog = openLog(path.join(work, 'server.log'));
  log(`work folder ${work} (server log: server.log)`);

  const tuning = options.tune ? await applyTuning(log) : [];

  const perProcess = openFileLimit() - FD_MARGIN;
  const acceptPath = options.acceptPath ?? defaultAcceptPath().path;
  const workers = workersFor(options);
  if (options.compare && options.connections > perProcess) throw new Error(`--compare needs --connections of at most ${perProcess}: the bare loop is one process`);
  log(`${options.connections} connections, ${workers} workers (open-file limit ${perProcess + FD_MARGIN} per process)`);
  const engine = options.engine ?? (cEngineBuilt() ? 'c' : 'node');
  checkEngineBuilt(engine);
  const hash = ehashBuckets();
  const netns = benchNamespace() ?? null;
  log(`load generator engine: ${engine}${engine === 'c' ? ` (reads batched every ${options.batchMs} ms)` : ''}; established hash: ${hash === null ? 'unknown' : `${hash.buckets.toLocaleString('en-US')} buckets${hash.own ? ' of its own' : ''}`}${netns === null ? ' (host)' : ` (namespace ${netns})`}`);
  // A key of the run's own, so that only the benchmark's publisher can publish.
  const key = options.publishRate > 0 ? publisherKey() : undefined;
  const targetOptions = async (): Promise<TargetOptions> => ({
    port: options.port,
    workers,
    heartbeatMs: options.heartbeatMs,
    expectedConnections: options.connections,
    redisPort: await freePort(),
    log: serverLog,
    env: {
      ...(options.tickPhase === undefined ? {} : { TICK_PHASE: options.tickPhase }),
      ...(options.acceptPath === undefined ? {} : { ACCEPT_PATH: options.acceptPath }),
      ...key?.env,
    },
  });

  // With --compare, million-sse and the bare loop alternate, each run on a
  // fresh server, and the ratios are taken between medians of the same run.
  const rounds = options.compare ? options.repeat : 1;
  const ours: Measurement[] = [];
  const bare: Measurement[] = [];
  const references: Measurement[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const network = hostsNetwork();
      const target = network === undefined ? await startMillionSse(await targetOptions()) : await startHosts(network, workers, options.direct);
      try {
        ours.push(await measure(target, options, engine, work, log, key?.secret));
      } finally {
        await target.stop();
      }
      if (!options.compare) break;
      const reference = await startBare(await targetOptions());
      try {
        bare.push(await measure(reference, options, engine, work, log));
      } finally {
        await reference.stop();
      }
    }
    // --compare nchan,floor: the same clients and publishing against each reference, one run each, after million-sse's.
    for (const reference of options.compareWith) {
      const target = reference === 'nchan' ? await startNchan(await targetOptions(), work) : await startFloor(await targetOptions());
      try {
        references.push(await measure(target, options, engine, work, log, key?.secret));
      } finally {
        await target.stop();
      }
    }
  } finally {
    serverLog.end();
  }

  // The run reported in full is the one with the median CPU per heartbeat.
  const main = [...ours].sort((x, y) => cpuOf(x) - cpuOf(y))[Math.floor(ours.length / 2)]!;
  const comparison =
    bare.length === 0
      ? null
      : {
          runs: bare.length,
          millionSse: summary(ours),
          bare: summary(bare),
          cpuRatio: round(median(ours.map(cpuOf)) / median(bare.map(cpuOf)), 100),
          memoryRatio: round(median(ours.map(memOf)) / median(bare.map(memOf)), 100),
        };
  const { ping } = main;
  const side = (m: Measurement): FanOutSide => ({
    target: m.target,
    fanOut: m.fanOut!,
    pingP99Ms: m.ping?.p99Ms ?? null,
    gapP99Ms: m.heartbeats.gapMs.p99,
    serverCpuSeconds: m.cpu.serverSecondsDuringHold,
  });
  const fanOutComparison = references.length === 0 ? null : compareFanOuts([main, ...references].map(side));
  return {
    version: 1,
    date: startedAt.toISOString(),
    machine: { cores: os.availableParallelism(), memoryBytes: os.totalmem(), kernel: os.release(), node: process.version, openFileLimit: perProcess + FD_MARGIN },
    settings: {
      connections: options.connections,
      holdSeconds: options.holdSeconds,
      settleSeconds: options.settleSeconds,
      rate: options.rate,
      heartbeatMs: options.heartbeatMs,
      workers,
      quick: options.quick,
      sources: options.sources,
      maxPending: options.maxPending,
      connectTimeoutMs: options.connectTimeoutMs,
      engine,
      batchMs: engine === 'c' ? options.batchMs : null,
      tickPhase: options.tickPhase ?? 'spread',
      acceptPath,
      hosts: options.hosts ?? null,
      direct: options.direct,
      ...(options.publishRate > 0 ? { publishRate: options.publishRate, topics: options.topics, payloadBytes: options.payloadBytes } : {}),
    },
    host: { netns, ehashBuckets: hash?.buckets ?? null, ownEhash: hash?.own ?? null },
    tuning,
    ...main,
    ping: ping ?? { samples: 0, failures: 0, last60: { medianMs: 0, meanMs: 0 }, p50Ms: 0, p99Ms: 0, burstRatePerSec: 0, burstFailures: 0 },
    comparison,
    fanOutComparison,
  };
}

const cpuOf = (m: Measurement): number => m.cpu.microsecondsPerHeartbeat ?? Number.NaN;
const memOf = (m: Measurement): number => m.memory.serverBytesPerConnection;

function summary(runs: Measurement[]): { microsecondsPerHeartbeat: number[]; bytesPerConnection: number[]; medianMicroseconds: number; medianBytes: number } {
  return {
    microsecondsPerHeartbeat: runs.map(cpuOf),
    bytesPerConnection: runs.map(memOf),
    medianMicroseconds: round(median(runs.map(cpuOf)), 100),
    medianBytes: Math.round(median(runs.map(memOf))),
  };
}

/** The worst load-generator process's gap p99 and max: the target holds "at every process". */
function worstProcess(report: LoadgenReport): BenchResult['heartbeats']['perProcessGapMs'] {
  const gaps = report.perProcess.flatMap((p) => (p.gapMs === null ? [] : [p.gapMs]));
  const p99s = gaps.flatMap((g) => (g.p99 === null ? [] : [g.p99]));
  const maxes = gaps.flatMap((g) => (g.max === null ? [] : [g.max]));
  return {
    processes: gaps.length,
    medianP99: p99s.length === 0 ? null : median(p99s),
    worstP99: p99s.length === 0 ? null : Math.max(...p99s),
    worstMax: maxes.length === 0 ? null : Math.max(...maxes),
  };
}

/**
 * The least-squares slope of [milliseconds, bytes] points, in bytes per hour:
 * the original's "no growth in RAM" as a number. Null under two points.
 */
export function slopePerHour(points: ReadonlyArray<readonly [number, number]>): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const meanT = points.reduce((a, [t]) => a + t, 0) / n;
  const meanY = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, y] of points) {
    num += (t - meanT) * (y - meanY);
    den += (t - meanT) ** 2;
  }
  return den === 0 ? null : Math.round((num / den) * 3_600_000);
}

function round(value: number, scale: number): number {
  return Math.round(value * scale) / scale;
}
