import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config/config.js';
import { ConfigError } from '../src/errors.js';
import { toOptions } from '../src/loadgen/options.js';

const parseLoadgenArgs = (argv: [string, string]): { heartbeatMs: number } =>
  toOptions({ url: 'http://127.0.0.1:5252/', [argv[0].slice(2)]: argv[1] }, false);

test('defaults match the experiment: port 5252, 15 s heartbeats as SSE comments', () => {
  const config = loadConfig({});
  assert.equal(config.port, 5252);
  assert.equal(config.heartbeatMs, 15_000);
  assert.equal(config.heartbeat, 'comment');
  assert.equal(config.redisUrl, undefined);
  assert.ok(config.workers >= 1);
  assert.ok(config.maxConnectionsPerWorker > 0);
  assert.ok(Object.isFrozen(config));
});

test('a bad value stops start-up with a message naming the variable and the value', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /^PORT="eighty" is not valid/],
    [{ PORT: '70000' }, /^PORT="70000" is not valid/],
    [{ WORKERS: '0' }, /^WORKERS="0" is not valid/],
    [{ HEARTBEAT_MS: '1.5' }, /^HEARTBEAT_MS="1.5" is not valid/],
    [{ HEARTBEAT: 'bell' }, /^HEARTBEAT="bell" is not valid: expected one of comment, nul/],
    [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL="localhost:6379" is not valid/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL="loud" is not valid/],
    [{ LEASE_MS: '60000' }, /^LEASE_MS="60000" is not valid/],
    [{ HOST_ID: 'a b' }, /^HOST_ID="a b" is not valid/],
    [{ WORKER_NODE_FLAGS: '--inspect; rm -rf /' }, /^WORKER_NODE_FLAGS="--inspect; rm -rf \/" is not valid/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
  }
});

test('values are parsed once into the typed config', () => {
  const config = loadConfig({ PORT: '0', WORKERS: '3', HEARTBEAT_MS: '250', HEARTBEAT: 'nul', REDIS_URL: 'redis://127.0.0.1:7000', MAX_CONNECTIONS_PER_WORKER: '10' });
  assert.deepEqual(
    [config.port, config.workers, config.heartbeatMs, config.heartbeat, config.redisUrl, config.maxConnectionsPerWorker],
    [0, 3, 250, 'nul', 'redis://127.0.0.1:7000', 10],
  );
});

test('one reading of whole numbers: the server\'s variables and the load generator\'s flags accept and refuse the same spellings', () => {
  for (const [raw, value] of [['15000', 15_000], ['15_000', 15_000], [' 15000 ', 15_000], ['1_0_000', 10_000]] as const) {
    assert.equal(loadConfig({ HEARTBEAT_MS: raw }).heartbeatMs, value, `HEARTBEAT_MS=${raw}`);
    assert.equal(parseLoadgenArgs(['--heartbeat-ms', raw]).heartbeatMs, value, `--heartbeat-ms ${raw}`);
  }
  for (const raw of ['15e3', '-1', '1.5', '15__000', '_15000', '15000_', '0x10', '']) {
    assert.throws(() => loadConfig({ HEARTBEAT_MS: raw || ' ' }), ConfigError, `HEARTBEAT_MS=${raw}`);
    assert.throws(() => parseLoadgenArgs(['--heartbeat-ms', raw]), ConfigError, `--heartbeat-ms ${raw}`);
  }
});
