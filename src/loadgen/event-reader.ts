// Reads the updates out of SSE events, byte by byte, with a few bytes of
// state per connection in typed arrays: no strings, no buffered lines, so an
// event split across any number of reads is read the same as one in a read.
//
// What counts as an update (docs/loadgen.md, "Reading updates"): an event
// (ended by a blank line) whose first `data` line starts with the time it was
// published, in milliseconds since the epoch, optionally with a fraction:
// `data: 1796287070662.25 anything else`. Comments, heartbeats and events
// without such a time (the hub's in-band gap notice) are frames, not updates.
//
// The update's sequence number is the number that follows the publish time in
// the data (`data: 1796287070662 42 ...`), or without one, the run of decimal
// digits that ends its `id` (`bench-42`, `#42`, `42`): the benchmark numbers
// each topic's updates 1, 2, 3, and writes both; the data's comes first
// because a server that assigns its own ids (nchan: `1796289518:1`) numbers
// them its own way. Per connection the reader keeps the highest number seen, so an
// update at or below it is a duplicate (equal) or out of order (below), and a
// jump past the next one counts the numbers skipped.
//
// Line ends are those of the WHATWG SSE parser (CRLF, LF and CR alike), and a
// single space after the colon is not part of the value
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
import { ArrivalTracker } from './arrival-tracker.js';
import { Histogram } from './histogram.js';

// Steps within a line.
const NAME = 0; // reading the field name
const ID_START = 1; // after `id:`, before an optional space
const ID = 2;
const TIME_START = 3; // after the first `data:` of an event, before an optional space
const TIME = 4;
const TIME_FRACTION = 5;
const SKIP = 6; // the rest of the line says nothing the reader needs
const DATA_SEQUENCE = 7; // the number after the publish time and one space
const STEP_MASK = 0x7f;
const AFTER_CR = 0x80;

// Bits of the event being read.
const HAS_DATA = 1;
const HAS_TIME = 2;
const HAS_ID = 4;
const TIME_DIGITS = 8;
const HAS_DATA_SEQUENCE = 16;

// Field names, packed as their first four bytes (the name's length is kept beside).
const DATA = packed('data');
const ID_NAME = packed('id');
const MAX_NAME = 5; // longer names are all "other": no field of interest is that long
const MAX_FRACTION_DIGITS = 6;
// Where a sequence number stops growing, as in the C engine's 32-bit one; no benchmark numbers that far.
const MAX_SEQUENCE = Math.floor(0xffff_ffff / 10) - 1;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const DOT = 0x2e;

function packed(name: string): number {
  let value = 0;
  for (let i = 0; i < name.length; i++) value = (value | (name.charCodeAt(i) << (8 * i))) >>> 0;
  return value;
}

export interface UpdateCounts {
  /** Updates received (events carrying a publish time). */
  updates: number;
  /** Updates whose sequence number equalled the highest the connection had seen. */
  duplicates: number;
  /** Updates whose sequence number was below it. */
  outOfOrder: number;
  /** Sequence numbers jumped over on a connection: updates it missed after its first. */
  skipped: number;
}

export class EventReader {
  private readonly step: Uint8Array;
  private readonly nameLength: Uint8Array;
  private readonly name: Uint32Array;
  private readonly event: Uint8Array;
  private readonly fraction: Uint8Array;
  private readonly time: Float64Array;
  private readonly sequence: Float64Array;
  private readonly dataSequence: Float64Array;
  /** The highest sequence number seen on the connection; 0: none yet. */
  private readonly highest: Float64Array;
  /** Milliseconds since the epoch at which the bytes being scanned were read. */
  private nowMs = 0;
  readonly counts: UpdateCounts = { updates: 0, duplicates: 0, outOfOrder: 0, skipped: 0 };
  /** From the publish time to the read, per update received. */
  readonly delivery = new Histogram();
  readonly arrivals = new ArrivalTracker();

  constructor(capacity: number) {
    this.step = new Uint8Array(capacity);
    this.nameLength = new Uint8Array(capacity);
    this.name = new Uint32Array(capacity);
    this.event = new Uint8Array(capacity);
    this.fraction = new Uint8Array(capacity);
    this.time = new Float64Array(capacity);
    this.sequence = new Float64Array(capacity);
    this.dataSequence = new Float64Array(capacity);
    this.highest = new Float64Array(capacity);
  }

  /** A new stream on `slot`; the highest sequence number is kept, so a replay after a reconnect counts its repeats. */
  reset(slot: number): void {
    this.step[slot] = NAME;
    this.nameLength[slot] = 0;
    this.name[slot] = 0;
    this.event[slot] = 0;
  }

  /** The read time of what is scanned next. */
  setNow(epochMs: number): void {
    this.nowMs = epochMs;
  }

