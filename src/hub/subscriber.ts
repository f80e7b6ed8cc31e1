// One Mercure subscriber: its socket, what it listens to, what its token lets
// it read. Kept on the socket itself, so a subscriber costs one small object
// and its matcher list (shared between subscribers that sent the same query).
import type { Socket } from 'node:net';
import type { Matcher } from './matchers.js';

export const kSubscriber = Symbol('million-sse.subscriber');

export interface Subscriber {
  readonly socket: Socket;
  readonly matchers: readonly Matcher[];
  /** The topics its token grants `subscribe` on; undefined for an anonymous subscriber, who gets public updates only. */
  readonly grants: readonly Matcher[] | undefined;
  /** While its history is being replayed, live frames wait here, with their entry ids, instead of going out. */
  waiting: Array<[string, Buffer]> | undefined;
  /** Live updates up to this entry id were already sent by the replay. */
  replayedThrough: string | undefined;
}

export type SubscribedSocket = Socket & { [kSubscriber]?: Subscriber };
