// A timing wheel: one timer for every connection a worker holds.
//
// A period (the heartbeat interval) is cut into `slots` buckets. A connection
// joins the bucket that has just fired, so that bucket next fires one period
// after the connection arrived, and then every period after that: each
// connection keeps its own cadence, and a million connections are spread over
// the period instead of all being written in the same tick.
//
// The alternative, a setInterval per socket, costs a Timeout object and a
// closure per connection (about 200 bytes, more with the closure's context)
// and a timer-list insertion each; here a connection costs one Set entry and a
// number.

/** The bucket index is kept on the item itself: a lookup table would cost a Map entry per connection. */
export const kSlot = Symbol('million-sse.slot');

export interface Slotted {
  [kSlot]?: number;
}

/** The first whole multiple of `tickMs` after `wallMs` (both on the wall clock, in ms). */
export function nextAlignedTick(wallMs: number, tickMs: number): number {
  return (Math.floor(wallMs / tickMs) + 1) * tickMs;
}

export interface TimingWheelOptions<T> {
  periodMs: number;
  /** Largest gap between two ticks; the real tick divides the period evenly. Default 500 ms. */
  maxTickMs?: number;
  onFire(bucket: ReadonlySet<T>): void;
  /**
   * Where in each tick this wheel fires, as a fraction of the tick (0 to 1):
   * the wheel ticks at whole multiples of the tick on the wall clock, plus
   * this. Workers given phases spread evenly over [0, 1) take turns instead
   * of all writing in the same instant. Default 0.
   */
  phase?: number;
  /** Injectable for tests. */
  now?: () => number;
  /**
   * The wall-clock time, in ms since the epoch, at which `now()` reads 0: the
   * wheel aligns its ticks to the wall clock through it. Default
   * performance.timeOrigin with the real clock; with an injected `now`, no
   * alignment unless a test gives one.
   */
  clockOrigin?: number;
}

const NOT_HELD = -1;
// Each tick wakes the process. At a million connections there are dozens of
// workers on two cores, and a wake-up costs 150-700 µs here whatever it does,
// so ten ticks a second per worker cost more than the heartbeats of an
// 18,000-connection share. Two a second keep every connection's gap at
// exactly one period (a bucket fires once per period) and only make a
// connection's first heartbeat up to half a second late; at 18,000
// connections a tick writes 600 sockets, a few milliseconds of work.
const DEFAULT_MAX_TICK_MS = 500;

export class TimingWheel<T extends Slotted> {
  readonly tickMs: number;
  private readonly buckets: Set<T>[];
  private readonly onFire: (bucket: ReadonlySet<T>) => void;
  private readonly now: () => number;
  private readonly periodMs: number;
  private readonly clockOrigin: number | undefined;
  private readonly phaseMs: number;
  /** Index of the bucket that fires next, and when. */
  private cursor = 0;
  private nextFireAt: number;
  private timer: NodeJS.Timeout | undefined;
  private count = 0;
  // How late the timer fires is the event loop's delay, measured for free by
  // a timer that runs anyway (a separate sampler would wake every worker
  // dozens of times a second).
  private lateSumMs = 0;
  private lateMaxMs = 0;
  private lateSamples = 0;

  constructor(options: TimingWheelOptions<T>) {
    this.periodMs = options.periodMs;
    const slots = Math.max(1, Math.ceil(options.periodMs / (options.maxTickMs ?? DEFAULT_MAX_TICK_MS)));
    this.tickMs = options.periodMs / slots;
    this.buckets = Array.from({ length: slots }, () => new Set<T>());
    this.onFire = options.onFire;
    this.phaseMs = (options.phase ?? 0) * this.tickMs;
    this.now = options.now ?? performance.now.bind(performance);
    // A wheel on its own clock (tests) is not aligned to the wall clock unless given an origin.
    this.clockOrigin = options.clockOrigin ?? (options.now === undefined ? performance.timeOrigin : undefined);
    this.nextFireAt = this.now() + this.tickMs;
  }

  get size(): number {
    return this.count;
  }

  add(item: T): void {
    if (item[kSlot] !== undefined && item[kSlot] !== NOT_HELD) return;
    const slot = (this.cursor + this.buckets.length - 1) % this.buckets.length;
    item[kSlot] = slot;
    this.buckets[slot]!.add(item);
    this.count++;
  }

  /** Returns false when the item was not held, so callers can make teardown idempotent. */
  remove(item: T): boolean {
    const slot = item[kSlot];
    if (slot === undefined || slot === NOT_HELD) return false;
    item[kSlot] = NOT_HELD;
    this.buckets[slot]!.delete(item);
    this.count--;
    return true;
  }

  *items(): IterableIterator<T> {
    for (const bucket of this.buckets) yield* bucket;
  }

  /** Fires every bucket whose time has come. The timer calls it; tests call it with their own clock. */
  advance(): void {
    const now = this.now();
    const slots = this.buckets.length;
    // After a stall longer than a whole period, fire each bucket once and
    // re-phase, rather than writing the same connections several times in a row.
    let budget = slots;
    while (now >= this.nextFireAt && budget-- > 0) {
      this.onFire(this.buckets[this.cursor]!);
      this.cursor = (this.cursor + 1) % slots;
      this.nextFireAt += this.tickMs;
    }
    if (now >= this.nextFireAt) {
      this.nextFireAt += Math.ceil((now - this.nextFireAt) / this.periodMs) * this.periodMs;
    }
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.nextFireAt = this.alignedAfter(this.now());
    const run = (): void => {
      const late = Math.max(0, this.now() - this.nextFireAt);
      this.lateSumMs += late;
      this.lateMaxMs = Math.max(this.lateMaxMs, late);
      this.lateSamples++;
      this.advance();
      this.timer = setTimeout(run, Math.max(0, this.nextFireAt - this.now()));
      this.timer.unref();
    };
    this.timer = setTimeout(run, Math.max(0, this.nextFireAt - this.now()));
    this.timer.unref();
  }

  /**
   * The first tick after `now` that falls on a whole multiple of the tick on
   * the wall clock, shifted by this wheel's phase. Wheels with the same phase
   * tick at the same instants, in every process: a client holding streams
   * from dozens of workers that is woken per event then reads all of them at
   * once. A client that batches its reads (the C engine) gains nothing from
   * that, and then aligned ticks are a burst: dozens of workers writing their
   * share in the same instant, with /ping and the next ticks queued behind
   * it. Measured at about a million connections on two cores, phases spread
   * over the tick took /ping p99 from 1,247 ms to 281 ms and the heartbeat
   * gap p99 from 18.7 s to 16.2 s, which is why the server spreads them by
   * default (TICK_PHASE).
   */
  private alignedAfter(now: number): number {
    if (this.clockOrigin === undefined) return now + this.tickMs;
    const wall = this.clockOrigin + now - this.phaseMs;
    return nextAlignedTick(wall, this.tickMs) + this.phaseMs - this.clockOrigin;
  }

  /** Mean and worst lateness of the ticks since the last call, in milliseconds. */
  takeLateness(): { meanMs: number; maxMs: number } {
    const result = { meanMs: this.lateSamples === 0 ? 0 : this.lateSumMs / this.lateSamples, maxMs: this.lateMaxMs };
    this.lateSumMs = 0;
    this.lateMaxMs = 0;
    this.lateSamples = 0;
    return result;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