  /** Reads event bytes `data[start, end)` of `slot` (already de-chunked). */
  scan(slot: number, data: Uint8Array, start: number, end: number): void {
    let step = this.step[slot]!;
    for (let i = start; i < end; i++) {
      const byte = data[i]!;
      if (byte === LF || byte === CR) {
        // The LF of a CRLF pair: the CR already ended the line.
        if (byte === LF && step & AFTER_CR) {
          step &= STEP_MASK;
          continue;
        }
        this.endLine(slot, step & STEP_MASK);
        step = byte === CR ? NAME | AFTER_CR : NAME;
        continue;
      }
      step &= STEP_MASK;
      switch (step) {
        case NAME:
          step = this.nameByte(slot, byte);
          break;
        case ID_START:
        case ID:
          if (step === ID_START && byte === SPACE) step = ID;
          else {
            step = ID;
            const digit = byte - 0x30;
            // The number that ends the id: any other byte starts it again.
            if (digit >= 0 && digit <= 9) {
              const current = Math.max(0, this.sequence[slot]!);
              this.sequence[slot] = current >= MAX_SEQUENCE ? MAX_SEQUENCE : current * 10 + digit;
            } else {
              this.sequence[slot] = -1;
            }
          }
          break;
        case TIME_START:
        case TIME: {
          if (step === TIME_START && byte === SPACE) {
            step = TIME;
            break;
          }
          const digit = byte - 0x30;
          if (digit >= 0 && digit <= 9) {
            this.time[slot] = this.time[slot]! * 10 + digit;
            this.event[slot]! |= TIME_DIGITS;
            step = TIME;
          } else {
            step = byte === DOT && this.event[slot]! & TIME_DIGITS ? TIME_FRACTION : this.endTime(slot, byte);
          }
          break;
        }
        case TIME_FRACTION: {
          const digit = byte - 0x30;
          if (digit >= 0 && digit <= 9 && this.fraction[slot]! < MAX_FRACTION_DIGITS) {
            this.time[slot] = this.time[slot]! * 10 + digit;
            this.fraction[slot]!++;
          } else if (!(digit >= 0 && digit <= 9)) {
            step = this.endTime(slot, byte);
          }
          break;
        }
        case DATA_SEQUENCE: {
          const digit = byte - 0x30;
          if (digit >= 0 && digit <= 9) {
            const current = this.dataSequence[slot]!;
            this.dataSequence[slot] = current >= MAX_SEQUENCE ? MAX_SEQUENCE : current * 10 + digit;
            this.event[slot]! |= HAS_DATA_SEQUENCE;
          } else {
            step = SKIP;
          }
          break;
        }
        default:
          break;
      }
    }
    this.step[slot] = step;
  }

  /** A byte of a field name: the colon picks what the value is. */
  private nameByte(slot: number, byte: number): number {
    const length = this.nameLength[slot]!;
    if (byte !== COLON) {
      if (length < 4) this.name[slot] = (this.name[slot]! | (byte << (8 * length))) >>> 0;
      if (length < MAX_NAME) this.nameLength[slot] = length + 1;
      return NAME;
    }
    const name = this.name[slot]!;
    this.nameLength[slot] = MAX_NAME; // the colon is taken: the line is no longer empty
    if (length === 2 && name === ID_NAME) {
      this.sequence[slot] = 0;
      this.event[slot]! |= HAS_ID;
      return ID_START;
    }
    if (length === 4 && name === DATA) {
      if (this.event[slot]! & HAS_DATA) return SKIP;
      this.event[slot]! |= HAS_DATA;
      this.time[slot] = 0;
      this.fraction[slot] = 0;
      return TIME_START;
    }
    return SKIP;
  }

  /** The publish time ends at `byte`; a space after it may start the sequence number. */
  private endTime(slot: number, byte: number): number {
    if ((this.event[slot]! & TIME_DIGITS) === 0) return SKIP;
    this.event[slot]! |= HAS_TIME;
    if (byte !== SPACE) return SKIP;
    this.dataSequence[slot] = 0;
    return DATA_SEQUENCE;
  }

  private endLine(slot: number, step: number): void {
    if (step === TIME || step === TIME_FRACTION) this.endTime(slot, LF);
    else if (step === NAME) {
      const length = this.nameLength[slot]!;
      if (length === 0) this.dispatch(slot);
      // A line without a colon is a field with an empty value (`data` alone: an empty first data line).
      else if (length === 4 && this.name[slot] === DATA) this.event[slot]! |= HAS_DATA;
      else if (length === 2 && this.name[slot] === ID_NAME) {
        this.event[slot]! |= HAS_ID;
        this.sequence[slot] = -1;
      }
    }
    this.nameLength[slot] = 0;
    this.name[slot] = 0;
  }

  /** A blank line: the event is complete. */
  private dispatch(slot: number): void {
    const event = this.event[slot]!;
    this.event[slot] = 0;
    if ((event & HAS_TIME) === 0) return;
    const published = this.time[slot]! / 10 ** this.fraction[slot]!;
    const latency = this.nowMs - published;
    this.counts.updates++;
    this.delivery.record(latency);
    const sequence = event & HAS_DATA_SEQUENCE ? this.dataSequence[slot]! : event & HAS_ID ? this.sequence[slot]! : -1;
    if (sequence <= 0) return;
    const highest = this.highest[slot]!;
    if (sequence === highest) {
      this.counts.duplicates++;
      return;
    }
    if (sequence < highest) {
      this.counts.outOfOrder++;
      return;
    }
    if (highest > 0) this.counts.skipped += sequence - highest - 1;
    this.highest[slot] = sequence;
    this.arrivals.record(sequence, latency);
  }
}
