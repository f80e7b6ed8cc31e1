// One process's share of client connections: opens them at a paced rate,
// parses each response just far enough to know it is a 200 stream, then
// counts the frames that arrive and the gaps between them.
//
// The cost per held connection is the point here (the target is under 2 KB of
// RSS): besides its net.Socket, a connection is one slot in a few typed arrays
// (about 30 bytes), and it holds no closure, no timer, no Buffer and no
// string. Every socket shares one read buffer (net's `onread` option, which
// also skips the readable stream's queue) and the same three handlers, which
// find the connection's slot on the socket itself. Timeouts are one periodic
// scan, not a timer per socket.
import net from 'node:net';
import { Histogram } from './histogram.js';
import type { ClientPlan } from './messages.js';
import type { ClientProgress, Counts } from './report.js';
import { EventReader } from './event-reader.js';
import { BodyScanner, MAX_HEAD_BYTES, parseHead } from './sse-scanner.js';
import { TokenBucket } from './token-bucket.js';

// The pacing timer runs often enough to open about MAX_OPENS_PER_PACED_TICK
// per tick, between 10 and 100 ms: a fleet of dozens of client processes at a
// few dozen connections a second each would otherwise wake the machine 100
// times a second per process for one connection.
const MIN_TICK_MS = 10;
const MAX_TICK_MS = 100;
const MAX_OPENS_PER_PACED_TICK = 8;
const TIMEOUT_SCAN_MS = 250;
// Bounds the work of one tick when unpaced, so the event loop keeps reading.
const MAX_OPENS_PER_TICK = 1_000;
// Reads are handled before the next one starts, so one buffer serves every socket.
const READ_BUFFER_BYTES = 64 * 1024;

// A slot's phase.
const IDLE = 0; // never tried
const CONNECTING = 1; // in flight: TCP handshake, request, waiting for the response head
const STREAMING = 2;
const QUEUED = 3; // lost, waiting to be reopened (--reconnect)
const DONE = 4; // failed or closed, and not to be reopened

// A slot's flags.
const RESOLVED = 1; // its first attempt has succeeded or failed
const WAS_OPEN = 2; // it has been established at least once
const SEEN_FRAME = 4; // its current stream has had a frame

/** The reason for attempts still in flight when the run ends. */
export const UNFINISHED = 'UNFINISHED';

type PoolSocket = net.Socket & { slot: number };

export class ConnectionPool {
  private readonly capacity: number;
  private readonly sockets: Array<PoolSocket | undefined>;
  private readonly phase: Uint8Array;
  private readonly flags: Uint8Array;
  /** performance.now() of the attempt, then of the response head, then of the last frame. */
  private readonly since: Float64Array;
  private readonly scanner: BodyScanner;
  /** The updates in the events (publish time, sequence number): about 30 bytes a connection. */
  readonly events: EventReader;
  /** Heads split over several reads; rare, and bounded by --max-pending. */
  private readonly partialHeads = new Map<number, string>();
  /** Slots waiting to reconnect, as a ring; a slot is in it at most once. */
  private readonly queue: Int32Array;
  private queueHead = 0;
  private queueSize = 0;
  private nextFresh = 0;
  private resolved = 0;
  private stopping = false;

  private readonly bucket: TokenBucket;
  private readonly request: Buffer;
  /** With --topics, the request around each connection's topic number. */
  private readonly requestHead: Buffer;
  private readonly requestTail: Buffer;
  private readonly topics: number;
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  private readonly readOption: net.OnReadOpts;
  private readonly onError: (this: PoolSocket, err: NodeJS.ErrnoException) => void;
  private readonly onClose: (this: PoolSocket) => void;
  private tickTimer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;

  private attempts = 0;
  private pending = 0;
  private established = 0;
  private opened = 0;
  private reconnects = 0;
  private heartbeats = 0;
  private late = 0;
  // False after freeze(): heartbeats are still read and counted, their gaps no longer.
  private counting = true;
  private readonly failed: Counts = {};
  private readonly closedByServer: Counts = {};
  private readonly reconnectsFailed: Counts = {};
  readonly gaps = new Histogram();
  readonly firstHeartbeat = new Histogram();
  readonly connectTime = new Histogram();

