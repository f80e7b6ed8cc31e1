// Paces connection attempts. A timer that fires every few milliseconds asks
// the bucket how many attempts are due; timers drift and the event loop stalls
// under load, so the bucket works from elapsed time, not from tick counts. The
// burst is bounded, so a long stall is not followed by a flood of SYNs that
// overflows the server's accept backlog.

export class TokenBucket {
  // The first attempt goes at once.
  private tokens = 1;
  private last: number;
  private readonly perMs: number;
  private readonly burst: number;

  /** `perSecond` 0 means unpaced: every call grants `unpacedBurst`. */
  constructor(
    private readonly perSecond: number,
    now: number,
    private readonly unpacedBurst = 1_000,
  ) {
    this.perMs = perSecond / 1000;
    // A tenth of a second's worth, and at least one attempt.
    this.burst = Math.max(1, perSecond / 10);
    this.last = now;
  }

  /** Whole tokens available at `now`, without taking them. */
  available(now: number): number {
    if (this.perSecond === 0) return this.unpacedBurst;
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
    return Math.floor(this.tokens);
  }

  take(count: number): void {
    if (this.perSecond !== 0) this.tokens -= count;
  }
}
