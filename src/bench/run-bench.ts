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
import type { BenchOptions } from './options.js';
import { childrenOf, cpuSecondsOf, kernelSample, median, percentile, rssOf, type KernelSample } from './proc-sampler.js';
import { PingProber, pingBurst } from './ping-prober.js';
import { StatusFollower } from './status-follower.js';
import { DIST, openLog, startCluster, startRedisServer } from './server-under-test.js';
import type { BenchResult, Sample } from './bench-result.js';

const run = promisify(execFile);
const ROOT = path.resolve(DIST, '..');
const IDLE_SECONDS = 5;
const BURST_SECONDS = 3;
const BURST_CONCURRENCY = 32;
/** Sockets a process keeps for itself besides the connections it holds. */
const FD_MARGIN = 200;

type Log = (line: string) => void;

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runBench(options: BenchOptions, log: Log): Promise<BenchResult> {
  const startedAt = new Date();
  const work = await mkdtemp(path.join(os.tmpdir(), 'msse-bench-'));
  const serverLog = openLog(path.join(work, 'server.log'));
  log(`work folder ${work}`);

  const tuning: string[] = [];
  if (options.tune) {
    if (process.getuid?.() !== 0) log('not root: kernel settings left as they are (see scripts/tune-os.sh)');
    else {
      const { stdout } = await run(path.join(ROOT, 'scripts/tune-os.sh'));
      for (const line of stdout.trim().split('\n')) {
        tuning.push(line);
        log(`tune: ${line}`);
      }
    }
  }

  const perProcess = openFileLimit() - FD_MARGIN;
  const workers = options.workers ?? Math.max(os.availableParallelism(), Math.ceil(options.connections / perProcess));
  log(`${options.connections} connections, ${workers} workers (open-file limit ${perProcess + FD_MARGIN} per process)`);

  const redisPort = await freePort();
  const redis = await startRedisServer(redisPort, serverLog);
  const cluster = startCluster(
    {
      PORT: String(options.port),
      HOST: '127.0.0.1',
      WORKERS: String(workers),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      HEARTBEAT_MS: String(options.heartbeatMs),
      LOG_LEVEL: 'warn',
      DRAIN_MS: '2000',
      EXPECTED_CONNECTIONS: String(options.connections),
    },
    serverLog,
  );
  const base = `http://127.0.0.1:${options.port}`;
  const status = new StatusFollower(new URL('/status_watcher', base));
  const prober = new PingProber(new URL('/ping', base));
  let loadgen: ReturnType<typeof spawn> | undefined;

  try {
    status.start();
    const ready = await status.waitFor((s) => s.workers === workers && s.redis === 'up', 60_000, `${workers} workers and Redis`);
    const serverPids = (): Record<string, number> => {
      const pids: Record<string, number> = { primary: cluster.pid, redis: redis.pid };
      for (const worker of status.latest?.perWorker ?? ready.perWorker) pids[`worker-${worker.id}`] = worker.pid;
      return pids;
    };
    const pids = serverPids();

    // Idle baseline: every server process, and the kernel, before any load.
    const idle: Record<string, number[]> = {};
    const idleKernel: KernelSample[] = [];
    for (let i = 0; i < IDLE_SECONDS; i++) {
      for (const [name, pid] of Object.entries(pids)) (idle[name] ??= []).push(rssOf(pid) ?? 0);
      idleKernel.push(kernelSample());
      await sleep(1_000);
    }

    // The load generator holds for --hold seconds after its own ramp; we stop
    // sampling a little before that, to leave room for the /ping burst.
    const reportFile = path.join(work, 'loadgen-report.json');
    const loadStarted = performance.now();
    loadgen = spawn(
      process.execPath,
      [
        path.join(DIST, 'loadgen/main.js'),
        '--url', `${base}/`,
        '--connections', String(options.connections),
        '--rate', String(options.rate),
        '--sources', options.sources,
        '--hold', String(options.holdSeconds + BURST_SECONDS + 3),
        '--heartbeat-ms', String(options.heartbeatMs),
        '--report', reportFile,
        '--progress-ms', '5000',
        '--id', 'bench',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    loadgen.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().trim().split('\n')) if (line !== '') log(`loadgen: ${line}`);
    });
    const loadgenExited = new Promise<number | null>((resolve) => loadgen!.once('exit', (code) => resolve(code)));
    const loadgenPid = loadgen.pid!;

    const rampBudgetMs = (options.connections / options.rate) * 3_000 + 120_000;
    const established = await status.waitFor((s) => s.connections === options.connections, rampBudgetMs, `${options.connections} connections in Redis`);
    const rampMs = performance.now() - loadStarted;
    log(`all ${established.connections} established in ${(rampMs / 1000).toFixed(1)} s; holding ${options.holdSeconds} s`);

    // The hold. Samples once a second; CPU and heartbeats are read at both
    // ends of the window so that their ratio covers exactly the same time.
    prober.start();
    const samples: Sample[] = [];
    const cpu = (): number => Object.values(pids).reduce((sum, pid) => sum + (cpuSecondsOf(pid) ?? 0), 0);
    const cpuStart = cpu();
    const beatsStart = status.latest!.totals.heartbeats;
    const holdStart = performance.now();
    let maxCount = 0;
    for (let i = 0; i < options.holdSeconds; i++) {
      await sleep(1_000);
      const rss: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) rss[name] = rssOf(pid) ?? 0;
      const loadgenRss = [loadgenPid, ...childrenOf(loadgenPid)].reduce((sum, pid) => sum + (rssOf(pid) ?? 0), 0);
      const s = status.latest!;
      maxCount = Math.max(maxCount, s.connections ?? 0);
      samples.push({ t: Math.round(performance.now() - holdStart), rss, loadgenRss, kernel: kernelSample(), connections: s.connections, heartbeatsPerSec: s.rates.heartbeats });
      if (i % 10 === 9) log(`hold ${i + 1}/${options.holdSeconds} s: ${s.connections} connections, ping p50 ${median(prober.latenciesMs.slice(-10)).toFixed(1)} ms`);
    }
    const cpuSeconds = cpu() - cpuStart;
    const heartbeats = status.latest!.totals.heartbeats - beatsStart;
    const holdSeconds = (performance.now() - holdStart) / 1_000;
    const heldCount = status.latest!.connections;
    const serverBeatsAtEnd = status.latest!.totals.heartbeats;
    prober.stop();

    log(`/ping burst: ${BURST_CONCURRENCY} keep-alive loops for ${BURST_SECONDS} s`);
    const burst = await pingBurst(new URL('/ping', base), BURST_SECONDS, BURST_CONCURRENCY);

    log('waiting for the load generator to end its hold and report');
    const loadgenCode = await loadgenExited;
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as LoadgenReport;
    const finalStatus = await status.waitFor((s) => s.connections === 0, 60_000, 'the count to return to 0');

    // Derivations.
    const n = options.connections;
    const idleMedian = Object.fromEntries(Object.entries(idle).map(([name, values]) => [name, median(values)]));
    const holdMedian = Object.fromEntries(Object.keys(pids).map((name) => [name, median(samples.map((s) => s.rss[name] ?? 0))]));
    const sum = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0);
    const userBytes = sum(holdMedian) - sum(idleMedian);
    const slabIdle = median(idleKernel.map((k) => k.slabBytes));
    const slabHold = median(samples.map((s) => s.kernel.slabBytes));
    const tcpMemHold = median(samples.map((s) => s.kernel.tcpMemBytes));
    const last60 = prober.latenciesMs.slice(-60);
    const result: BenchResult = {
      version: 1,
      date: startedAt.toISOString(),
      machine: { cores: os.availableParallelism(), memoryBytes: os.totalmem(), kernel: os.release(), node: process.version, openFileLimit: perProcess + FD_MARGIN },
      settings: { connections: n, holdSeconds: options.holdSeconds, rate: options.rate, heartbeatMs: options.heartbeatMs, workers, quick: options.quick, sources: options.sources },
      tuning,
      established: report.established.peak,
      statusConnections: maxCount,
      heldAtEndOfHold: heldCount,
      failed: report.failed,
      closedByServer: report.closedByServer,
      rampMs: Math.round(rampMs),
      memory: {
        idleRssBytes: idleMedian,
        holdRssMedianBytes: holdMedian,
        serverBytesPerConnection: Math.round(userBytes / n),
        kernelSlabBytesPerConnection: Math.round((slabHold - slabIdle) / n),
        kernelTcpBufferBytes: tcpMemHold,
        loadgenBytesPerConnection: report.memory.bytesPerHeldConnection,
        memAvailableBytesAtHold: median(samples.map((s) => s.kernel.memAvailableBytes)),
      },
      cpu: {
        serverSecondsDuringHold: Math.round(cpuSeconds * 100) / 100,
        heartbeatsDuringHold: heartbeats,
        microsecondsPerHeartbeat: heartbeats > 0 ? Math.round(((cpuSeconds * 1e6) / heartbeats) * 100) / 100 : null,
        loadPerCore: Math.round((median(samples.map((s) => s.kernel.loadavg1)) / os.availableParallelism()) * 100) / 100,
        holdSeconds: Math.round(holdSeconds * 10) / 10,
      },
      ping: {
        samples: prober.latenciesMs.length,
        failures: prober.failures,
        last60: { medianMs: round(median(last60)), meanMs: round(last60.reduce((a, b) => a + b, 0) / Math.max(1, last60.length)) },
        p50Ms: round(median(prober.latenciesMs)),
        p99Ms: round(percentile(prober.latenciesMs, 99)),
        burstRatePerSec: burst.rate,
        burstFailures: burst.failures,
      },
      heartbeats: {
        expectedIntervalMs: options.heartbeatMs,
        gapMs: report.gapMs,
        late: report.late,
        receivedFrames: report.heartbeats,
        openingFrames: report.opened,
        serverWritten: finalStatus.totals.heartbeats,
        serverWrittenAtEndOfHold: serverBeatsAtEnd,
      },
      loadgen: { exitCode: loadgenCode, processes: report.processes, endedBy: report.endedBy, complete: report.complete },
      samples,
    };
    return result;
  } finally {
    prober.stop();
    status.stop();
    if (loadgen !== undefined && loadgen.exitCode === null) loadgen.kill('SIGTERM');
    await cluster.stop('SIGTERM');
    await redis.stop('SIGTERM');
    serverLog.end();
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
