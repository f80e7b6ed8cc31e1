// The load generator's C engine (`--engine c`, native/loadgen-client/), tested
// from TypeScript against the same real servers as the Node engine: run as a
// user runs it, next to the Node engine on the same server where the two must
// agree, and as its own process, driven over the IPC channel the way the
// coordinator drives it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { checkEngineBuilt } from '../src/loadgen/engine.js';
import { Histogram, type HistogramData } from '../src/loadgen/histogram.js';
import type { ClientMessage, ClientPlan } from '../src/loadgen/messages.js';
import type { ClientProgress, ClientResult, Report } from '../src/loadgen/report.js';
import { ROOT, startCluster } from './helpers/cluster.js';
import {
  HEARTBEAT_MS,
  removeReports,
  runLoadgen,
  SOURCES,
  startLoadgen,
  startRawServer,
  startSilentServer,
  startSseServer,
  type TestServer,
} from './helpers/loadgen.js';
import { startRedis } from './helpers/redis.js';
import { freePort, waitFor } from './helpers/wait.js';

const C_ENGINE = path.join(ROOT, 'dist/loadgen/million-sse-client');
const CLIENT_SCRIPT = path.join(ROOT, 'dist/loadgen/client-process.js');
const NATIVE_SOURCES = path.join(ROOT, 'native/loadgen-client');

const scratch = mkdtempSync(path.join(os.tmpdir(), 'loadgen-c-engine-test-'));
after(() => {
  removeReports();
  rmSync(scratch, { recursive: true, force: true });
});

before(() => {
  assert.ok(existsSync(C_ENGINE), `${C_ENGINE} is missing: build first (npm run build, with cc installed)`);
});

const common = ['--sources', SOURCES, '--heartbeat-ms', String(HEARTBEAT_MS)];
const cEngine = ['--engine', 'c', ...common];
const nodeEngine = ['--engine', 'node', ...common];

