// `npm run bench -- --quick` end to end: Redis, the cluster, the load
// generator, the samplers and the report. It checks that the report is
// complete and self-consistent, never that a timing beats a threshold.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './helpers/cluster.js';
import { freePort } from './helpers/wait.js';
import type { BenchResult } from '../src/bench/bench-result.js';

const run = promisify(execFile);

test('the quick benchmark writes a complete, self-consistent report and an index line', async (t) => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'msse-bench-test-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const port = await freePort();
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'dist/bench/main.js'), '--quick', '--port', String(port), '--out', out], {
    cwd: ROOT,
    timeout: 240_000,
  });
  const files = await readdir(out);
  const json = files.find((f) => /^\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-3000\.json$/.test(f));
  assert.ok(json, `a result file in ${files.join(', ')}`);
  assert.ok(files.includes(json.replace('.json', '.md')));
  const result = JSON.parse(await readFile(path.join(out, json), 'utf8')) as BenchResult & { problems: string[] };
  assert.deepEqual(result.problems, []);

  // The same facts, asserted here as well as by the benchmark itself.
  assert.equal(result.established, 3000);
  assert.equal(result.statusConnections, result.established, '/status_watcher agrees with the load generator');
  assert.equal(result.failed.total, 0);
  const received = result.heartbeats.receivedFrames - result.heartbeats.openingFrames;
  assert.ok(received > 0 && received <= result.heartbeats.serverWritten, 'every heartbeat received was written');
  assert.ok(result.heartbeats.serverWritten - received <= result.established, 'at most one heartbeat per stream in flight at the end');
  assert.ok(result.samples.length >= result.settings.holdSeconds - 1, 'a sample a second over the hold');
  for (const name of ['primary', 'redis', 'worker-1', 'worker-2']) assert.ok((result.memory.holdRssMedianBytes[name] ?? 0) > 0, `RSS of ${name}`);
  assert.equal(typeof result.memory.serverBytesPerConnection, 'number');
  assert.ok(result.cpu.microsecondsPerHeartbeat !== null && result.cpu.microsecondsPerHeartbeat > 0);
  assert.ok(result.ping.samples > 0 && result.ping.burstRatePerSec > 0);
  // Each second's CPU by kind adds up to the machine's cores, and the server and the load generator both used some.
  const cores = os.availableParallelism();
  for (const { cpu } of result.samples) {
    const kinds = cpu!.machine.user + cpu!.machine.system + cpu!.machine.softirq + cpu!.machine.steal + cpu!.machine.idle;
    assert.ok(kinds > cores * 0.7 && kinds < cores * 1.3, `a second's CPU by kind sums to ${kinds} on ${cores} cores`);
  }
  assert.ok(result.samples.reduce((sum, s) => sum + s.cpu!.server, 0) > 0 && result.samples.reduce((sum, s) => sum + s.cpu!.loadgen, 0) > 0);
  // Every second has the workers' figures, and the stall profile covers every second of the hold.
  assert.ok(result.samples.every((s) => s.workers !== null && s.workers!.worstLoopDelayMs >= 0));
  assert.equal(result.stalls!.ofSeconds, (result as unknown as { samplesTaken: number }).samplesTaken);
  assert.equal(typeof result.memory.workersHeapSlopeBytesPerHour, 'number', "the workers' heap is sampled beside their RSS");
  assert.equal(result.memory.slopesFromMs, result.samples[0]!.t, 'the count held still through the hold, so the slopes cover all of it');
  assert.match(await readFile(path.join(out, json.replace(/\.json$/, '.md')), 'utf8'), /stall seconds \(a worker ≥ 0\.5 s late\) \| {2}\| \d+ of \d+ s/);
  assert.ok(result.heartbeats.gapMs.p99 !== null);

  // The markdown table names each of the original's four criteria.
  for (const criterion of ['memory per connection', 'load per core', '/ping rate sustained', 'heartbeat gap p99']) assert.match(stdout, new RegExp(`\\| ${criterion.replace('/', '\\/')} \\|`));
  const index = await readFile(path.join(out, 'index.md'), 'utf8');
  assert.match(index, new RegExp(`\\| 3000 \\| 3000 \\| 0 \\|.*\\[${json}\\]`));
});

