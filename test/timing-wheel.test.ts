import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimingWheel, nextAlignedTick, type Slotted } from '../src/connections/timing-wheel.js';

type Item = Slotted & { name: string };

function wheelWithClock(periodMs: number) {
  let now = 0;
  const fired: Array<{ at: number; name: string }> = [];
  const wheel = new TimingWheel<Item>({
    periodMs,
    maxTickMs: 100,
    now: () => now,
    onFire: (bucket) => {
      for (const item of bucket) fired.push({ at: now, name: item.name });
    },
  });
  const advanceTo = (t: number): void => {
    // Step like a timer would, tick by tick.
    while (now < t) {
      now = Math.min(t, now + wheel.tickMs);
      wheel.advance();
    }
  };
  return { wheel, fired, advanceTo, setNow: (t: number) => (now = t) };
}

test('each item fires one period after it joined, then every period: its own cadence', () => {
  const { wheel, fired, advanceTo } = wheelWithClock(1_000);
  advanceTo(250);
  wheel.add({ name: 'a' });
  advanceTo(730);
  wheel.add({ name: 'b' });
  advanceTo(3_800);
  const times = (name: string): number[] => fired.filter((f) => f.name === name).map((f) => f.at);
  const a = times('a');
  const b = times('b');
  assert.equal(a.length, 3);
  assert.equal(b.length, 3);
  // Gaps are exactly the period; the first fire comes within one tick of a period after joining.
  for (const series of [a, b]) for (let i = 1; i < series.length; i++) assert.equal(series[i]! - series[i - 1]!, 1_000);
  assert.ok(a[0]! - 250 <= 1_000 && a[0]! - 250 > 900);
  assert.ok(b[0]! - 730 <= 1_000 && b[0]! - 730 > 900);
});

test('many items are spread over the period, not written in one tick', () => {
  const { wheel, fired, advanceTo } = wheelWithClock(1_000);
  for (let t = 0; t < 1_000; t += 10) {
    advanceTo(t);
    wheel.add({ name: String(t) });
  }
  advanceTo(2_000);
  const perTick = new Map<number, number>();
  for (const f of fired) perTick.set(f.at, (perTick.get(f.at) ?? 0) + 1);
  assert.equal(new Set(fired.map((f) => f.name)).size, 100, 'every item fired');
  assert.ok(Math.max(...perTick.values()) <= 11, `at most one tick's arrivals per tick, got ${Math.max(...perTick.values())}`);
});

test('remove is idempotent and a removed item never fires again', () => {
  const { wheel, fired, advanceTo } = wheelWithClock(500);
  const item: Item = { name: 'x' };
  wheel.add(item);
  assert.equal(wheel.size, 1);
  assert.equal(wheel.remove(item), true);
  assert.equal(wheel.remove(item), false);
  assert.equal(wheel.size, 0);
  advanceTo(2_000);
  assert.equal(fired.length, 0);
});

test('after a stall longer than a period, each item fires once, not once per missed period', () => {
  const { wheel, fired, advanceTo, setNow } = wheelWithClock(1_000);
  wheel.add({ name: 'x' });
  advanceTo(100);
  setNow(5_500);
  wheel.advance();
  assert.equal(fired.length, 1);
});

test('wheels on the wall clock tick at whole multiples of the tick, so every worker ticks at the same instants', () => {
  assert.equal(nextAlignedTick(1_700_000_000_123, 500), 1_700_000_000_500);
  assert.equal(nextAlignedTick(1_700_000_000_499.9, 500), 1_700_000_000_500);
  // On a boundary: the next one, never now (the bucket that fired now would fire twice).
  assert.equal(nextAlignedTick(1_700_000_000_500, 500), 1_700_000_001_000);
  assert.equal(nextAlignedTick(1_234, 400), 1_600);
});

test('a wheel on the wall clock fires its ticks on whole-second boundaries, shifted by its phase, so workers take turns (fake clock)', (t) => {
  // Timers fire late on a loaded machine, by any amount: with the real clock
  // this could only be checked within a guessed margin. The fake clock runs
  // each timer at its due millisecond, so the boundaries are checked exactly.
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_123 });
  for (const phase of [0, 0.5, 0.25]) {
    const fires: number[] = [];
    const wheel = new TimingWheel<Item>({
      periodMs: 1_000,
      maxTickMs: 1_000,
      phase,
      now: () => Date.now(),
      clockOrigin: 0,
      onFire: () => fires.push(Date.now()),
    });
    wheel.start();
    // One millisecond at a time: each timer runs with the clock at its own due time.
    for (let ms = 0; ms < 3_000; ms++) t.mock.timers.tick(1);
    wheel.stop();
    assert.equal(fires.length, 3, `phase ${phase}: ${fires.length} ticks in 3 s`);
    assert.deepEqual(fires.map((at) => at % 1_000), [phase * 1_000, phase * 1_000, phase * 1_000], `phase ${phase}`);
    for (let i = 1; i < fires.length; i++) assert.equal(fires[i]! - fires[i - 1]!, 1_000);
  }
});
