// Time a process spent in garbage-collection pauses, from V8's own GC events
// (perf_hooks 'gc' entries), taken once a second with the other figures. At a
// million, a worker's major GC stops its heartbeats for as long as it runs,
// and dozens of workers that collect in the same second are a storm of late
// heartbeats: this is how the status feed, /metrics and the benchmark see it.
// The durations are wall time: on a machine with more runnable processes than
// cores, a collection that waits for a CPU half-way counts that wait too.
import { PerformanceObserver, constants } from 'node:perf_hooks';

export class GcPauses {
  private ms = 0;
  private majorMs = 0;
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      this.ms += entry.duration;
      // `detail` is on gc entries only, so the general type lacks it.
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.majorMs += entry.duration;
    }
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
