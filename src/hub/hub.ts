// One worker's part of the Mercure hub: it stores what is published here in
// the shared history, hands every update of the history (whoever published
// it) to the subscribers it holds, and replays what a reconnecting subscriber
// missed before switching it to live updates with no gap and no duplicate.
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import { loggableRedisError } from '../counter/redis-client.js';
import type { History, ReplayStart } from './history.js';
import { FanOut } from './fan-out.js';
import { anyMatches, type Matcher } from './matchers.js';
import { SubscriptionIndex } from './subscription-index.js';
import { kSubscriber, type SubscribedSocket, type Subscriber } from './subscriber.js';
import { TokenExpiry } from './token-expiry.js';
import { eventFrame, gapFrame } from './event-frame.js';
import { entryIdOfEventId, type StoredUpdate, type Update } from './update.js';

export interface HubOptions {
  history: History;
  logger: Logger;
  /** The hub's URL: relative topics and patterns resolve against it. */
  base: string;
  maxUnsentBytes: number;
  maxPendingPublishes: number;
  /** Called after a socket is written to, so that its heartbeat can wait a period. */
  written(socket: Socket): void;
  sliceSize?: number;
}

export interface HubCounters {
  published: number;
  deliveries: number;
  dropped: number;
  updates: number;
  expired: number;
  subscribers: number;
  /** Longest publish-to-last-socket time since the last call, in ms. */
  fanOutMs: number;
}

export class TooManyPublishes extends Error {}

// Sockets written per turn of the event loop: about 2 ms of writes here, so a
// fan-out to a worker's 18,000 subscribers yields to the loop nine times.
const DEFAULT_SLICE = 2_000;
// Bytes a replay may have queued on a socket before it waits for the client to read.
const REPLAY_HIGH_WATER = 1024 * 1024;

export class Hub {
  private readonly index: SubscriptionIndex;
  private readonly fanOut: FanOut;
  private readonly expiry = new TokenExpiry();
  private readonly base: string;
  private pendingPublishes = 0;
  private published = 0;

  constructor(private readonly options: HubOptions) {
    this.base = options.base;
    this.index = new SubscriptionIndex(options.base);
    this.fanOut = new FanOut({
      sliceSize: options.sliceSize ?? DEFAULT_SLICE,
      maxUnsentBytes: options.maxUnsentBytes,
      maxWaitingFrames: 10_000,
      written: (subscriber) => options.written(subscriber.socket),
    });
  }

  counters(): HubCounters {
    const totals = this.fanOut.totals();
    return {
      published: this.published,
      deliveries: totals.deliveries,
      dropped: totals.dropped,
      updates: totals.updates,
      expired: this.expiry.expired,
      subscribers: this.index.size,
      fanOutMs: this.fanOut.takeSlowest(),
    };
  }

  /** Stores `update` in the history; resolves with the id subscribers will see. */
  async publish(update: Update): Promise<string> {
    // Each publish holds a Redis round trip; past this many at once the
    // publisher is told to come back instead of queueing without bound.
    if (this.pendingPublishes >= this.options.maxPendingPublishes) throw new TooManyPublishes();
    this.pendingPublishes++;
    try {
      const entryId = await this.options.history.append(update);
      this.published++;
      return update.id ?? `#${entryId}`;
    } finally {
      this.pendingPublishes--;
    }
  }

  /** The history's updates, as this worker's update source reads them, in order. */
  dispatch(updates: readonly StoredUpdate[]): void {
    for (const update of updates) {
      const targets = this.index.select(update.topics);
      if (targets.length === 0) continue;
      const allowed = update.private ? (subscriber: Subscriber) => this.mayRead(subscriber, update) : undefined;
      this.fanOut.enqueue({ entryId: update.entryId, frame: eventFrame(update), targets, allowed });
    }
  }

  /** Spec: Subscribers: a private update goes only to a token granting `subscribe` on one of its topics. */
  private mayRead(subscriber: Subscriber, update: Update): boolean {
    return !update.private || (subscriber.grants !== undefined && anyMatches(subscriber.grants, update.topics, this.base));
  }

  private selects(subscriber: Subscriber, update: Update): boolean {
    return anyMatches(subscriber.matchers, update.topics, this.base) && this.mayRead(subscriber, update);
  }

  /**
   * Registers a subscriber on `socket`. With `replay`, live updates wait in
   * its queue until replay() has sent the history; call it next.
   */
  attach(socket: Socket, matchers: readonly Matcher[], grants: readonly Matcher[] | undefined, expiresAt: number | undefined, replay: boolean): Subscriber {
    const subscriber: Subscriber = { socket, matchers, grants, waiting: replay ? [] : undefined, replayedThrough: undefined };
    (socket as SubscribedSocket)[kSubscriber] = subscriber;
    this.index.add(subscriber);
    if (expiresAt !== undefined) this.expiry.add(socket, expiresAt);
    return subscriber;
  }

  /** The one way out for a subscriber; running it twice does nothing. */
  detach(socket: Socket): void {
    const subscriber = (socket as SubscribedSocket)[kSubscriber];
    if (subscriber === undefined) return;
    delete (socket as SubscribedSocket)[kSubscriber];
    this.index.remove(subscriber);
    this.expiry.remove(socket);
  }

  /** Where a replay for `lastEventId` starts (a Redis round trip or a few). */
  resolve(lastEventId: string): Promise<ReplayStart> {
    return this.options.history.resolve(lastEventId, entryIdOfEventId);
  }

  /**
   * Sends `subscriber` what the history holds after `start` that it listens
   * to and may read, then what arrived live meanwhile, without what the
   * replay already sent; from then on it is live. The response head must
   * already be written.
   */
  async replay(subscriber: Subscriber, start: ReplayStart, requested: string): Promise<void> {
    const { socket } = subscriber;
    if (start.kind === 'earliest' && start.reason !== 'asked') this.fanOut.write(subscriber, gapFrame(requested, start.reason));
    let through = start.kind === 'after' ? start.entryId : '0-0';
    try {
      for await (const page of this.options.history.readAfter(start.kind === 'after' ? start.entryId : '-')) {
        if (socket.destroyed) return;
        for (const update of page) {
          if (!this.selects(subscriber, update)) continue;
          this.fanOut.writeReplayed(subscriber, eventFrame(update));
          if (socket.writableLength > REPLAY_HIGH_WATER) await waitForDrain(socket);
          if (socket.destroyed) return;
        }
        through = page[page.length - 1]!.entryId;
      }
    } catch (err) {
      // The history went away mid-replay: the client comes back with the
      // last id it got, and the replay starts again from there.
      this.options.logger.warn({ err: loggableRedisError(err as Error) }, 'replaying the history failed; ending the stream so that the client resumes');
      socket.destroy();
      return;
    }
    const waiting = subscriber.waiting ?? [];
    subscriber.waiting = undefined;
    subscriber.replayedThrough = through;
    for (const [entryId, frame] of waiting) this.fanOut.deliver(subscriber, entryId, frame);
  }

  stop(): void {
    this.expiry.stop();
  }
}

function waitForDrain(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
