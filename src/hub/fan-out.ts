// Writes each update to the subscribers it goes to, one update after the
// other, in the history's order. An update is one Buffer, written as it is to
// every socket; a fan-out to many sockets is cut into slices with a turn of
// the event loop between them, so that heartbeats, /ping and new connections
// keep their time while tens of thousands of sockets are written.
import type { Subscriber } from './subscriber.js';
import { compareEntryIds } from './update.js';

export interface FanOutJob {
  readonly entryId: string;
  readonly frame: Buffer;
  readonly targets: readonly Subscriber[];
  /** For a private update: whether this subscriber may read it. Undefined for a public update. */
  readonly allowed: ((subscriber: Subscriber) => boolean) | undefined;
}

export interface FanOutOptions {
  /** Sockets written per turn of the event loop. */
  sliceSize: number;
  /** A subscriber with more than this many bytes unsent is dropped (it comes back with its last event id). */
  maxUnsentBytes: number;
  /** Live frames a replaying subscriber may have waiting before it is dropped. */
  maxWaitingFrames: number;
  /** Called with a socket just written to: it needs no heartbeat for a period. */
  written(subscriber: Subscriber): void;
}

export interface FanOutCounters {
  deliveries: number;
  dropped: number;
  updates: number;
}

export class FanOut {
  private readonly queue: FanOutJob[] = [];
  private head = 0;
  private offset = 0;
  private scheduled = false;
  private readonly counters: FanOutCounters = { deliveries: 0, dropped: 0, updates: 0 };
  /** Longest time from publication to the last socket written, since the last takeSlowest(). */
  private slowestMs = 0;
  private readonly runSlice = (): void => this.slice();

  constructor(private readonly options: FanOutOptions) {}

  totals(): Readonly<FanOutCounters> {
    return this.counters;
  }

  /** Updates waiting to be written. */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  takeSlowest(): number {
    const slowest = this.slowestMs;
    this.slowestMs = 0;
    return slowest;
  }

  enqueue(job: FanOutJob): void {
    this.queue.push(job);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.runSlice);
    }
  }

  /**
   * Sends one frame to one subscriber, unless it is waiting for its replay
   * (the frame joins its queue) or its replay already sent this update.
   */
  deliver(subscriber: Subscriber, entryId: string, frame: Buffer): void {
    if (subscriber.waiting !== undefined) {
      if (subscriber.waiting.length >= this.options.maxWaitingFrames) {
        this.drop(subscriber);
        return;
      }
      subscriber.waiting.push([entryId, frame]);
      return;
    }
    if (subscriber.replayedThrough !== undefined) {
      if (compareEntryIds(entryId, subscriber.replayedThrough) <= 0) return;
      subscriber.replayedThrough = undefined;
    }
    this.write(subscriber, frame);
  }

  /** Writes a frame now; a subscriber that stopped reading is dropped instead. Returns whether it was written. */
  write(subscriber: Subscriber, frame: Buffer): boolean {
    const { socket } = subscriber;
    if (socket.destroyed) return false;
    if (socket.writableLength > this.options.maxUnsentBytes) {
      this.drop(subscriber);
      return false;
    }
    socket.write(frame);
    this.counters.deliveries++;
    this.options.written(subscriber);
    return true;
  }

  /**
   * Writes a replayed frame. The replay waits for the client to read before
   * it writes more (see Hub.replay), so its backlog is not a reason to drop.
   */
  writeReplayed(subscriber: Subscriber, frame: Buffer): void {
    if (subscriber.socket.destroyed) return;
    subscriber.socket.write(frame);
    this.counters.deliveries++;
    this.options.written(subscriber);
  }

  private drop(subscriber: Subscriber): void {
    this.counters.dropped++;
    // A reset, not a FIN: a FIN waits behind the megabytes the client has not
    // read, and those stay in the kernel's buffers until it does. The client
    // sees the reset at once and comes back with its last event id.
    subscriber.socket.resetAndDestroy();
  }

  private slice(): void {
    let budget = this.options.sliceSize;
    while (this.head < this.queue.length && budget > 0) {
      const job = this.queue[this.head]!;
      const end = Math.min(job.targets.length, this.offset + budget);
      for (let i = this.offset; i < end; i++) {
        const subscriber = job.targets[i]!;
        if (job.allowed === undefined || job.allowed(subscriber)) this.deliver(subscriber, job.entryId, job.frame);
      }
      budget -= end - this.offset;
      if (end < job.targets.length) {
        this.offset = end;
        break;
      }
      // Every target has it: how long since Redis took it (the entry id's time).
      this.counters.updates++;
      const publishedAt = Number(job.entryId.slice(0, job.entryId.indexOf('-')));
      this.slowestMs = Math.max(this.slowestMs, Date.now() - publishedAt);
      this.queue[this.head++] = undefined as unknown as FanOutJob;
      this.offset = 0;
      budget--;
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      this.scheduled = false;
      return;
    }
    setImmediate(this.runSlice);
  }
}
