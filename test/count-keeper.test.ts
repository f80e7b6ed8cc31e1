// The primary's counting rules (counter/count-keeper.ts) on their own, over
// MemoryCounterStore and a fake clock: the start-up clean slate, the retries
// for dead workers, the reaping grace and the stale-count rule of the status read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CountKeeper, TOMBSTONE_KEEP_MS } from '../src/counter/count-keeper.js';
import { MemoryCounterState, MemoryCounterStore } from '../src/counter/memory-counter-store.js';
import type { ClusterCount } from '../src/counter/counter-store.js';
import { createLogger } from '../src/logger.js';

const LEASE_MS = 5_000;
const COMMAND_TIMEOUT_MS = 2_000;
const logger = createLogger('silent', {});

/** A Redis that can be down: every call fails while `down`; `holdReads` keeps reads unanswered until released. */
class FlakyStore extends MemoryCounterStore {
  down = false;
  heldReads: Array<() => void> = [];
  holdReads = false;
  calls: string[] = [];

  private gate(name: string): void {
    this.calls.push(name);
    if (this.down) throw new Error('Connection is closed.');
  }

  override async claimHost(): Promise<number> {
    this.gate('claim');
    return super.claimHost();
  }

  override async removeWorker(workerId: string): Promise<number> {
    this.gate(`remove ${workerId}`);
    return super.removeWorker(workerId);
  }

  override async reapExpiredHosts(): Promise<string[]> {
    this.gate('reap');
    return super.reapExpiredHosts();
  }

  override async read(): Promise<ClusterCount> {
    this.gate('read');
    if (this.holdReads) await new Promise<void>((resolve) => this.heldReads.push(resolve));
    return super.read();
  }
}

function setup(runId = 'run-2', state = new MemoryCounterState()) {
  const clock = { now: 0 };
  const store = new FlakyStore(state, 'host', LEASE_MS, () => clock.now, runId);
  const outcomes: Array<unknown> = [];
  const keeper = new CountKeeper({
    store,
    logger,
    leaseMs: LEASE_MS,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    isUp: () => !store.down,
    onOutcome: (err) => outcomes.push(err),
    now: () => clock.now,
  });
  return { clock, store, keeper, state, outcomes };
}

