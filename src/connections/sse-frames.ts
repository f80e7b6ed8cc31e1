// The bytes of an SSE stream, built once and shared by every connection.
// Format: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { HeartbeatKind } from '../config/config.js';

const BASE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  // nginx buffers proxied responses unless told not to; a buffered stream never flushes a heartbeat.
  'x-accel-buffering': 'no',
  // The body is close-delimited (RFC 9112 section 6.3, rule 8): no chunked
  // framing, so a heartbeat is its own 3 bytes on the wire and nothing more.
  connection: 'close',
};

/**
 * The response head, as latin1 text. `extra` carries headers that hooks set on
 * the reply (CORS, for instance). The head goes out on the raw socket, past
 * the checks Node's writeHead makes, so they are made here: a name that is no
 * token, or a value with CR, LF or another control character (one header
 * injecting another, or a body), throws Node's own TypeError instead.
 */
export function responseHead(extra: Readonly<Record<string, unknown>> = {}): string {
  let head = 'HTTP/1.1 200 OK\r\n';
  const headers: Record<string, unknown> = { ...extra, ...BASE_HEADERS };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    validateHeaderName(name);
    for (const one of Array.isArray(value) ? value : [value]) {
      validateHeaderValue(name, String(one));
      head += `${name}: ${String(one)}\r\n`;
    }
  }
  return head + '\r\n';
}

export const DEFAULT_HEAD = responseHead();

/**
 * The first bytes of the body: a comment, so that the headers and something of
 * the body reach the client at once (some clients and proxies wait for body
 * bytes), and a `retry:` with jitter, so that clients cut off together do not
 * all come back in the same instant.
 */
export function openingFrame(retryMs: number): string {
  const jittered = retryMs === 0 ? 0 : Math.round(retryMs * (0.5 + Math.random()));
  return `: million-sse\nretry: ${jittered}\n\n`;
}

/** A comment line is ignored by EventSource but keeps proxies and NAT tables from timing the stream out. */
export function heartbeatFrame(kind: HeartbeatKind): Buffer {
  // The original experiment wrote a single NUL byte; kept behind HEARTBEAT=nul for fidelity.
  return kind === 'nul' ? Buffer.from([0]) : Buffer.from(':\n\n', 'latin1');
}

/** One `data:` event. Newlines split into several data lines, so a payload cannot inject another field. */
export function dataFrame(data: string): string {
  return `data: ${data.split(/\r\n|\r|\n/).join('\ndata: ')}\n\n`;
}
