// Ends a subscriber's stream when its token expires (spec: Subscribers: no
// later than `exp`). Sockets are kept in buckets of one second and a single
// timer walks them: no timer per subscriber. The client reconnects with a
// fresh token and its last event id, and misses nothing.
import type { Socket } from 'node:net';

export const kExpiry = Symbol('million-sse.expiry');
type ExpiringSocket = Socket & { [kExpiry]?: number };

const TICK_MS = 1_000;

export class TokenExpiry {
  private readonly buckets = new Map<number, Set<ExpiringSocket>>();
  private ended: ExpiringSocket[] = [];
  private timer: NodeJS.Timeout | undefined;
  expired = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Ends `socket` at `expiresAt` (ms since the epoch), at the latest. */
  add(socket: Socket, expiresAt: number): void {
    // The bucket of the second before: the tick that walks it comes within
    // that second, so a stream may end up to two seconds early, never late.
    const second = Math.floor(expiresAt / TICK_MS) - 1;
    let bucket = this.buckets.get(second);
    if (bucket === undefined) this.buckets.set(second, (bucket = new Set()));
    bucket.add(socket);
    (socket as ExpiringSocket)[kExpiry] = second;
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
  }

  remove(socket: Socket): void {
    const second = (socket as ExpiringSocket)[kExpiry];
    if (second === undefined) return;
    delete (socket as ExpiringSocket)[kExpiry];
    const bucket = this.buckets.get(second);
    if (bucket !== undefined && bucket.delete(socket) && bucket.size === 0) this.buckets.delete(second);
  }

  tick(): void {
    // Streams ended a tick ago whose clients have not closed their side are cut.
    for (const socket of this.ended) socket.destroy();
    this.ended = [];
    const due = Math.floor(this.now() / TICK_MS);
    for (const [second, bucket] of this.buckets) {
      if (second > due) continue;
      this.buckets.delete(second);
      for (const socket of bucket) {
        delete socket[kExpiry];
        this.expired++;
        socket.end();
        this.ended.push(socket);
      }
    }
    if (this.buckets.size === 0 && this.ended.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
