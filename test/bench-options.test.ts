// The benchmark's flags: defaults, --quick, and a clear error for a bad value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBenchArgs, type BenchOptions } from '../src/bench/options.js';
import { workersFor } from '../src/bench/run-bench.js';
import { openFileLimit } from '../src/config/open-file-limit.js';
import { ConfigError } from '../src/errors.js';

test('benchmark flags: defaults, --quick defaults, and values as given', () => {
  const defaults = parseBenchArgs([]);
  assert.ok(defaults !== 'help');
  assert.deepEqual([defaults.connections, defaults.holdSeconds, defaults.settleSeconds, defaults.connectTimeoutMs, defaults.tune], [20_000, 60, 15, 10_000, true]);
  const quick = parseBenchArgs(['--quick']);
  assert.ok(quick !== 'help');
  assert.deepEqual([quick.connections, quick.holdSeconds, quick.settleSeconds, quick.heartbeatMs, quick.tune], [3_000, 12, 2, 2_000, false]);
  const given = parseBenchArgs(['--connections', '1000000', '--settle', '0', '--connect-timeout-ms', '30000']);
  assert.ok(given !== 'help');
  assert.deepEqual([given.connections, given.settleSeconds, given.connectTimeoutMs], [1_000_000, 0, 30_000]);
});

test('a bad benchmark flag names the flag, the value and what was expected', () => {
  for (const [args, message] of [
    [['--port', '70000'], /^--port="70000" is not valid: expected a whole number from 1 to 65535$/],
    [['--hold', '0'], /^--hold="0" is not valid/],
    [['--connections', 'many'], /^--connections="many" is not valid/],
    [['--engine', 'rust'], /^--engine="rust" is not valid: expected node or c$/],
    [['--tick-phase', 'random'], /^--tick-phase="random" is not valid: expected spread or aligned$/],
    [['--netns', '--no-netns'], /^--netns="with --no-netns" is not valid/],
    [['--hosts', '0'], /^--hosts="0" is not valid: expected a whole number from 1 to 20$/],
    [['--hosts', '3', '--compare'], /^--hosts="3" is not valid: expected without --compare/],
    [['--hosts', '3', '--netns'], /^--hosts="3" is not valid: expected without --netns/],
  ] as const) {
    assert.throws(() => parseBenchArgs([...args]), (err: unknown) => err instanceof ConfigError && message.test(err.message));
  }
});

test('the namespace is decided by size unless asked for; --quick stays on the loopback', async () => {
  const { bucketsFor } = await import('../src/bench/netns-host.js');
  // Two sockets a connection (both ends on the host), and twice that in buckets.
  assert.equal(bucketsFor(1_000_000), 4_194_304);
  assert.equal(bucketsFor(3_000), 16_384);
  assert.equal(bucketsFor(10_000_000), 16_777_216, 'the kernel ceiling');
  const auto = parseBenchArgs(['--connections', '1000000']);
  assert.ok(auto !== 'help');
  assert.equal(auto.netns, undefined);
  const quick = parseBenchArgs(['--quick']);
  assert.ok(quick !== 'help');
  assert.equal(quick.netns, false);
  const asked = parseBenchArgs(['--quick', '--netns', '--engine', 'c', '--batch-ms', '50', '--tick-phase', 'aligned']);
  assert.ok(asked !== 'help');
  assert.deepEqual([asked.netns, asked.engine, asked.batchMs, asked.tickPhase], [true, 'c', 50, 'aligned']);
});

test('--hosts: workers planned per host for its share, and one cluster by default', () => {
  const parse = (args: string[]): BenchOptions => {
    const options = parseBenchArgs(args);
    assert.ok(options !== 'help');
    return options;
  };
  assert.equal(parse([]).hosts, undefined);
  const hosts = parse(['--hosts', '3', '--connections', '90000']);
  assert.equal(hosts.hosts, 3);
  // 30,000 a host, each worker planned 90 % full (the open-file limit less a margin of 200).
  assert.equal(workersFor(hosts), Math.ceil(30_000 / ((openFileLimit() - 200) * 0.9)));
  assert.equal(workersFor(parse(['--hosts', '3', '--connections', '3000'])), 1);
});

test('--publish-rate, --topics and --payload: defaults, values, and what they refuse', () => {
  const off = parseBenchArgs([]);
  assert.ok(off !== 'help');
  assert.deepEqual([off.publishRate, off.topics, off.payloadBytes], [0, 1, 100]);
  const on = parseBenchArgs(['--publish-rate', '2000', '--topics', '10000', '--payload', '512']);
  assert.ok(on !== 'help');
  assert.deepEqual([on.publishRate, on.topics, on.payloadBytes], [2_000, 10_000, 512]);
  for (const [args, message] of [
    [['--topics', '3'], /^--topics="3" is not valid: expected with --publish-rate/],
    [['--publish-rate', '5', '--payload', '10'], /^--payload="10" is not valid: expected a whole number from 20/],
    [['--publish-rate', '5', '--compare'], /^--publish-rate="5" is not valid: expected without --compare/],
  ] as const) {
    assert.throws(() => parseBenchArgs([...args]), (err: unknown) => err instanceof ConfigError && message.test(err.message));
  }
});

test('--compare alone is the bare loop\'s; with a list of references, the fan-out\'s, which needs --publish-rate', () => {
  const bare = parseBenchArgs(['--compare', '--connections', '1000']);
  assert.ok(bare !== 'help');
  assert.deepEqual([bare.compare, bare.compareWith, bare.connections], [true, [], 1_000]);
  for (const args of [['--publish-rate', '1', '--compare', 'nchan,floor'], ['--publish-rate', '1', '--compare=nchan,floor']]) {
    const fan = parseBenchArgs(args);
    assert.ok(fan !== 'help');
    assert.deepEqual([fan.compare, fan.compareWith], [false, ['nchan', 'floor']]);
  }
  assert.throws(() => parseBenchArgs(['--compare', 'floor']), /--compare="floor" is not valid: expected with --publish-rate/);
  assert.throws(() => parseBenchArgs(['--publish-rate', '1', '--compare=nginx']), /--compare="nginx" is not valid: expected nchan or floor/);
});