/** Lets the store's settled promises run their callbacks. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("start-up is a clean slate for the host: an earlier run's shares and tombstones go, and only this run's reports count", async () => {
  const state = new MemoryCounterState();
  // The earlier run: worker 1 was SIGKILLed and replaced by 3, then the primary died with its workers.
  const earlier = new MemoryCounterStore(state, 'host', LEASE_MS, Date.now, 'run-1');
  await earlier.report('1', 40);
  await earlier.report('2', 55);
  await earlier.removeWorker('1');
  await earlier.report('3', 45);
  const other = new MemoryCounterStore(state, 'other-host', LEASE_MS, Date.now, 'run-9');
  await other.report('1', 3);

  const { store, keeper } = setup('run-2', state);
  await store.report('1', 45); // before the claim: ignored, as a late report of the earlier run would be
  assert.equal(state.total, 103);
  await keeper.claim();
  assert.equal(keeper.hostClaimed, true);
  assert.equal(state.total, 3, "only the other host's share is left");
  await earlier.report('2', 55); // the old worker 2, late
  await store.report('1', 45);
  await store.report('2', 55);
  assert.equal(state.total, 103);
  const count = await keeper.tick();
  assert.deepEqual(count?.perHost.map(({ id, connections, workers }) => ({ id, connections, workers })), [
    { id: 'host', connections: 100, workers: 2 },
    { id: 'other-host', connections: 3, workers: 1 },
  ]);
});

test('a claim that fails at start-up (Redis down) is retried by the next tick; dead workers wait for it', async () => {
  const state = new MemoryCounterState();
  await new MemoryCounterStore(state, 'host', LEASE_MS, Date.now, 'run-1').report('1', 9);
  const { store, keeper } = setup('run-2', state);
  store.down = true;
  await keeper.claim();
  assert.equal(keeper.hostClaimed, false);
  keeper.workerGone(4);
  assert.ok(!store.calls.includes('remove 4'), 'no removal before the claim: the claim would wipe its tombstone');
  assert.equal(await keeper.tick(), null, 'no count while Redis is down');
  store.down = false;
  const count = await keeper.tick();
  await settle();
  assert.equal(keeper.hostClaimed, true);
  assert.equal(count?.connections, 0);
  assert.equal(keeper.pendingDead, 0);
  assert.deepEqual(store.calls.filter((c) => c !== 'read' && c !== 'reap'), ['claim', 'claim', 'remove 4']);
});

test("a dead worker's share is removed at once, or retried every tick until Redis answers", async () => {
  const { store, keeper, state } = setup();
  await keeper.claim();
  await store.report('1', 10);
  await store.report('2', 4);
  keeper.workerGone(2);
  await settle();
  assert.equal(state.total, 10);
  assert.equal(keeper.pendingDead, 0);

  store.down = true;
  keeper.workerGone(1);
  await settle();
  assert.equal(keeper.pendingDead, 1);
  await keeper.tick();
  await settle();
  assert.equal(keeper.pendingDead, 1, 'still down');
  store.down = false;
  await keeper.tick();
  await settle();
  assert.equal(keeper.pendingDead, 0);
  assert.equal(state.total, 0);
  await store.report('1', 10); // its last report, arriving late
  assert.equal(state.total, 0);
});

test("reaping waits until the connection has been up for a whole lease: a lease that ran out while Redis was away says nothing", async () => {
  const state = new MemoryCounterState();
  const { clock, store, keeper } = setup('run-2', state);
  await keeper.claim();
  await store.report('1', 5);
  // Another host reported, then Redis went away for longer than a lease.
  const other = new MemoryCounterStore(state, 'other-host', LEASE_MS, () => clock.now, 'run-7');
  await other.report('1', 20);
  clock.now += LEASE_MS + 1_000;
  keeper.connectionReady();
  await store.report('1', 5);
  await keeper.tick();
  assert.ok(!store.calls.includes('reap'), 'no reaping within a lease of the reconnect');
  assert.equal(state.total, 25);
  // The other host reports again within that lease: it is alive, and stays.
  clock.now += 1_000;
  await other.report('1', 20);
  clock.now += LEASE_MS - 1_000;
  await store.report('1', 5);
  await keeper.tick();
  assert.ok(store.calls.includes('reap'));
  assert.equal(state.total, 25);
  // Now it falls silent for a lease: reaped.
  clock.now += LEASE_MS;
  await store.report('1', 5);
  await keeper.tick();
  assert.equal(state.total, 5);
  assert.deepEqual(state.gone.map((g) => g.id), ['other-host']);
});

test('a slow read does not freeze the feed: the last count is repeated while younger than the command timeout, then there is none', async () => {
  const { clock, store, keeper, outcomes } = setup();
  await keeper.claim();
  await store.report('1', 7);
  assert.equal((await keeper.tick())?.connections, 7);
  store.holdReads = true;
  const slow = keeper.tick();
  await settle();
  assert.equal(store.heldReads.length, 1);
  clock.now += 1_000;
  assert.equal((await keeper.tick())?.connections, 7, '1 s after the last read: repeated');
  clock.now += COMMAND_TIMEOUT_MS - 1_001;
  assert.equal((await keeper.tick())?.connections, 7, 'just younger than the command timeout: repeated');
  clock.now += 1;
  assert.equal(await keeper.tick(), null, 'as old as the command timeout: no count');
  assert.equal(store.calls.filter((c) => c === 'read').length, 2, 'one read at a time');
  store.holdReads = false;
  store.heldReads.shift()!();
  assert.equal((await slow)?.connections, 7);
  assert.deepEqual(outcomes, [undefined, undefined]);
});

test('a failed read is reported to the watch and gives no count', async () => {
  const { store, keeper, outcomes } = setup();
  await keeper.claim();
  store.read = async () => {
    throw new Error('Command timed out');
  };
  assert.equal(await keeper.tick(), null);
  assert.equal((outcomes[0] as Error).message, 'Command timed out');
});

test("a dead worker's tombstone is forgotten once no late report of it can come, so replaced workers do not pile up in the hash", async () => {
  const { clock, store, keeper, state } = setup();
  await keeper.claim();
  await store.report('1', 3);
  await store.report('2', 4);
  keeper.workerGone(2);
  await settle();
  assert.equal(state.hosts.get('host')!.workers.get('2'), -1, 'a tombstone');
  clock.now += TOMBSTONE_KEEP_MS - 1;
  await store.report('1', 3); // the live worker keeps the lease
  await keeper.tick();
  await settle();
  assert.ok(state.hosts.get('host')!.workers.has('2'), 'kept while a late report could still come');
  clock.now += 1;
  await store.report('1', 3);
  await keeper.tick();
  await settle();
  assert.deepEqual([...state.hosts.get('host')!.workers.keys()], ['1']);
  assert.equal(keeper.pendingTombstones, 0);
  assert.equal(state.total, 3);
});