test('--publish-rate publishes through the hub while clients over two topics read every update: deliveries, latency, none missing', async (t) => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'msse-bench-test-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const port = await freePort();
  const { stdout } = await run(
    process.execPath,
    [path.join(ROOT, 'dist/bench/main.js'), '--quick', '--port', String(port), '--out', out, '--connections', '300', '--hold', '3', '--engine', 'node', '--publish-rate', '20', '--topics', '2'],
    { cwd: ROOT, timeout: 120_000 },
  );
  const json = (await readdir(out)).find((f) => f.endsWith('-300.json'));
  assert.ok(json);
  const result = JSON.parse(await readFile(path.join(out, json), 'utf8')) as BenchResult & { problems: string[] };
  assert.deepEqual(result.problems, []);
  const fan = result.fanOut!;
  assert.equal(fan.publish.failed.total, 0);
  assert.ok(fan.publish.ok >= 40 && fan.publish.latencyMs.p99! > 0, `published ${JSON.stringify(fan.publish)}`);
  // Each accepted update is due to the 150 clients of its topic, and each got every one once.
  assert.equal(fan.expected, fan.publish.ok * 150);
  assert.deepEqual([fan.received, fan.missing, fan.duplicates, fan.outOfOrder], [fan.expected, 0, 0, 0]);
  assert.ok(fan.deliveriesPerSec > 0 && fan.deliveryMs.p50! > 0 && fan.deliveryMs.max! < 5_000, JSON.stringify(fan.deliveryMs));
  assert.equal(fan.lastSubscriber, null, 'two topics are not a broadcast');
  assert.equal(result.heartbeats.updateFrames, fan.received);
  for (const row of ['publishing', 'deliveries', 'delivery latency']) assert.match(stdout, new RegExp(`\\| ${row} \\|`));
});

/**
 * A quick benchmark of 2,000 connections held 5 s with `flags`, in a results
 * folder of its own: its result, what it printed on stderr, and the network
 * namespaces there were before it (to check it removed its own).
 */
async function quickRunOf(t: TestContext, ...flags: string[]): Promise<{ result: BenchResult & { problems: string[] }; stderr: string; namespacesBefore: string }> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'msse-bench-test-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const namespacesBefore = (await run('ip', ['netns', 'list'])).stdout;
  const { stderr } = await run(
    process.execPath,
    [path.join(ROOT, 'dist/bench/main.js'), '--quick', ...flags, '--connections', '2000', '--hold', '5', '--out', out],
    { cwd: ROOT, timeout: 240_000 },
  );
  const json = (await readdir(out)).find((f) => f.endsWith('-2000.json'));
  assert.ok(json, stderr);
  const result = JSON.parse(await readFile(path.join(out, json), 'utf8')) as BenchResult & { problems: string[] };
  assert.deepEqual(result.problems, []);
  assert.equal(result.established, 2000);
  return { result, stderr, namespacesBefore };
}

test('--netns runs the whole benchmark inside a namespace with its own established hash, then removes it', async (t) => {
  const { result, stderr, namespacesBefore: before } = await quickRunOf(t, '--netns');
  assert.match(result.host?.netns ?? '', /^msse-bench-\d+$/);
  assert.equal(result.host?.ownEhash, true, 'the namespace has a table of its own, not the host\'s');
  assert.equal(result.host?.ehashBuckets, 8_192);
  assert.match(stderr, /removed/);
  assert.equal((await run('ip', ['netns', 'list'])).stdout, before, 'the namespace is gone');
});