/** A value's structure: objects as their keys (sorted, each with its own structure), arrays as their first element's. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, shape((value as Record<string, unknown>)[key])]),
    );
  }
  return 'value';
}

describe('the C engine, run by the load generator', () => {
  test('holds 300 streams over two processes from three source addresses, and measures 200 ms gaps to within the batch period', async () => {
    const server = await startSseServer();
    try {
      const { report, stdout } = await runLoadgen(['--url', server.url, '--connections', '300', '--max-per-process', '200', '--hold', '2', '--id', 'c-two-procs', ...cEngine]);
      assert.equal(report.complete, true);
      assert.equal(report.endedBy, 'hold');
      assert.equal(report.processes, 2);
      assert.deepEqual(report.established, { peak: 300, atEnd: 300 });
      assert.equal(report.failed.total, 0);
      assert.equal(report.closedByServer.total, 0);
      assert.equal(report.notAttempted, 0);
      assert.deepEqual(report.perProcess.map((p) => p.connections), [150, 150]);
      for (const p of report.perProcess) assert.ok(p.rssStartBytes! > 0 && p.rssHoldMedianBytes! > 0 && p.problem === null);
      assert.equal(report.settings.engine, 'c');
      assert.equal(report.settings.batchMs, 100);
      // The opening comment arrives with the head, in the same read.
      assert.equal(report.firstHeartbeatMs.count, 300);
      assert.ok(report.firstHeartbeatMs.p50! < 50, `first frame p50 ${report.firstHeartbeatMs.p50}`);
      assert.ok(report.heartbeats >= 300 * 6, `heartbeats ${report.heartbeats}`);
      // Reads come every 100 ms once the ramp is done: a 200 ms gap is seen as 100 to 300 ms.
      assert.ok(report.gapMs.p50! >= 100 && report.gapMs.p50! <= 300, `gap p50 ${report.gapMs.p50}`);
      assert.ok(report.gapMs.max! < HEARTBEAT_MS + 1000, `gap max ${report.gapMs.max}`);
      assert.equal(report.late, 0);
      assert.equal(server.requests, 300);
      assert.deepEqual([...server.remoteAddresses].sort(), ['127.0.1.1', '127.0.1.2', '127.0.1.3']);
      assert.match(stdout, /^\[c-two-procs\] hold: established 300\/300 \(peak 300\), failed 0, .*late 0, gap p50 [\d.]+ ms/);
    } finally {
      await server.close();
    }
  });

  test('reports in the same shape as the Node engine, and with --batch-ms 0 measures the same gaps', async () => {
    const server = await startSseServer();
    try {
      const args = ['--url', server.url, '--connections', '100', '--hold', '1.5'];
      const [c, node] = await Promise.all([runLoadgen([...args, ...cEngine, '--batch-ms', '0']), runLoadgen([...args, ...nodeEngine])]);
      assert.deepEqual(shape(c.report), shape(node.report));
      assert.equal(c.report.settings.batchMs, 0);
      assert.equal(node.report.settings.batchMs, null);
      for (const { report } of [c, node]) {
        assert.deepEqual(report.established, { peak: 100, atEnd: 100 });
        assert.equal(report.late, 0);
        assert.ok(report.gapMs.p50! > 150 && report.gapMs.p50! < 260, `gap p50 ${report.gapMs.p50}`);
      }
      assert.ok(Math.abs(c.report.gapMs.p50! - node.report.gapMs.p50!) < 30, `gap p50 ${c.report.gapMs.p50} (c) against ${node.report.gapMs.p50} (node)`);
    } finally {
      await server.close();
    }
  });

  test('a batch period longer than the heartbeat interval reads several frames at once, and their gaps count as 0', async () => {
    const server = await startSseServer({ heartbeatMs: 100 });
    try {
      const args = ['--url', server.url, '--connections', '50', '--hold', '1.5', ...cEngine];
      const [batched, perEvent] = await Promise.all([runLoadgen([...args, '--batch-ms', '400']), runLoadgen([...args, '--batch-ms', '0'])]);
      assert.equal(batched.report.settings.batchMs, 400);
      // About 4 frames a read: one gap of about 400 ms, three of 0.
      assert.equal(batched.report.gapMs.p50, 0);
      assert.ok(batched.report.gapMs.max! >= 300, `gap max ${batched.report.gapMs.max}`);
      assert.ok(perEvent.report.gapMs.p50! > 60 && perEvent.report.gapMs.p50! < 160, `gap p50 ${perEvent.report.gapMs.p50}`);
    } finally {
      await server.close();
    }
  });

  test('counts failures by the same reasons as the Node engine', async () => {
    const servers: Record<string, TestServer> = {
      HTTP_503: await startSseServer({ status: 503 }),
      NOT_EVENT_STREAM: await startRawServer('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>'),
      BAD_RESPONSE: await startRawServer('SSH-2.0-OpenSSH_9.2\r\n\r\n'),
      CLOSED_BEFORE_HEAD: await startRawServer(undefined, true),
    };
    const urls: Record<string, string> = { ECONNREFUSED: `http://127.0.0.1:${await freePort()}/` };
    for (const [reason, server] of Object.entries(servers)) urls[reason] = server.url;
    try {
      await Promise.all(
        Object.entries(urls).map(async ([reason, url]) => {
          const args = ['--url', url, '--connections', '20', '--hold', '0'];
          const [c, node] = await Promise.all([runLoadgen([...args, ...cEngine]), runLoadgen([...args, ...nodeEngine])]);
          assert.deepEqual(c.report.failed, { total: 20, byReason: { [reason]: 20 } }, `c engine against the ${reason} server`);
          assert.deepEqual(node.report.failed, c.report.failed, `node engine against the ${reason} server`);
          assert.deepEqual(c.report.established, { peak: 0, atEnd: 0 });
        }),
      );
      // 192.0.2.0/24 is TEST-NET-1: never an address of this machine, so bind() fails.
      const unbindable = await runLoadgen(['--url', servers.HTTP_503!.url, '--connections', '10', '--hold', '0', '--engine', 'c', '--sources', '192.0.2.1']);
      assert.deepEqual(unbindable.report.failed, { total: 10, byReason: { EADDRNOTAVAIL: 10 } });
    } finally {
      await Promise.all(Object.values(servers).map((s) => s.close()));
    }
  });

  test('counts the frames of a split head and a chunked body with every line end, as the Node engine does', async () => {
    const chunk = (text: string): string => `${Buffer.byteLength(text, 'latin1').toString(16)}\r\n${text}\r\n`;
    // The head ends in a third read, across "\r\n\r" | "\n"; then five frames: CRLF, CR, two NULs, LF; then the last chunk.
    const server = await startRawServer([
      'HTTP/1.1 200 OK\r\nContent-Type: TEXT/Event-Stream; charset=utf-8\r\n',
      'Transfer-Encoding: chunked\r\n\r',
      `\n${chunk(': a\r\n\r\n')}${chunk(':\r\r')}3;ext=1\r\n\0\0x\r\n`,
      `${chunk('data: x\n')}${chunk('\n')}0\r\n\r\n`,
    ]);
    try {
      const args = ['--url', server.url, '--connections', '20', '--hold', '0.5'];
      const [c, node] = await Promise.all([runLoadgen([...args, ...cEngine]), runLoadgen([...args, ...nodeEngine])]);
      for (const { report } of [c, node]) {
        assert.equal(report.failed.total, 0);
        assert.equal(report.heartbeats, 20 * 5);
        assert.deepEqual(report.closedByServer, { total: 20, byReason: { END_OF_BODY: 20 } });
      }
    } finally {
      await server.close();
    }
  });

  test('times attempts out, and --duration ends a ramp that stalls with what was in flight as UNFINISHED', async () => {
    const silent = await startSilentServer();
    try {
      const [timedOut, stalled] = await Promise.all([
        runLoadgen(['--url', silent.url, '--connections', '20', '--hold', '0', '--connect-timeout-ms', '300', ...cEngine]),
        runLoadgen(['--url', silent.url, '--connections', '30', '--duration', '1.5', '--connect-timeout-ms', '60000', ...cEngine]),
      ]);
      assert.deepEqual(timedOut.report.failed, { total: 20, byReason: { TIMEOUT: 20 } });
      assert.equal(timedOut.report.complete, true);
      assert.equal(stalled.report.endedBy, 'duration');
      assert.equal(stalled.report.rampMs, null);
      assert.deepEqual(stalled.report.failed, { total: 30, byReason: { UNFINISHED: 30 } });
    } finally {
      await silent.close();
    }
  });

  test('counts the streams the server closes or ends, and with --reconnect reopens them', async () => {
    // Only first connections are closed or ended, so each comes back exactly once.
    const server = await startSseServer({ closeWhen: (n) => n <= 90 && n % 3 === 0, endWhen: (n) => n <= 90 && n % 3 === 1 });
    try {
      const { report } = await runLoadgen(['--url', server.url, '--connections', '90', '--hold', '1.5', '--reconnect', ...cEngine]);
      // A destroyed socket is an EOF; an ended chunked response is an END_OF_BODY on a connection kept alive.
      assert.deepEqual(report.closedByServer, { total: 60, byReason: { EOF: 30, END_OF_BODY: 30 } });
      assert.equal(report.reconnects.attempts, 60);
      assert.equal(report.reconnects.failed.total, 0);
      assert.equal(report.opened, 150);
      assert.equal(report.established.atEnd, 90);
      assert.equal(server.requests, 150);
    } finally {
      await server.close();
    }
  });
});

describe('the C engine against the million-sse cluster', () => {
  test('sees the opening comment and the heartbeats of a real worker, as the Node engine does', async () => {
    const redis = await startRedis();
    try {
      const cluster = await startCluster({ REDIS_URL: redis.url, HEARTBEAT_MS: String(HEARTBEAT_MS), WORKERS: '1' });
      try {
        const args = ['--url', `http://127.0.0.1:${cluster.port}/`, '--connections', '100', '--hold', '2'];
        const [c, node] = await Promise.all([runLoadgen([...args, ...cEngine]), runLoadgen([...args, ...nodeEngine])]);
        for (const { report } of [c, node]) {
          assert.deepEqual(report.established, { peak: 100, atEnd: 100 });
          assert.equal(report.failed.total, 0);
          assert.equal(report.firstHeartbeatMs.count, 100);
          assert.ok(report.firstHeartbeatMs.p50! < 50, `first frame p50 ${report.firstHeartbeatMs.p50}`);
          assert.equal(report.late, 0);
        }
        assert.ok(c.report.gapMs.p50! >= 100 && c.report.gapMs.p50! <= 300, `gap p50 ${c.report.gapMs.p50}`);
        // Both held 100 streams through a 2 s hold of 200 ms heartbeats: about 1,100 frames each.
        const ratio = c.report.heartbeats / node.report.heartbeats;
        assert.ok(ratio > 0.8 && ratio < 1.25, `heartbeats ${c.report.heartbeats} (c) against ${node.report.heartbeats} (node)`);
      } finally {
        await cluster.stop();
      }
    } finally {
      await redis.stop();
    }
  });
});

/** A client process started as the coordinator starts it, with the coordinator's side of the channel kept here. */
interface Driven {
  child: ChildProcess;
  messages: ClientMessage[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for a message that satisfies `match`, among those already here or yet to come. */
  next(match: (m: ClientMessage) => boolean, what: string, timeoutMs?: number): Promise<ClientMessage>;
}

function drive(engine: 'c' | 'node'): Driven {
  const stdio: ['ignore', 'pipe', 'pipe', 'ipc'] = ['ignore', 'pipe', 'pipe', 'ipc'];
  const child = engine === 'c' ? spawn(C_ENGINE, [], { stdio, serialization: 'json' }) : fork(CLIENT_SCRIPT, [], { stdio });
  const messages: ClientMessage[] = [];
  let stderr = '';
  child.on('message', (m: ClientMessage) => messages.push(m));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return {
    child,
    messages,
    stderr: () => stderr,
    exited,
    async next(match, what, timeoutMs = 10_000) {
      let found: ClientMessage | undefined;
      await waitFor(() => (found = messages.find(match)) !== undefined, { what, timeoutMs, intervalMs: 20 });
      return found!;
    },
  };
}

function planFor(port: number, changes: Partial<ClientPlan> = {}): ClientPlan {
  return {
    share: { index: 3, connections: 40, firstConnection: 0, rate: 0, maxPending: 100 },
    host: '127.0.0.1',
    port,
    request: `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`,
    sources: [],
    connectTimeoutMs: 5_000,
    lateAfterMs: HEARTBEAT_MS + 1_000,
    reconnect: false,
    deadlineMs: 30_000,
    ...changes,
  };
}

const isResult = (m: ClientMessage): boolean => m.type === 'result';
const rampDone = (m: ClientMessage): boolean => m.type === 'progress' && m.progress.rampDone && m.progress.established === 40;

/** The bucket histogram.ts gives a value in milliseconds. */
function bucketOf(ms: number): number {
  const histogram = new Histogram();
  histogram.record(ms);
  return histogram.toJSON().buckets[0]![0];
}

/** The engine's buckets are the TypeScript layout: its exact min and max lie in its lowest and highest buckets. */
function assertSameLayout(data: HistogramData, name: string): void {
  assert.ok(data.count > 0, `${name} is empty`);
  assert.equal(data.buckets.reduce((sum, [, count]) => sum + count, 0), data.count, name);
  assert.equal(data.buckets[0]![0], bucketOf(data.min!), `${name}: lowest bucket against min ${data.min}`);
  assert.equal(data.buckets.at(-1)![0], bucketOf(data.max!), `${name}: highest bucket against max ${data.max}`);
  assert.ok(data.sumMs >= data.min! * data.count - 1e-6 && data.sumMs <= data.max! * data.count + 1e-6, name);
  Histogram.from(data);
}

describe('the C engine as a process, driven as the coordinator drives it', () => {
  test('builds warning-free with -Wall -Wextra', () => {
    const sources = readdirSync(NATIVE_SOURCES)
      .filter((f) => f.endsWith('.c'))
      .map((f) => path.join(NATIVE_SOURCES, f));
    const build = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-o', path.join(scratch, 'client'), ...sources], { encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    assert.equal(build.stderr, '');
  });

  test('reports progress, then on stop a result in the Node engine\'s shape whose histograms use the TypeScript bucket layout', async () => {
    const server = await startSseServer();
    const c = drive('c');
    const node = drive('node');
    try {
      for (const engine of [c, node]) engine.child.send({ type: 'start', plan: planFor(server.port, { batchMs: 50 }) });
      // A progress message as soon as the ramp is done, then one a second.
      const first = (await c.next(rampDone, 'the C engine\'s ramp')) as { progress: ClientProgress };
      await node.next(rampDone, 'the Node engine\'s ramp');
      assert.equal(first.progress.index, 3);
      assert.equal(first.progress.pid, c.child.pid);
      assert.equal(first.progress.pending, 0);
      await c.next((m) => m.type === 'progress' && m.progress.heartbeats >= 40 * 5, 'five heartbeats a stream');
      // The coordinator decides when the run ends: a Ctrl-C or a SIGTERM to the process group is ignored.
      c.child.kill('SIGINT');
      c.child.kill('SIGTERM');
      const seen = c.messages.length;
      await c.next((m) => c.messages.indexOf(m) >= seen && m.type === 'progress', 'progress after the signals', 3_000);
      for (const engine of [c, node]) engine.child.send({ type: 'stop' });
      const { result } = (await c.next(isResult, 'the C engine\'s result')) as { result: ClientResult };
      const { result: nodeResult } = (await node.next(isResult, 'the Node engine\'s result')) as { result: ClientResult };
      assert.deepEqual((await c.exited).code, 0, c.stderr());
      assert.deepEqual(shape(result), shape({ ...nodeResult, batchMs: 50 }));
      assert.deepEqual(shape(first), shape(await node.next(rampDone, 'the Node engine\'s progress')));
      assert.equal(result.batchMs, 50);
      assert.equal(result.establishedAtStop, 40);
      assert.equal(result.established, 0);
      assert.equal(result.opened, 40);
      assert.equal(result.notAttempted, 0);
      assert.deepEqual(result.failed, {});
      assert.ok(result.rssStartBytes > 0 && result.rssBytes >= result.rssStartBytes, `rss ${result.rssStartBytes} -> ${result.rssBytes}`);
      assert.ok(result.eventLoopDelayMs.max >= result.eventLoopDelayMs.p99 && result.eventLoopDelayMs.p99 >= 0);
      assertSameLayout(result.gapMs, 'gapMs');
      assertSameLayout(result.firstHeartbeatMs, 'firstHeartbeatMs');
      assertSameLayout(result.connectMs, 'connectMs');
      assert.equal(result.firstHeartbeatMs.count, 40);
      assert.equal(result.connectMs.count, 40);
      assert.equal(result.gapMs.count + result.firstHeartbeatMs.count, result.heartbeats);
    } finally {
      c.child.kill('SIGKILL');
      node.child.kill('SIGKILL');
      await server.close();
    }
  });

  test('finishes on its own at its deadline, and when the channel closes', async () => {
    const server = await startSseServer();
    const timed = drive('c');
    const orphan = drive('c');
    try {
      timed.child.send({ type: 'start', plan: planFor(server.port, { deadlineMs: 700 }) });
      orphan.child.send({ type: 'start', plan: planFor(server.port) });
      const { result } = (await timed.next(isResult, 'a result at the deadline')) as { result: ClientResult };
      assert.equal(result.establishedAtStop, 40);
      assert.equal((await timed.exited).code, 0);
      await orphan.next(rampDone, 'the ramp');
      // The coordinator is gone: there is no one to report to, and nothing to hold the streams for.
      // (After a disconnect from this side, Node emits 'exit' but not 'close', whichever the engine.)
      const exit = once(orphan.child, 'exit');
      orphan.child.disconnect();
      assert.deepEqual(await exit, [0, null]);
      await waitFor(() => server.requests === 80 && server.remoteAddresses.size > 0, { what: 'the requests' });
    } finally {
      timed.child.kill('SIGKILL');
      orphan.child.kill('SIGKILL');
      await server.close();
    }
  });

  test('refuses to run by hand, and exits 2 on a bad start message, saying what is wrong', async () => {
    const byHand = spawnSync(C_ENGINE, [], { encoding: 'utf8' });
    assert.equal(byHand.status, 2);
    assert.match(byHand.stderr, /is started by the load generator \(million-sse-loadgen --engine c\), not by hand/);
    const bad = drive('c');
    bad.child.send({ type: 'start', plan: { ...planFor(1), port: 70_000 } });
    assert.equal((await bad.exited).code, 2);
    assert.match(bad.stderr(), /bad start message: port/);
    const notJson = spawn(C_ENGINE, [], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: { NODE_CHANNEL_FD: '3' } });
    let stderr = '';
    notJson.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    (notJson.stdio[3] as NodeJS.WritableStream).end('{"type":"start","plan":{"share":\n');
    const [code] = (await once(notJson, 'close')) as [number | null];
    assert.equal(code, 2);
    assert.match(stderr, /bad start message/);
  });
});

