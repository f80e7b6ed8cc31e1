// The SSE connections one worker holds: their heartbeats, their teardown, their
// counters, and the drain at shutdown.
import type { Socket } from 'node:net';
import { TimingWheel, type Slotted } from './timing-wheel.js';
import { holdSocket } from './take-over-socket.js';

type HeldSocket = Socket & Slotted;

export interface RegistryCounters {
  held: number;
  opened: number;
  closed: number;
  dropped: number;
  heartbeats: number;
}

export interface ConnectionRegistryOptions {
  heartbeatMs: number;
  heartbeat: Buffer;
  maxConnections: number;
  maxUnsentBytes: number;
  /** This worker's place in the heartbeat tick, a fraction from 0 to 1 (see TimingWheel). */
  tickPhase?: number;
  now?: () => number;
  /** Hears every connection the teardown removes (the hub unsubscribes it there). */
  onRemoved?: (socket: Socket) => void;
}

export class ConnectionRegistry {
  private readonly wheel: TimingWheel<HeldSocket>;
  private readonly heartbeat: Buffer;
  private readonly maxUnsentBytes: number;
  readonly maxConnections: number;
  /** Streams answered whose sockets have not been added yet (see open-stream.ts). */
  private reserved = 0;
  private opened = 0;
  private closed = 0;
  private dropped = 0;
  private heartbeats = 0;
  private emptied: (() => void) | undefined;
  private readonly onRemoved: ((socket: Socket) => void) | undefined;
  /** Set by drain(): a stream added from then on is ended as soon as it is held. */
  private draining = false;
  // One function for every connection; the socket arrives as `this`.
  private readonly onGone: (this: Socket) => void;

  constructor(options: ConnectionRegistryOptions) {
    this.heartbeat = options.heartbeat;
    this.maxUnsentBytes = options.maxUnsentBytes;
    this.maxConnections = options.maxConnections;
    this.onRemoved = options.onRemoved;
    this.wheel = new TimingWheel<HeldSocket>({
      periodMs: options.heartbeatMs,
      onFire: (bucket) => this.beat(bucket),
      phase: options.tickPhase ?? 0,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    const registry = this;
    this.onGone = function onGone(this: Socket) {
      registry.teardown(this);
    };
  }

  get size(): number {
    return this.wheel.size;
  }

  get full(): boolean {
    return this.wheel.size + this.reserved >= this.maxConnections;
  }

  start(): void {
    this.wheel.start();
  }

  reserve(): void {
    this.reserved++;
  }

  cancel(socket?: Socket): void {
    if (this.reserved > 0) this.reserved--;
    if (socket !== undefined) this.onRemoved?.(socket);
    this.checkEmptied();
  }

  add(socket: Socket): void {
    this.wheel.add(socket);
    this.opened++;
    holdSocket(socket, this.onGone);
    // Answered before the drain began, taken over after it listed the
    // streams: ended as gracefully as the others, not cut with the stragglers.
    if (this.draining) socket.end();
  }

  /** The one teardown; 'close' calls it, and calling it again does nothing. */
  teardown(socket: Socket): void {
    if (!this.wheel.remove(socket)) return;
    this.closed++;
    this.onRemoved?.(socket);
    this.checkEmptied();
  }

  /** The drain is over once no stream is held and none answered is still to be taken over. */
  private checkEmptied(): void {
    if (this.wheel.size === 0 && this.reserved === 0) this.emptied?.();
  }

  /**
   * A stream just written to needs no heartbeat for a period: it moves to the
   * bucket that fired last, which next fires a period from now.
   */
  touch(socket: Socket): void {
    if (this.wheel.remove(socket)) this.wheel.add(socket);
  }

  counters(): RegistryCounters {
    return {
      held: this.wheel.size,
      opened: this.opened,
      closed: this.closed,
      dropped: this.dropped,
      heartbeats: this.heartbeats,
    };
  }

  /** The event loop's delay since the last call, as the heartbeat timer saw it. */
  takeLoopDelay(): { meanMs: number; maxMs: number } {
    return this.wheel.takeLateness();
  }

  /** Runs the wheel's due buckets now; for tests driving their own clock. */
  advance(): void {
    this.wheel.advance();
  }

  private beat(bucket: ReadonlySet<HeldSocket>): void {
    for (const socket of bucket) {
      // A client that stopped reading: the kernel's buffers are full and ours
      // is growing. Drop it before it costs more than a bounded amount.
      if (socket.writableLength > this.maxUnsentBytes) {
        this.dropped++;
        socket.destroy();
        continue;
      }
      socket.write(this.heartbeat);
      this.heartbeats++;
    }
  }

  /**
   * Ends every stream, spread at random over `spreadMs`: a server that cuts a
   * million clients at once gets a million reconnects at once, somewhere.
   * Resolves when all are gone; sockets still open at the end are destroyed.
   */
  async drain(spreadMs: number): Promise<void> {
    this.draining = true;
    this.wheel.stop();
    const sockets = [...this.wheel.items()];
    // Fisher-Yates, then end them in even slices over the spread.
    for (let i = sockets.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [sockets[i], sockets[j]] = [sockets[j]!, sockets[i]!];
    }
    const emptied = new Promise<void>((resolve) => {
      this.emptied = resolve;
      this.checkEmptied();
    });
    const slices = Math.max(1, Math.min(sockets.length, Math.floor(spreadMs / 50)));
    const perSlice = Math.ceil(sockets.length / slices);
    for (let slice = 0; slice < slices; slice++) {
      if (slice > 0) await new Promise((resolve) => setTimeout(resolve, spreadMs / slices));
      for (const socket of sockets.slice(slice * perSlice, (slice + 1) * perSlice)) socket.end();
    }
    // end() waits for the client's FIN; give well-behaved clients a moment, then cut the rest.
    const cut = setTimeout(() => this.destroyAll(), 1_000);
    await emptied;
    clearTimeout(cut);
  }

  destroyAll(): void {
    for (const socket of [...this.wheel.items()]) socket.destroy();
  }
}
