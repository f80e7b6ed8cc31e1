// How the dashboard writes its figures, and the statistics of its pings.
// Plain functions with no DOM, so the test can call them in the browser.

// One fixed locale: the experiment's figure is "1,000,000", on any machine.
const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** 1234567 -> "1,234,567". The original page read its own "1,000,000" back as 1000; we never parse what we print. */
export function formatCount(n) {
  return Number.isFinite(n) ? whole.format(n) : '–';
}

/** A per-second rate: one decimal while small, so 0.2/s does not read as 0. */
export function formatRate(n) {
  if (!Number.isFinite(n)) return '–';
  return n < 10 ? oneDecimal.format(n) : whole.format(n);
}

/** Milliseconds with the precision a reader can use: 0.42 ms, 3.1 ms, 120 ms. */
export function formatMs(ms) {
  if (!Number.isFinite(ms)) return '–';
  if (ms === 0) return '0 ms';
  if (ms < 1) return `${twoDecimals.format(ms)} ms`;
  if (ms < 10) return `${oneDecimal.format(ms)} ms`;
  return `${whole.format(ms)} ms`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes in binary units, three significant figures: 512 MiB, 1.25 GiB. */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value >= 100 || unit === 0 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** "47.3 %" of a whole; "–" when the whole is 0. */
export function formatShare(part, total) {
  return total > 0 ? `${oneDecimal.format((part / total) * 100)} %` : '–';
}

/**
 * Median, mean and p99 of a list of durations. The p99 is the nearest-rank
 * percentile, so over 60 samples it is the slowest one: the honest answer
 * for so few.
 */
export function summarize(samples) {
  const n = samples.length;
  if (n === 0) return { count: 0, median: NaN, mean: NaN, p99: NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(n / 2);
  const median = n % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  const mean = sorted.reduce((sum, x) => sum + x, 0) / n;
  const p99 = sorted[Math.ceil(0.99 * n) - 1];
  return { count: n, median, mean, p99 };
}
