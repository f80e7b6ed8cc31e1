// For each update (by its sequence number), how many clients of this process
// got it and the latest that any of them got it, measured from its publish
// time: for a broadcast, the slowest of these is the time until the last
// subscriber has the update. A fixed ring of slots indexed by sequence number,
// so it costs the same however long the run; an update whose slot is taken by
// a later one is forgotten (past MAX_TRACKED_UPDATES updates in flight at once).

/** The most updates followed at once: a benchmark publishes far fewer per topic. */
export const MAX_TRACKED_UPDATES = 4_096;

/** [sequence number, clients that got it, the latest delivery in ms]. */
export type Arrival = [number, number, number];

export class ArrivalTracker {
  private readonly sequence = new Float64Array(MAX_TRACKED_UPDATES);
  private readonly count = new Uint32Array(MAX_TRACKED_UPDATES);
  private readonly latest = new Float64Array(MAX_TRACKED_UPDATES);

  record(sequence: number, latencyMs: number): void {
    const at = sequence % MAX_TRACKED_UPDATES;
    const held = this.sequence[at]!;
    if (held !== sequence) {
      if (held > sequence) return;
      this.sequence[at] = sequence;
      this.count[at] = 0;
      this.latest[at] = latencyMs;
    }
    this.count[at]!++;
    if (latencyMs > this.latest[at]!) this.latest[at] = latencyMs;
  }

  toJSON(): Arrival[] {
    const out: Arrival[] = [];
    for (let at = 0; at < MAX_TRACKED_UPDATES; at++) {
      if (this.count[at]! > 0) out.push([this.sequence[at]!, this.count[at]!, Math.round(this.latest[at]! * 1000) / 1000]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }
}

/** Several processes' arrivals as one: counts added, the latest of the latest. */
export function mergeArrivals(parts: Iterable<readonly Arrival[]>): Arrival[] {
  const merged = new Map<number, Arrival>();
  for (const part of parts) {
    for (const [sequence, count, latest] of part) {
      const held = merged.get(sequence);
      if (held === undefined) merged.set(sequence, [sequence, count, latest]);
      else {
        held[1] += count;
        held[2] = Math.max(held[2], latest);
      }
    }
  }
  return [...merged.values()].sort((a, b) => a[0] - b[0]);
}
