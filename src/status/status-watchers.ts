// The clients of GET /status_watcher. There are few of them, so they are kept
// in a plain Set; each gets the primary's snapshot once a second.
import type { Socket } from 'node:net';
import { holdSocket } from '../connections/take-over-socket.js';
import { dataFrame } from '../connections/sse-frames.js';

/**
 * Watchers one worker serves at most. A watcher is not one of the streams
 * MAX_CONNECTIONS_PER_WORKER counts, and without STATUS_TOKEN anyone may open
 * one: uncapped, they could take the worker's last file descriptors, and each
 * costs the whole snapshot every second. Dashboards are a handful; this fits
 * in the descriptors the configuration keeps aside for the worker itself.
 */
export const MAX_STATUS_WATCHERS = 64;

export class StatusWatchers {
  private readonly sockets = new Set<Socket>();
  /** Watchers answered whose sockets have not been added yet (see http/open-stream.ts). */
  private reserved = 0;
  private latest: string | undefined;
  private readonly onGone: (this: Socket) => void;

  /**
   * `onWatching` hears when this worker gains its first watcher or loses its
   * last: the primary sends the feed only to workers that have watchers.
   */
  constructor(
    private readonly maxUnsentBytes: number,
    private readonly onWatching: (watching: boolean) => void = () => undefined,
    readonly maxWatchers = MAX_STATUS_WATCHERS,
  ) {
    const watchers = this;
    this.onGone = function onGone(this: Socket) {
      if (watchers.sockets.delete(this) && watchers.sockets.size === 0) {
        // Events stop coming; a later watcher must not be shown a stale one.
        watchers.latest = undefined;
        watchers.onWatching(false);
      }
    };
  }

  get size(): number {
    return this.sockets.size;
  }

  /** The latest event, so that a new watcher sees something at once rather than in up to a second. */
  get latestFrame(): string | undefined {
    return this.latest;
  }

  /** At the cap: a new watcher is refused with a 503. */
  get full(): boolean {
    return this.sockets.size + this.reserved >= this.maxWatchers;
  }

  reserve(): void {
    this.reserved++;
  }

  cancel(): void {
    if (this.reserved > 0) this.reserved--;
  }

  add(socket: Socket): void {
    this.sockets.add(socket);
    holdSocket(socket, this.onGone);
    if (this.sockets.size === 1) this.onWatching(true);
  }

  publish(json: string): void {
    const frame = dataFrame(json);
    this.latest = frame;
    for (const socket of this.sockets) {
      if (socket.writableLength > this.maxUnsentBytes) socket.destroy();
      else socket.write(frame);
    }
  }

  endAll(): void {
    for (const socket of this.sockets) socket.end();
  }
}
