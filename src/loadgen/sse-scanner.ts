// Just enough HTTP and SSE parsing to count heartbeats, with the state of each
// connection kept in typed arrays indexed by connection number: a few bytes a
// connection, no objects, no strings, no buffered text once the head is read.
//
// Counted as one frame (one heartbeat arrival):
//  - an event, ended by a blank line: WHATWG SSE treats CRLF, LF and CR alike as
//    line ends (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
//    so `:\n\n`, `data: x\r\n\r\n` and `:\r\r` are one frame each;
//  - a NUL byte, the heartbeat of the original 1mc2 experiment.
// Servers that stream with `Transfer-Encoding: chunked` (node:http does, by
// default) are de-chunked first, or the chunk-size lines would count as lines.
// The de-chunked bytes also go to an EventReader, which reads the updates.
import type { EventReader } from './event-reader.js';

/** The most head bytes accepted before the head is declared too large. */
export const MAX_HEAD_BYTES = 16_384;

export type HeadResult =
  | { kind: 'incomplete' }
  | { kind: 'bad' }
  | {
      kind: 'done';
      status: number;
      chunked: boolean;
      /** Content-Type is text/event-stream. */
      eventStream: boolean;
      /** Index in the text where the body starts. */
      bodyStart: number;
    };

const HEAD_END = /\r?\n\r?\n/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})[ \r\n]/;
const CHUNKED = /\ntransfer-encoding:[^\n]*\bchunked\b/i;
const EVENT_STREAM = /\ncontent-type:[ \t]*text\/event-stream\b/i;

/** Parses a response head read so far (latin1 text). */
export function parseHead(text: string): HeadResult {
  const end = HEAD_END.exec(text);
  if (end === null) return text.length > MAX_HEAD_BYTES ? { kind: 'bad' } : { kind: 'incomplete' };
  const head = text.slice(0, end.index + 1);
  const status = STATUS_LINE.exec(head);
  if (status === null) return { kind: 'bad' };
  return {
    kind: 'done',
    status: Number(status[1]),
    chunked: CHUNKED.test(head),
    eventStream: EVENT_STREAM.test(head),
    bodyStart: end.index + end[0].length,
  };
}

// Bits of the per-connection SSE line state.
const AT_LINE_START = 1;
const AFTER_CR = 2;
const CHUNKED_BODY = 4;

// Steps of the chunked-body decoder (RFC 9112 section 7.1).
const CHUNK_SIZE = 0;
const CHUNK_EXTENSION = 1;
const CHUNK_DATA = 2;
const CHUNK_DATA_END = 3;
const CHUNK_LAST = 4;

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
// A chunk size past this is garbage; the decoder stops counting rather than overflow.
const MAX_CHUNK = 0x7fff_ffff;

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Counts frames in response bodies; one slot of state per connection. */
export class BodyScanner {
  private readonly line: Uint8Array;
  private readonly chunkStep: Uint8Array;
  private readonly chunkLeft: Uint32Array;

  constructor(
    capacity: number,
    private readonly events?: EventReader,
  ) {
    this.line = new Uint8Array(capacity);
    this.chunkStep = new Uint8Array(capacity);
    this.chunkLeft = new Uint32Array(capacity);
  }

  /** Starts a new body on `slot`. */
  reset(slot: number, chunked: boolean): void {
    this.line[slot] = AT_LINE_START | (chunked ? CHUNKED_BODY : 0);
    this.chunkStep[slot] = CHUNK_SIZE;
    this.chunkLeft[slot] = 0;
    this.events?.reset(slot);
  }

  /** A chunked body has ended with its last chunk: the stream is over though the connection may stay open. */
  ended(slot: number): boolean {
    return (this.line[slot]! & CHUNKED_BODY) !== 0 && this.chunkStep[slot] === CHUNK_LAST;
  }

  /** Scans body bytes `data[start, end)` of `slot`; returns how many frames they complete. */
  scan(slot: number, data: Uint8Array, start: number, end: number): number {
    if ((this.line[slot]! & CHUNKED_BODY) === 0) return this.scanEvents(slot, data, start, end);
    let frames = 0;
    let step = this.chunkStep[slot]!;
    let left = this.chunkLeft[slot]!;
    let i = start;
    while (i < end) {
      if (step === CHUNK_DATA) {
        const take = Math.min(left, end - i);
        frames += this.scanEvents(slot, data, i, i + take);
        i += take;
        left -= take;
        if (left === 0) step = CHUNK_DATA_END;
        continue;
      }
      const byte = data[i++]!;
      if (step === CHUNK_SIZE) {
        const digit = hexValue(byte);
        if (digit >= 0) {
          left = left * 16 + digit;
          if (left > MAX_CHUNK) step = CHUNK_LAST;
        } else if (byte === LF) {
          step = left === 0 ? CHUNK_LAST : CHUNK_DATA;
        } else if (byte !== CR) {
          step = CHUNK_EXTENSION;
        }
      } else if (step === CHUNK_EXTENSION) {
        if (byte === LF) step = left === 0 ? CHUNK_LAST : CHUNK_DATA;
      } else if (step === CHUNK_DATA_END) {
        if (byte === LF) step = CHUNK_SIZE;
      } else {
        // CHUNK_LAST: the body is over; trailers and anything after are not events.
        break;
      }
    }
    this.chunkStep[slot] = step;
    this.chunkLeft[slot] = left;
    return frames;
  }

  private scanEvents(slot: number, data: Uint8Array, start: number, end: number): number {
    this.events?.scan(slot, data, start, end);
    let state = this.line[slot]!;
    let frames = 0;
    for (let i = start; i < end; i++) {
      const byte = data[i]!;
      if (byte === LF) {
        // The LF of a CRLF pair: the CR already ended the line.
        if (state & AFTER_CR) state &= ~AFTER_CR;
        else {
          if (state & AT_LINE_START) frames++;
          state |= AT_LINE_START;
        }
      } else if (byte === CR) {
        if (state & AT_LINE_START) frames++;
        state |= AT_LINE_START | AFTER_CR;
      } else if (byte === NUL) {
        frames++;
        state &= ~AFTER_CR;
      } else {
        state &= ~(AT_LINE_START | AFTER_CR);
      }
    }
    this.line[slot] = state;
    return frames;
  }
}