test('--hosts measures through HAProxy across namespace hosts, counting every host, HAProxy and Redis, then removes them', async (t) => {
  const { result, stderr, namespacesBefore: before } = await quickRunOf(t, '--hosts', '2');
  assert.equal(result.statusConnections, 2000);
  assert.equal(result.settings.hosts, 2);
  assert.equal(result.host?.netns, 'msse-bench-load');
  const roles = new Set(Object.keys(result.memory.holdRssMedianBytes).map((name) => name.split(':')[0]));
  assert.deepEqual([...roles].sort(), ['app1', 'app2', 'haproxy', 'redis']);
  assert.ok(result.cpu.microsecondsPerHeartbeat! > 0);
  // Probes go through HAProxy. One in a run used to fail: the prober's own
  // end cut the probe in flight (fixed; see test/ping-prober.test.ts). No
  // other cause is known, but a quick run has few probes and HAProxy was not
  // watched long after the fix, so the test asks for nearly all, and says why
  // any failed.
  assert.ok(result.ping.samples > 0 && result.ping.failures <= Math.max(1, result.ping.samples / 10), `/ping answered through HAProxy: ${result.ping.failures} of ${result.ping.samples} failed: ${JSON.stringify(result.ping.failureCauses)}`);
  assert.match(stderr, /hosts: network removed/);
  assert.equal((await run('ip', ['netns', 'list'])).stdout, before, 'every namespace is gone');
});

test('--hosts 1 --direct measures a server host from a load host over veth, no HAProxy, each with its own established hash', async (t) => {
  const childEhash = (await readFile('/proc/sys/net/ipv4/tcp_child_ehash_entries', 'utf8')).trim();
  const { result, stderr, namespacesBefore: before } = await quickRunOf(t, '--hosts', '1', '--direct');
  assert.equal(result.settings.direct, true);
  // No HAProxy among the server's processes: the streams never went through it.
  const roles = new Set(Object.keys(result.memory.holdRssMedianBytes).map((name) => name.split(':')[0]));
  assert.deepEqual([...roles].sort(), ['app1', 'redis']);
  assert.ok(result.ping.samples > 0 && result.ping.failures === 0, `/ping straight to the app host: ${result.ping.failures} of ${result.ping.samples} failed: ${JSON.stringify(result.ping.failureCauses)}`);
  // The load host, where the benchmark ran, had a table of its own of 4 x N.
  assert.equal(result.host?.netns, 'msse-bench-load');
  assert.deepEqual([result.host?.ownEhash, result.host?.ehashBuckets], [true, 8_192]);
  assert.match(stderr, /reached directly \(no HAProxy in the path\)/);
  assert.equal((await run('ip', ['netns', 'list'])).stdout, before, 'every namespace is gone');
  assert.equal((await readFile('/proc/sys/net/ipv4/tcp_child_ehash_entries', 'utf8')).trim(), childEhash, "the machine's setting for new namespaces is put back");
});

test('--direct without --hosts 1 is refused, saying why', async () => {
  const failed = await run(process.execPath, [path.join(ROOT, 'dist/bench/main.js'), '--quick', '--direct', '--out', os.tmpdir()], { cwd: ROOT }).then(
    () => null,
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(failed?.code, 2);
  assert.match(failed!.stderr, /--direct.*with --hosts 1/);
});

test('--netns without root fails at once with a clear message', async () => {
  // The nobody user: the benchmark must refuse before touching the network.
  const failed = await run(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(ROOT, 'dist/bench/main.js'), '--quick', '--netns', '--out', os.tmpdir()],
    { cwd: ROOT, timeout: 30_000 },
  ).then(
    () => null,
    (err: { code: number; stderr: string }) => err,
  );
  assert.ok(failed !== null, 'it exits non-zero');
  assert.match(failed.stderr, /cannot make a network namespace for the benchmark: it needs root .*; pass --no-netns/);
});
