import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCli } from '../src/loadgen/cli.js';
import { DEFAULTS, toOptions, type LoadgenOptions } from '../src/loadgen/options.js';
import { planProcesses, RESERVED_FDS } from '../src/loadgen/process-plan.js';
import { TokenBucket } from '../src/loadgen/token-bucket.js';

function options(argv: string[]): LoadgenOptions {
  const parsed = parseCli(argv, false);
  assert.equal(parsed.kind, 'run');
  return (parsed as { options: LoadgenOptions }).options;
}

test('flags become frozen options with defaults', () => {
  const o = options(['--url', 'http://localhost:5252/?a=1', '--connections', '20_000', '--sources', '127.0.1.1-127.0.1.250', '--id', 'c7']);
  assert.equal(o.connections, 20_000);
  assert.deepEqual(o.target, { url: 'http://localhost:5252/?a=1', host: 'localhost', port: 5252, path: '/?a=1', hostHeader: 'localhost:5252' });
  assert.equal(o.sources.length, 250);
  assert.equal(o.rate, DEFAULTS.rate);
  assert.equal(o.holdMs, DEFAULTS.holdSeconds * 1000);
  assert.equal(o.heartbeatMs, 15_000);
  assert.equal(o.reportPath, 'loadgen-report-c7.json');
  assert.equal(o.progressMs, DEFAULTS.progressMsPlain);
  assert.equal(o.reconnect, false);
  assert.ok(Object.isFrozen(o));
  // The default cap leaves room for the ramp twice over, the timeouts and the hold.
  assert.ok(o.durationMs >= 2 * 20_000 + o.holdMs + o.connectTimeoutMs);
});

test('the port defaults to 80, IPv6 brackets are removed, and seconds may be fractions', () => {
  const o = options(['--url', 'http://[::1]/events', '--hold', '1.5', '--duration', '3', '--rate', '0', '--reconnect']);
  assert.equal(o.target.host, '::1');
  assert.equal(o.target.port, 80);
  assert.equal(o.target.hostHeader, '[::1]');
  assert.equal(o.holdMs, 1_500);
  assert.equal(o.durationMs, 3_000);
  assert.equal(o.rate, 0);
  assert.equal(o.reconnect, true);
});

test('--help wins over everything else', () => {
  assert.deepEqual(parseCli(['--help', '--connections', 'x'], false), { kind: 'help' });
});

test('bad values fail naming the flag and the value', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--url="" is not valid/],
    [['--url', 'ftp://x/'], /--url="ftp:\/\/x\/" is not valid: expected an http:\/\/ URL/],
    [['--url', 'https://x/'], /https is not supported/],
    [['--url', 'http://x/', '--connections', '0'], /--connections="0" is not valid/],
    [['--url', 'http://x/', '--connections', '1e3'], /--connections="1e3"/],
    [['--url', 'http://x/', '--rate=-1'], /--rate="-1"/],
    [['--url', 'http://x/', '--hold', 'soon'], /--hold="soon"/],
    [['--url', 'http://x/', '--duration', '0'], /--duration="0"/],
    [['--url', 'http://x/', '--sources', '127.0.1.9-127.0.1.1'], /--sources="127.0.1.9-127.0.1.1" is not valid: .*ends before it starts/],
    [['--url', 'http://x/', '--id', 'a b'], /--id="a b"/],
    [['--url', 'http://x/', '--header', 'X-A: 1\r\nX-B: 2'], /--header=/],
    [['--url', 'http://x/', '--max-pending', '0'], /--max-pending="0"/],
  ];
  for (const [argv, message] of cases) assert.throws(() => parseCli(argv, false), message, argv.join(' '));
  assert.throws(() => parseCli(['--url', 'http://x/', '--bogus'], false), /Unknown option '--bogus'/);
});

test('--engine picks the client processes, and --batch-ms goes with the C engine only', () => {
  const node = options(['--url', 'http://x/']);
  assert.equal(node.engine, 'node');
  const c = options(['--url', 'http://x/', '--engine', 'c']);
  assert.equal(c.engine, 'c');
  assert.equal(c.batchMs, DEFAULTS.batchMs);
  assert.equal(options(['--url', 'http://x/', '--engine', 'c', '--batch-ms', '0']).batchMs, 0);
  const cases: Array<[string[], RegExp]> = [
    [['--engine', 'rust'], /--engine="rust" is not valid: expected one of node, c/],
    [['--batch-ms', '50'], /--batch-ms="50" is not valid: expected no value unless --engine c/],
    [['--engine', 'c', '--batch-ms', '1001'], /--batch-ms="1001" is not valid: expected a whole number from 0 to 1000/],
    [['--engine', 'c', '--batch-ms=-5'], /--batch-ms="-5"/],
    [['--engine', 'c', '--header', `X-Big: ${'a'.repeat(60_000)}`], /--header="1 headers" is not valid: expected at most 60000 bytes/],
  ];
  for (const [argv, message] of cases) assert.throws(() => parseCli(['--url', 'http://x/', ...argv], false), message, argv.join(' '));
});

test('connections are split over as few processes as the open-file limit allows', () => {
  const o = toOptions({ url: 'http://x/', connections: '50000', rate: '5000', 'max-pending': '2000' }, false);
  const shares = planProcesses(o, 20_000);
  assert.equal(shares.length, 3);
  assert.deepEqual(
    shares.map((s) => [s.connections, s.firstConnection]),
    [
      [16_667, 0],
      [16_667, 16_667],
      [16_666, 33_334],
    ],
  );
  for (const share of shares) {
    assert.equal(share.rate, 5000 / 3);
    assert.equal(share.maxPending, 667);
    assert.ok(share.connections <= 20_000 - RESERVED_FDS);
  }
});

test('--processes and --max-per-process override the split, within the limit', () => {
  const base = { url: 'http://x/', connections: '300' };
  assert.equal(planProcesses(toOptions({ ...base, 'max-per-process': '200' }, false), 20_000).length, 2);
  assert.equal(planProcesses(toOptions({ ...base, processes: '4' }, false), 20_000).length, 4);
  assert.equal(planProcesses(toOptions({ ...base, processes: '900' }, false), 20_000).length, 300);
  assert.throws(() => planProcesses(toOptions({ ...base, processes: '1', 'max-per-process': '100' }, false), 20_000), /--processes="1" is not valid: expected at least 3/);
  assert.throws(() => planProcesses(toOptions({ ...base, 'max-per-process': '19901' }, false), 20_000), /--max-per-process="19901" .*open-file limit is 20000/);
});

test('the token bucket paces by elapsed time and bounds the burst', () => {
  const bucket = new TokenBucket(1000, 0);
  assert.equal(bucket.available(0), 1);
  bucket.take(1);
  assert.equal(bucket.available(10), 10);
  bucket.take(10);
  // A long stall earns at most a tenth of a second's worth.
  assert.equal(bucket.available(5_000), 100);
  const unpaced = new TokenBucket(0, 0, 500);
  unpaced.take(500);
  assert.equal(unpaced.available(0), 500);
});