describe('--engine c without a built C engine', () => {
  test('fails at start-up with exit 2, naming the binary and how to get it', async () => {
    // A copy of the built load generator without the binary, as a machine without cc builds it.
    const copy = path.join(scratch, 'no-cc');
    cpSync(path.join(ROOT, 'dist'), path.join(copy, 'dist'), { recursive: true, filter: (source) => !source.endsWith('million-sse-client') });
    cpSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const binary = path.join(copy, 'dist/loadgen/million-sse-client');
    const run = await startLoadgen(['--url', 'http://127.0.0.1:1/', '--engine', 'c'], 30_000, path.join(copy, 'dist/loadgen/main.js')).done;
    assert.equal(run.code, 2, run.stderr);
    assert.ok(run.stderr.includes(`--engine="c" is not valid: expected a built C engine, but ${binary} is missing`), run.stderr);
    assert.match(run.stderr, /install a C compiler .* and re-run npm run build/);
    assert.equal(run.report, undefined);
    assert.throws(() => checkEngineBuilt('c', binary), /is missing/);
    assert.doesNotThrow(() => checkEngineBuilt('node', binary));
    assert.doesNotThrow(() => checkEngineBuilt('c', C_ENGINE));
  });
});

describe('--measure-after and --measure-for, in both engines', () => {
  for (const engine of ['node', 'c'] as const) {
    test(`${engine}: gaps and late heartbeats are counted afresh after the ramp, leaving a slow start out`, async () => {
      // The server is silent for 1.5 s from the first stream, then beats every 200 ms: every
      // stream's first gap is 1.5 s, and late (past 200 + 1,000 ms).
      const args = ['--engine', engine, ...common, '--connections', '100', '--rate', '0', '--hold', '3'];
      const whole = await startSseServer({ silentForMs: 1_500 });
      try {
        const { report } = await runLoadgen(['--url', whole.url, ...args]);
        // The streams open within a few milliseconds of each other and the
        // C engine reads within a batch period (100 ms): past the late mark
        // (200 + 1,000 ms) is what the slow start must show.
        assert.ok(report.gapMs.max! > 1_200, `the slow start is in the gaps: max ${report.gapMs.max}`);
        assert.equal(report.late, 100);
        assert.equal(report.timestamps.measuredFrom, null);
      } finally {
        await whole.close();
      }
      const measured = await startSseServer({ silentForMs: 1_500 });
      try {
        const { report } = await runLoadgen(['--url', measured.url, ...args, '--measure-after', '2']);
        assert.ok(report.gapMs.count > 0);
        assert.ok(report.gapMs.max! < 700, `only the steady beats after the mark: max ${report.gapMs.max}`);
        assert.equal(report.late, 0);
        assert.ok(report.timestamps.measuredFrom !== null && report.timestamps.measuredFrom > report.timestamps.rampDoneAt!);
        for (const p of report.perProcess) assert.ok(p.gapMs !== null && p.gapMs.max! < 700 && p.late === 0, 'each process reports its own gaps');
      } finally {
        await measured.close();
      }
    });

    test(`${engine}: --measure-for ends the window, leaving a later silence out of the gaps and the late count`, async () => {
      // Beats every 200 ms for 1.5 s, then silence until the stop at 4 s:
      // every stream ends 2.5 s silent, late (past 200 + 1,000 ms).
      const args = ['--engine', engine, ...common, '--connections', '100', '--rate', '0', '--hold', '4'];
      const whole = await startSseServer({ silentAfterMs: 1_500 });
      try {
        const { report } = await runLoadgen(['--url', whole.url, ...args]);
        assert.equal(report.late, 100, 'the silence is late when nothing ends the window');
        assert.equal(report.timestamps.measuredUntil, null);
      } finally {
        await whole.close();
      }
      const windowed = await startSseServer({ silentAfterMs: 1_500 });
      try {
        const { report } = await runLoadgen(['--url', windowed.url, ...args, '--measure-for', '1']);
        assert.ok(report.gapMs.count > 0, 'the beats inside the window are measured');
        assert.ok(report.gapMs.max! < 700, `only the window's beats: max ${report.gapMs.max}`);
        assert.equal(report.late, 0);
        assert.ok(report.heartbeats > 100 * 4, 'heartbeats are still read after the window');
        const { rampDoneAt, measuredFrom, measuredUntil } = report.timestamps;
        assert.ok(measuredFrom !== null && measuredFrom >= rampDoneAt! && measuredUntil !== null && measuredUntil > measuredFrom);
      } finally {
        await windowed.close();
      }
    });
  }
});
