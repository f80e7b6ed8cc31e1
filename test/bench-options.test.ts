// The benchmark's flags: defaults, --quick, and a clear error for a bad value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBenchArgs } from '../src/bench/options.js';
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
  ] as const) {
    assert.throws(() => parseBenchArgs([...args]), (err: unknown) => err instanceof ConfigError && message.test(err.message));
  }
});