  constructor(
    private readonly plan: ClientPlan,
    private readonly onRampDone: () => void,
  ) {
    this.capacity = plan.share.connections;
    this.sockets = new Array<PoolSocket | undefined>(this.capacity).fill(undefined);
    this.phase = new Uint8Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
    this.since = new Float64Array(this.capacity);
    this.events = new EventReader(this.capacity);
    this.scanner = new BodyScanner(this.capacity, this.events);
    this.queue = new Int32Array(this.capacity);
    this.bucket = new TokenBucket(plan.share.rate, performance.now());
    this.request = Buffer.from(plan.request, 'latin1');
    this.topics = plan.topics ?? 0;
    this.requestHead = this.request.subarray(0, plan.topicAt ?? 0);
    this.requestTail = this.request.subarray(plan.topicAt ?? 0);
    // One closure per pool, none per socket: each handler gets its socket as `this`.
    const pool = this;
    this.readOption = {
      buffer: this.readBuffer,
      callback(this: PoolSocket, nread: number) {
        pool.read(this, nread);
        return true;
      },
    };
    this.onError = function (err) {
      pool.lose(this, err.code ?? 'ERROR');
    };
    this.onClose = function () {
      pool.lose(this, pool.phase[this.slot] === CONNECTING ? 'CLOSED_BEFORE_HEAD' : 'EOF');
    };
  }

  /** Every slot has been tried and, without --reconnect, none will be opened again. */
  private get nothingMoreToOpen(): boolean {
    return !this.plan.reconnect && this.nextFresh === this.capacity;
  }

  get rampDone(): boolean {
    return this.resolved === this.capacity;
  }

