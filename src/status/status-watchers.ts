// The clients of GET /status_watcher. There are few of them, so they are kept
// in a plain Set; each gets the primary's snapshot once a second.
import type { Socket } from 'node:net';
import { holdSocket } from '../connections/take-over-socket.js';
import { dataFrame } from '../connections/sse-frames.js';

export class StatusWatchers {
  private readonly sockets = new Set<Socket>();
  private latest: string | undefined;
  private readonly onGone: (this: Socket) => void;

  /**
   * `onWatching` hears when this worker gains its first watcher or loses its
   * last: the primary sends the feed only to workers that have watchers.
   */
  constructor(
    private readonly maxUnsentBytes: number,
    private readonly onWatching: (watching: boolean) => void = () => undefined,
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
