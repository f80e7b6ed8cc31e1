// A log-bucketed histogram of durations, in the manner of HdrHistogram: fixed
// buckets, so recording is O(1) with no allocation, and two histograms merge
// by adding counts. A connection's heartbeat gaps are never stored one by one:
// at a million connections and one gap every 15 s that would be gigabytes an
// hour.
//
// Values are recorded in milliseconds and kept in whole microseconds. Below
// 256 µs each microsecond has its own bucket; above that, every power of two
// is cut into 128 buckets, so a bucket is at most 1/128 of its value wide and
// a percentile read from its midpoint is within 0.4% (at 15 s: within 60 ms).
// Whether a gap was late is decided exactly, when it is recorded, not from
// these buckets; min, max and the sum are exact too.

const SUB_BITS = 7;
const LINEAR_LIMIT = 2 << SUB_BITS; // 256: values below this have a bucket each
const MAX_MICROS = 0xffff_ffff; // about 71.6 minutes; longer values land in the last bucket
const BUCKETS = ((31 - SUB_BITS) << SUB_BITS) + LINEAR_LIMIT; // 3328

function bucketOf(micros: number): number {
  if (micros < LINEAR_LIMIT) return micros;
  const exp = 31 - Math.clz32(micros) - SUB_BITS;
  return (exp << SUB_BITS) + (micros >>> exp);
}

/** The midpoint of a bucket, in microseconds. */
function midpointOf(bucket: number): number {
  if (bucket < LINEAR_LIMIT) return bucket;
  const exp = (bucket >> SUB_BITS) - 1;
  const mantissa = bucket - (exp << SUB_BITS);
  const width = 2 ** exp;
  return mantissa * width + (width - 1) / 2;
}

/** The JSON form sent between processes: only the buckets that hold something. */
export interface HistogramData {
  /** [bucket, count] pairs. */
  buckets: Array<[number, number]>;
  count: number;
  /** Milliseconds; null when empty. */
  min: number | null;
  max: number | null;
  sumMs: number;
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export class Histogram {
  // Float64, not Uint32: a long run's counts can pass 2^32.
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sum = 0;
  private low = Infinity;
  private high = -Infinity;

  get count(): number {
    return this.total;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sum = 0;
    this.low = Infinity;
    this.high = -Infinity;
  }

  /** Records `times` values of `ms` milliseconds each (negative values count as 0). */
  record(ms: number, times = 1): void {
    const value = ms > 0 ? ms : 0;
    const micros = Math.min(MAX_MICROS, Math.round(value * 1000));
    this.counts[bucketOf(micros)]! += times;
    this.total += times;
    this.sum += value * times;
    if (value < this.low) this.low = value;
    if (value > this.high) this.high = value;
  }

  /** The value at percentile `p` (0-100), in milliseconds; null when empty. */
  percentile(p: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) {
        // The exact extremes are known; a midpoint outside them would be a worse answer.
        return Math.min(this.high, Math.max(this.low, midpointOf(bucket) / 1000));
      }
    }
    return this.high;
  }

  summary(): Percentiles {
    const empty = this.total === 0;
    return {
      count: this.total,
      p50: round(this.percentile(50)),
      p99: round(this.percentile(99)),
      max: empty ? null : round(this.high),
      mean: empty ? null : round(this.sum / this.total),
    };
  }

  merge(other: Histogram | HistogramData): void {
    const data = other instanceof Histogram ? other.toJSON() : other;
    for (const [bucket, count] of data.buckets) {
      if (!Number.isInteger(bucket) || bucket < 0 || bucket >= BUCKETS) throw new RangeError(`histogram bucket ${bucket} is out of range`);
      this.counts[bucket]! += count;
    }
    this.total += data.count;
    this.sum += data.sumMs;
    if (data.min !== null && data.min < this.low) this.low = data.min;
    if (data.max !== null && data.max > this.high) this.high = data.max;
  }

  toJSON(): HistogramData {
    const buckets: Array<[number, number]> = [];
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      const count = this.counts[bucket]!;
      if (count > 0) buckets.push([bucket, count]);
    }
    const empty = this.total === 0;
    return { buckets, count: this.total, min: empty ? null : this.low, max: empty ? null : this.high, sumMs: this.sum };
  }

  static from(data: HistogramData): Histogram {
    const histogram = new Histogram();
    histogram.merge(data);
    return histogram;
  }
}

/** Milliseconds to 0.1 ms, which is finer than anything a heartbeat gap needs. */
function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 10) / 10;
}
