import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram } from '../src/loadgen/histogram.js';

function within(actual: number | null, expected: number, relative: number): void {
  assert.ok(actual !== null, `expected about ${expected}, got null`);
  assert.ok(Math.abs(actual - expected) <= expected * relative, `expected ${expected} ± ${relative * 100}%, got ${actual}`);
}

test('an empty histogram reports nulls, not zeros', () => {
  const h = new Histogram();
  assert.deepEqual(h.summary(), { count: 0, p50: null, p99: null, max: null, mean: null });
  assert.equal(h.percentile(50), null);
});

test('percentiles of a spread of values are within half a percent', () => {
  const h = new Histogram();
  for (let ms = 1; ms <= 20_000; ms++) h.record(ms);
  within(h.percentile(50), 10_000, 0.005);
  within(h.percentile(99), 19_800, 0.005);
  const s = h.summary();
  assert.equal(s.count, 20_000);
  assert.equal(s.max, 20_000);
  within(s.mean, 10_000.5, 1e-9);
});

test('sub-millisecond values keep microsecond resolution', () => {
  const h = new Histogram();
  h.record(0.1);
  h.record(0.2);
  h.record(0.25);
  assert.equal(h.percentile(50), 0.2);
  assert.equal(h.percentile(100), 0.25);
});

test('a value recorded many times counts that many times', () => {
  const h = new Histogram();
  h.record(15_000, 99);
  h.record(17_000);
  assert.equal(h.count, 100);
  within(h.percentile(99), 15_000, 0.005);
  assert.equal(h.summary().max, 17_000);
});

test('percentiles never fall outside the exact min and max', () => {
  const h = new Histogram();
  h.record(15_003);
  assert.equal(h.percentile(50), 15_003);
  assert.equal(h.percentile(99), 15_003);
});

test('values past the top bucket keep their exact max', () => {
  const h = new Histogram();
  h.record(5 * 3_600_000);
  h.record(-5);
  assert.equal(h.summary().max, 5 * 3_600_000);
  assert.equal(h.percentile(1), 0);
});

test('merging equals recording everything in one histogram, also through JSON', () => {
  const a = new Histogram();
  const b = new Histogram();
  const all = new Histogram();
  for (let i = 0; i < 5_000; i++) {
    const value = (i * 7919) % 30_000;
    (i % 2 === 0 ? a : b).record(value);
    all.record(value);
  }
  const merged = Histogram.from(JSON.parse(JSON.stringify(a.toJSON())));
  merged.merge(JSON.parse(JSON.stringify(b)));
  assert.deepEqual(merged.summary(), all.summary());
  assert.deepEqual(merged.toJSON().buckets, all.toJSON().buckets);
});

test('merging rejects a bucket index from a different layout', () => {
  const h = new Histogram();
  assert.throws(() => h.merge({ buckets: [[1_000_000, 1]], count: 1, min: 1, max: 1, sumMs: 1 }), /out of range/);
});