  start(): void {
    const rate = this.plan.share.rate;
    const tickMs = rate <= 0 ? MIN_TICK_MS : Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.round((1_000 * MAX_OPENS_PER_PACED_TICK) / rate)));
    this.tickTimer = setInterval(() => this.tick(performance.now()), tickMs);
    this.scanTimer = setInterval(() => this.expire(performance.now()), TIMEOUT_SCAN_MS);
    this.tick(performance.now());
  }

  /** Gaps and late heartbeats from now on only: the coordinator's --measure-after. */
  mark(): void {
    this.gaps.reset();
    this.late = 0;
  }

  /** No gaps or late heartbeats from now on: the end of the coordinator's --measure-for. */
  freeze(): void {
    this.counting = false;
  }

  /** Ends every connection; attempts still in flight count as failed with UNFINISHED. */
  stop(): { establishedAtStop: number; notAttempted: number } {
    const establishedAtStop = this.established;
    clearInterval(this.tickTimer);
    clearInterval(this.scanTimer);
    this.stopping = true;
    const now = performance.now();
    for (let slot = 0; slot < this.capacity; slot++) {
      const socket = this.sockets[slot];
      if (socket === undefined) continue;
      if (this.phase[slot] === STREAMING) this.checkSilence(slot, now);
      this.lose(socket, UNFINISHED);
    }
    return { establishedAtStop, notAttempted: this.capacity - this.nextFresh };
  }

  progress(index: number, rssBytes: number): ClientProgress {
    return {
      index,
      pid: process.pid,
      attempts: this.attempts,
      pending: this.pending,
      established: this.established,
      opened: this.opened,
      failed: { ...this.failed },
      closedByServer: { ...this.closedByServer },
      reconnects: this.reconnects,
      reconnectsFailed: { ...this.reconnectsFailed },
      heartbeats: this.heartbeats,
      ...this.events.counts,
      late: this.late,
      overdue: this.countOverdue(performance.now()),
      rampDone: this.rampDone,
      rssBytes,
    };
  }

  /** Opens as many connections as the rate and the in-flight bound allow now. */
  private tick(now: number): void {
    const budget = Math.min(this.bucket.available(now), this.plan.share.maxPending - this.pending, MAX_OPENS_PER_TICK);
    let opened = 0;
    while (opened < budget) {
      // Lost streams come back first: holding the count matters more than finishing the ramp early.
      let slot: number;
      if (this.queueSize > 0) {
        slot = this.queue[this.queueHead]!;
        this.queueHead = (this.queueHead + 1) % this.capacity;
        this.queueSize--;
        this.reconnects++;
      } else if (this.nextFresh < this.capacity) {
        slot = this.nextFresh++;
      } else {
        break;
      }
      this.open(slot, now);
      opened++;
    }
    this.bucket.take(opened);
    // Without --reconnect nothing is opened after the ramp; the timer has no more work.
    if (this.nothingMoreToOpen) {
      clearInterval(this.tickTimer);
      this.tickTimer = undefined;
    }
  }

  private open(slot: number, now: number): void {
    const { sources, share } = this.plan;
    const options: net.TcpNetConnectOpts = { host: this.plan.host, port: this.plan.port, onread: this.readOption };
    // Run-wide numbering spreads every process's connections evenly over all source addresses.
    if (sources.length > 0) options.localAddress = sources[(share.firstConnection + slot) % sources.length]!;
    const socket = net.connect(options) as PoolSocket;
    socket.slot = slot;
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    if (this.topics > 0) {
      const topic = Buffer.from(String((share.firstConnection + slot) % this.topics), 'latin1');
      socket.write(Buffer.concat([this.requestHead, topic, this.requestTail]));
    } else {
      socket.write(this.request);
    }
    this.sockets[slot] = socket;
    this.phase[slot] = CONNECTING;
    this.since[slot] = now;
    this.attempts++;
    this.pending++;
  }

  private read(socket: PoolSocket, nread: number): void {
    const buf = this.readBuffer;
    const slot = socket.slot;
    if (this.sockets[slot] !== socket) return;
    const now = performance.now();
    let bodyStart = 0;
    if (this.phase[slot] === CONNECTING) {
      bodyStart = this.readHead(socket, slot, buf, nread, now);
      if (bodyStart < 0) return;
    }
    this.events.setNow(performance.timeOrigin + now);
    const frames = this.scanner.scan(slot, buf, bodyStart, nread);
    if (frames > 0) this.countFrames(slot, frames, now);
    // With keep-alive the server may leave the connection open after the last chunk; the stream is over all the same.
    if (this.scanner.ended(slot)) this.lose(socket, 'END_OF_BODY');
  }

  /** Returns where the body starts in `buf`, or -1 while the head is incomplete or after it failed. */
  private readHead(socket: PoolSocket, slot: number, buf: Buffer, nread: number, now: number): number {
    const partial = this.partialHeads.get(slot);
    // A head is at most MAX_HEAD_BYTES; there is no need to decode a large first read whole.
    const chunk = buf.toString('latin1', 0, Math.min(nread, MAX_HEAD_BYTES + 4));
    const text = partial === undefined ? chunk : partial + chunk;
    const head = parseHead(text);
    if (head.kind === 'incomplete') {
      this.partialHeads.set(slot, text);
      return -1;
    }
    if (partial !== undefined) this.partialHeads.delete(slot);
    if (head.kind === 'bad') {
      this.lose(socket, 'BAD_RESPONSE');
      return -1;
    }
    if (head.status !== 200) {
      this.lose(socket, `HTTP_${head.status}`);
      return -1;
    }
    // A 200 that is not an event stream (a login page, a proxy's error page) is not a held connection.
    if (!head.eventStream) {
      this.lose(socket, 'NOT_EVENT_STREAM');
      return -1;
    }
    this.connectTime.record(now - this.since[slot]!);
    this.since[slot] = now;
    this.phase[slot] = STREAMING;
    this.flags[slot] = (this.flags[slot]! | WAS_OPEN) & ~SEEN_FRAME;
    this.pending--;
    this.opened++;
    this.established++;
    this.resolve(slot);
    this.scanner.reset(slot, head.chunked);
    return head.bodyStart - (partial?.length ?? 0);
  }

  private countFrames(slot: number, frames: number, now: number): void {
    this.heartbeats += frames;
    const gap = now - this.since[slot]!;
    this.since[slot] = now;
    if ((this.flags[slot]! & SEEN_FRAME) === 0) {
      // Connect to first frame is not a gap between heartbeats; it is reported on its own.
      this.flags[slot]! |= SEEN_FRAME;
      this.firstHeartbeat.record(gap);
    } else if (this.counting) {
      this.gaps.record(gap);
      if (this.plan.lateAfterMs > 0 && gap > this.plan.lateAfterMs) this.late++;
    }
    // Frames that arrived in the same read arrived together: their gaps are 0.
    if (frames > 1 && this.counting) this.gaps.record(0, frames - 1);
  }

  /** A stream silent past the allowance when it ends counts as a late heartbeat: the silence really happened. */
  private checkSilence(slot: number, now: number): void {
    const silence = now - this.since[slot]!;
    if (this.plan.lateAfterMs === 0 || silence <= this.plan.lateAfterMs || !this.counting) return;
    this.late++;
    if (this.flags[slot]! & SEEN_FRAME) this.gaps.record(silence);
    else this.firstHeartbeat.record(silence);
  }

  private countOverdue(now: number): number {
    if (this.plan.lateAfterMs === 0) return 0;
    let overdue = 0;
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.phase[slot] === STREAMING && now - this.since[slot]! > this.plan.lateAfterMs) overdue++;
    }
    return overdue;
  }

  private expire(now: number): void {
    const limit = this.plan.connectTimeoutMs;
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.phase[slot] === CONNECTING && now - this.since[slot]! > limit) this.lose(this.sockets[slot]!, 'TIMEOUT');
    }
    // Once nothing is in flight and nothing will be opened again, the scan has
    // no more work; a fleet of client processes each waking four times a second
    // for nothing costs the machine the server is measured on.
    if (this.nothingMoreToOpen && this.pending === 0) {
      clearInterval(this.scanTimer);
      this.scanTimer = undefined;
    }
  }

  private resolve(slot: number): void {
    if (this.flags[slot]! & RESOLVED) return;
    this.flags[slot]! |= RESOLVED;
    if (++this.resolved === this.capacity && !this.stopping) this.onRampDone();
  }

  /**
   * The one teardown for a connection, whichever way it ends (error, close,
   * bad head, timeout, stop). A socket that is no longer its slot's current
   * one is ignored, so the 'close' that follows an 'error', or a late event
   * from a socket whose slot has since reconnected, does nothing.
   */
  private lose(socket: PoolSocket, reason: string): void {
    const slot = socket.slot;
    if (this.sockets[slot] !== socket) return;
    this.sockets[slot] = undefined;
    if (!socket.destroyed) socket.destroy();
    const phase = this.phase[slot];
    const flags = this.flags[slot]!;
    if (phase === CONNECTING) {
      this.pending--;
      this.partialHeads.delete(slot);
      if ((flags & RESOLVED) === 0) {
        count(this.failed, reason);
        this.resolve(slot);
      } else if (!this.stopping) {
        count(this.reconnectsFailed, reason);
      }
    } else if (phase === STREAMING) {
      this.established--;
      if (!this.stopping) {
        count(this.closedByServer, reason);
        this.checkSilence(slot, performance.now());
      }
    }
    if (this.plan.reconnect && !this.stopping && flags & WAS_OPEN) {
      this.phase[slot] = QUEUED;
      this.queue[(this.queueHead + this.queueSize) % this.capacity] = slot;
      this.queueSize++;
    } else {
      this.phase[slot] = phase === IDLE ? IDLE : DONE;
    }
  }
}

function count(counts: Counts, reason: string): void {
  counts[reason] = (counts[reason] ?? 0) + 1;
}
