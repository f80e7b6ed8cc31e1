// Time a process spent in garbage-collection pauses, from V8's own GC events
// (perf_hooks 'gc' entries), taken once a second with the other figures. At a
// million, a worker's major GC stops its heartbeats for as long as it runs,
// and dozens of workers that collect in the same second are a storm of late
// heartbeats: this is how the status feed, /metrics and the benchmark see it.
// The durations are wall time: on a machine with more runnable processes than
// cores, a collection that waits for a CPU half-way counts that wait too.
//
// It also keeps the heap in use just after the last major collection: the
// heap in use at any moment is live data plus garbage not yet collected, and
// V8 may leave old garbage for many minutes, so only the figure taken after a
// full collection tells a leak from a lazy collector.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

export class GcPauses {
  private ms = 0;
  private majorMs = 0;
  /** Heap in use right after the last major GC, in bytes; 0 before the first. */
  liveBytes = 0;
  private readonly observer = new PerformanceObserver((list) => {
    let major = false;
    for (const entry of list.getEntries()) {
      this.ms += entry.duration;
      // `detail` is on gc entries only, so the general type lacks it.
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        this.majorMs += entry.duration;
        major = true;
      }
    }
    // Told on a later turn than the collection, so a little has been
    // allocated since: a slight overestimate, the same in every sample.
    if (major) this.liveBytes = getHeapStatistics().used_heap_size;
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Pause time since the last call, in milliseconds: all kinds, and major (mark-compact) alone. */
  take(): { ms: number; majorMs: number } {
    const taken = { ms: Math.round(this.ms * 100) / 100, majorMs: Math.round(this.majorMs * 100) / 100 };
    this.ms = 0;
    this.majorMs = 0;
    return taken;
  }

  stop(): void {
    this.observer.disconnect();
  }
}
