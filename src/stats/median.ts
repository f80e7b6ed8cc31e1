// The median of a handful of samples (RSS once a second, ping latencies,
// benchmark runs); shared by the load generator's report and the benchmark.

/** The middle value, or the mean of the two middle ones; 0 for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
