// The built load generator (`node dist/loadgen/main.js`), run as a user runs
// it, against small real servers started here (test/helpers/loadgen.ts): an
// SSE server writing `:\n\n` every 200 ms (node:http, so the body is chunked),
// one that closes some streams, one that answers 503, one that never answers,
// a port with nothing listening, and the million-sse cluster itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startCluster } from './helpers/cluster.js';
import {
  HEARTBEAT_MS,
  LOADGEN,
  removeReports,
  runLoadgen,
  SOURCES,
  startLoadgen,
  startSilentServer,
  startSseServer,
} from './helpers/loadgen.js';
import { startRedis } from './helpers/redis.js';
import { freePort, waitFor } from './helpers/wait.js';

after(removeReports);

before(() => {
  assert.ok(existsSync(LOADGEN), `${LOADGEN} is missing: build first (npx tsc -p tsconfig.json)`);
});

const common = ['--sources', SOURCES, '--heartbeat-ms', String(HEARTBEAT_MS)];

describe('load generator against a test SSE server', () => {
  test('holds 300 streams over two processes from three source addresses, and measures 200 ms gaps', async () => {
    const server = await startSseServer();
    try {
      const { report, stdout, stderr } = await runLoadgen(['--url', server.url, '--connections', '300', '--max-per-process', '200', '--hold', '2', '--id', 'two-procs', ...common]);
      assert.equal(report.id, 'two-procs');
      assert.equal(report.complete, true);
      assert.equal(report.endedBy, 'hold');
      assert.equal(report.processes, 2);
      assert.equal(report.connections, 300);
      assert.deepEqual(report.established, { peak: 300, atEnd: 300 });
      assert.equal(report.failed.total, 0);
      assert.equal(report.closedByServer.total, 0);
      assert.equal(report.notAttempted, 0);
      // Every stream got its opening comment and then about one heartbeat per 200 ms of the 2 s hold.
      assert.equal(report.firstHeartbeatMs.count, 300);
      assert.ok(report.heartbeats >= 300 * 6, `heartbeats ${report.heartbeats}`);
      assert.ok(report.gapMs.p50! > 150 && report.gapMs.p50! < 260, `gap p50 ${report.gapMs.p50}`);
      assert.ok(report.gapMs.max! < HEARTBEAT_MS + 1000, `gap max ${report.gapMs.max}`);
      assert.equal(report.late, 0);
      assert.ok(report.rampMs !== null && report.rampMs > 0);
      assert.equal(report.perProcess.length, 2);
      assert.deepEqual(report.perProcess.map((p) => p.connections), [150, 150]);
      for (const p of report.perProcess) assert.ok(p.rssPeakBytes! > 0 && p.rssHoldMedianBytes! > 0 && p.problem === null);
      assert.equal(server.requests, 300);
      assert.deepEqual([...server.remoteAddresses].sort(), ['127.0.1.1', '127.0.1.2', '127.0.1.3']);
      assert.match(stdout, /^\[two-procs\] hold: established 300\/300 \(peak 300\), failed 0, .*late 0, gap p50 [\d.]+ ms/);
      // Not a terminal: plain progress lines on stderr.
      assert.match(stderr, /\[two-procs\] \d+s hold \| established 300\/300 .*\| heartbeats [\d,]+ \| late 0 \| .*rss [\d.]+ MiB\/3 procs\n/);
    } finally {
      await server.close();
    }
  });

  test('--progress-json: one JSON object a line, with the phase and the totals', async () => {
    const server = await startSseServer();
    try {
      const { stderr } = await runLoadgen(['--url', server.url, '--connections', '50', '--hold', '1.5', '--progress-ms', '200', '--progress-json', ...common]);
      const lines = stderr.split('\n').filter((line) => line !== '');
      const snapshots = lines.map((line) => JSON.parse(line) as { phase: string; requested: number; totals: { established: number; heartbeats: number } });
      assert.ok(snapshots.length >= 5, `${snapshots.length} lines`);
      const held = snapshots.filter((s) => s.phase === 'hold');
      assert.ok(held.length > 0 && held.every((s) => s.requested === 50 && s.totals.established === 50));
      assert.ok(held.at(-1)!.totals.heartbeats >= 50 * 5);
    } finally {
      await server.close();
    }
  });

  test('counts the streams the server closes', async () => {
    const server = await startSseServer({ closeWhen: (n) => n % 3 === 0 });
    try {
      const { report } = await runLoadgen(['--url', server.url, '--connections', '90', '--hold', '1.5', ...common]);
      assert.deepEqual(report.closedByServer, { total: 30, byReason: { EOF: 30 } });
      assert.equal(report.established.peak >= 60, true);
      assert.equal(report.established.atEnd, 60);
      assert.equal(report.reconnects.attempts, 0);
      assert.equal(report.failed.total, 0);
    } finally {
      await server.close();
    }
  });

  test('with --reconnect, reopens the streams the server closes', async () => {
    // Only first connections are closed, so each closed stream comes back exactly once.
    const server = await startSseServer({ closeWhen: (n) => n <= 90 && n % 3 === 0 });
    try {
      const { report } = await runLoadgen(['--url', server.url, '--connections', '90', '--hold', '1.5', '--reconnect', ...common]);
      assert.equal(report.closedByServer.total, 30);
      assert.equal(report.reconnects.attempts, 30);
      assert.equal(report.reconnects.failed.total, 0);
      assert.equal(report.opened, 120);
      assert.equal(report.established.atEnd, 90);
      assert.equal(server.requests, 120);
    } finally {
      await server.close();
    }
  });

  test('counts failures by reason: refused, 503, unusable source address, timeout', async () => {
    const refusedPort = await freePort();
    const full = await startSseServer({ status: 503 });
    const silent = await startSilentServer();
    try {
      const refused = await runLoadgen(['--url', `http://127.0.0.1:${refusedPort}/`, '--connections', '40', '--hold', '0', ...common]);
      assert.deepEqual(refused.report.failed, { total: 40, byReason: { ECONNREFUSED: 40 } });
      assert.deepEqual(refused.report.established, { peak: 0, atEnd: 0 });
      assert.equal(refused.report.gapMs.p50, null);

      const rejected = await runLoadgen(['--url', full.url, '--connections', '40', '--hold', '0', ...common]);
      assert.deepEqual(rejected.report.failed, { total: 40, byReason: { HTTP_503: 40 } });

      // 192.0.2.0/24 is TEST-NET-1: never an address of this machine, so bind() fails.
      const unbindable = await runLoadgen(['--url', full.url, '--connections', '10', '--hold', '0', '--sources', '192.0.2.1']);
      assert.deepEqual(unbindable.report.failed, { total: 10, byReason: { EADDRNOTAVAIL: 10 } });

      const timedOut = await runLoadgen(['--url', silent.url, '--connections', '20', '--hold', '0', '--connect-timeout-ms', '300', ...common]);
      assert.deepEqual(timedOut.report.failed, { total: 20, byReason: { TIMEOUT: 20 } });
      assert.equal(timedOut.report.complete, true);
    } finally {
      await full.close();
      await silent.close();
    }
  });

  test('--duration ends a ramp that stalls, and counts what was still in flight', async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      const { report } = await runLoadgen(['--url', silent.url, '--connections', '30', '--duration', '1.5', '--connect-timeout-ms', '60000', ...common]);
      assert.ok(Date.now() - started < 15_000);
      assert.equal(report.endedBy, 'duration');
      assert.equal(report.rampMs, null);
      assert.deepEqual(report.failed, { total: 30, byReason: { UNFINISHED: 30 } });
    } finally {
      await silent.close();
    }
  });

  test('SIGTERM during the hold ends the run early, exit 0, and the report is still written', async () => {
    const server = await startSseServer();
    try {
      const running = startLoadgen(['--url', server.url, '--connections', '50', '--hold', '60', ...common]);
      await waitFor(() => /s hold \| established 50\/50/.test(running.stderr()), { what: 'the hold to start', timeoutMs: 15_000 });
      const signalledAt = Date.now();
      running.kill('SIGTERM');
      const run = await running.done;
      assert.equal(run.code, 0, run.stderr);
      assert.ok(Date.now() - signalledAt < 10_000);
      assert.match(run.stderr, /SIGTERM: stopping/);
      assert.equal(run.report?.endedBy, 'signal');
      assert.equal(run.report?.complete, true);
      assert.equal(run.report?.established.atEnd, 50);
    } finally {
      await server.close();
    }
  });

  test('a bad flag exits 2 and names the flag; --help exits 0', async () => {
    const bad = await startLoadgen(['--url', 'http://127.0.0.1:1/', '--sources', '127.0.1.9-127.0.1.1']).done;
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--sources="127.0.1.9-127.0.1.1" is not valid/);
    assert.equal(bad.report, undefined);
    const tooFew = await startLoadgen(['--url', 'http://127.0.0.1:1/', '--connections', '50', '--processes', '1', '--max-per-process', '20']).done;
    assert.equal(tooFew.code, 2);
    assert.match(tooFew.stderr, /--processes="1" is not valid: expected at least 3/);
    const help = await startLoadgen(['--help']).done;
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: million-sse-loadgen --url URL/);
  });
});

describe('load generator against the million-sse cluster', () => {
  test('sees the opening comment and every heartbeat of a close-delimited stream', async () => {
    const redis = await startRedis();
    try {
      const cluster = await startCluster({ REDIS_URL: redis.url, HEARTBEAT_MS: String(HEARTBEAT_MS), WORKERS: '1' });
      try {
        const { report } = await runLoadgen(['--url', `http://127.0.0.1:${cluster.port}/`, '--connections', '100', '--hold', '1.5', ...common]);
        assert.deepEqual(report.established, { peak: 100, atEnd: 100 });
        assert.equal(report.failed.total, 0);
        // The opening `: million-sse\nretry: N\n\n` arrives with the head.
        assert.equal(report.firstHeartbeatMs.count, 100);
        assert.ok(report.firstHeartbeatMs.p50! < 50, `first frame p50 ${report.firstHeartbeatMs.p50}`);
        assert.ok(report.gapMs.p50! > 150 && report.gapMs.p50! < 260, `gap p50 ${report.gapMs.p50}`);
        assert.equal(report.late, 0);
      } finally {
        await cluster.stop();
      }
    } finally {
      await redis.stop();
    }
  });
});
