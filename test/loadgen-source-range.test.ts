import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SOURCES, ephemeralPortCount, parseSourceRange } from '../src/loadgen/source-range.js';

test('a full range expands to every address in it', () => {
  const list = parseSourceRange('127.0.1.1-127.0.1.250');
  assert.equal(list.length, 250);
  assert.equal(list[0], '127.0.1.1');
  assert.equal(list[249], '127.0.1.250');
});

test('a range may cross octet boundaries', () => {
  assert.deepEqual(parseSourceRange('10.0.0.254-10.0.1.1'), ['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1']);
});

test('the short form gives only the last octet of the end', () => {
  assert.deepEqual(parseSourceRange('127.0.1.1-3'), ['127.0.1.1', '127.0.1.2', '127.0.1.3']);
});

test('lists mix addresses and ranges, keep order and drop duplicates', () => {
  assert.deepEqual(parseSourceRange('127.0.0.9, 127.0.1.1-2,::1,127.0.0.9'), ['127.0.0.9', '127.0.1.1', '127.0.1.2', '::1']);
});

test('a single address is a list of one', () => {
  assert.deepEqual(parseSourceRange('192.168.1.20'), ['192.168.1.20']);
});

test('bad input fails with the reason', () => {
  assert.throws(() => parseSourceRange('127.0.1.9-127.0.1.1'), /ends before it starts/);
  assert.throws(() => parseSourceRange('127.0.1.300'), /not an IP address/);
  assert.throws(() => parseSourceRange('localhost'), /not an IP address/);
  assert.throws(() => parseSourceRange('127.0.1.1-x'), /not an IPv4 address or a last octet/);
  assert.throws(() => parseSourceRange('::1-::5'), /not an IPv4 address/);
  assert.throws(() => parseSourceRange('127.0.0.1,,127.0.0.2'), /empty item/);
  assert.throws(() => parseSourceRange('10.0.0.0-10.255.255.255'), new RegExp(`more than ${MAX_SOURCES}`));
});

test('the ephemeral port count comes from the kernel', () => {
  const ports = ephemeralPortCount();
  assert.ok(Number.isInteger(ports) && ports > 0 && ports <= 65_536, String(ports));
});
