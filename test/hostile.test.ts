// Hostile bytes against the real cluster (node dist/primary.js, two workers, a
// real Redis) over raw TCP: request-smuggling shapes, broken framing, binary
// noise, oversized and trickled headers, path traversal on the static files,
// requests pipelined behind a stream, and a seeded fuzz. Whatever arrives, the
// answer is a 4xx or a closed socket, never a 5xx, a stack trace or a file from
// outside public/, and never silence past HEADERS_TIMEOUT_MS; no worker dies;
// and the count stays exact, with a few good streams held, and fed, throughout.
//
// Each case's outcome is printed as a test diagnostic (`case NAME -> 400 in 3 ms`),
// and the fuzz's as one summary line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { ROOT, childPids, startCluster, type TestCluster } from './helpers/cluster.js';
import { nextStatus, openSse, type RawStream } from './helpers/sse-client.js';
import { waitFor } from './helpers/wait.js';
import { seeded } from './helpers/seeded.js';

const HEADERS_TIMEOUT_MS = 2_000;
// Node checks header timeouts once a second (connectionsCheckingInterval), and
// two workers, Redis and this process share two cores.
const MARGIN_MS = 2_000;
const DEADLINE_MS = HEADERS_TIMEOUT_MS + MARGIN_MS;
const HEARTBEAT_MS = 500;
/** Good streams held through everything; they must keep their heartbeats and their count. */
const GOOD = 4;
const PARALLEL = 16;
const FUZZ_CASES = 4_000;
const FUZZ_SEED = 0x5ee_d5e;

let redis: TestRedis;
let cluster: TestCluster;
let good: RawStream[] = [];
let workerPids: number[] = [];

// ---------------------------------------------------------------------------
// The exchange: raw bytes out, every byte back, and when.

interface Reply {
  text: string;
  /** Every status line at the start of a line, in order: a second one inside a stream is a bug. */
  statuses: number[];
  /** ms from the first byte sent to the first byte received (undefined: none came). */
  firstMs: number | undefined;
  /** ms from the first byte sent to the close (undefined: still open when we stopped looking). */
  closedMs: number | undefined;
  /** SSE heartbeats seen after the stream's first frame. */
  beats: number;
}

interface SendOptions {
  /** Written one after another, `gapMs` apart (a trickle, or a body that follows later). */
  gapMs?: number;
  /** Half-close after the last piece, as a client that has said all it will. */
  fin?: boolean;
  /** Responses to wait for before looking no further (pipelining). */
  responses?: number;
  /** Once a stream has opened, wait for this many heartbeats on it. */
  beats?: number;
  /** Stop looking after this long even if the socket is still open. */
  untilMs?: number;
}

const STATUS_LINE = /(?:^|\n)HTTP\/\d\.\d (\d{3})[ \r]/g;
const STATUS_IN_BODY = /(?:^|\n)HTTP\/\d\.\d \d{3}[ \r]/;

/** How far the responses in `text` have arrived: how many are complete, and the stream's body if one opened. */
function parseResponses(text: string): { complete: number; sseBody: string | undefined } {
  let at = 0;
  let complete = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return { complete, sseBody: undefined };
    const head = text.slice(at, headEnd);
    const bodyStart = headEnd + 4;
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(head)?.[1] ?? 0);
    if (/\r\ncontent-type: text\/event-stream/i.test(head)) return { complete, sseBody: text.slice(bodyStart) };
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    let end: number;
    if ((status >= 100 && status < 200) || status === 204 || status === 304) end = bodyStart;
    else if (length) end = bodyStart + Number(length[1]);
    else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const last = text.indexOf('\r\n0\r\n\r\n', bodyStart - 2);
      end = last < 0 ? Infinity : last + 7;
    } else end = Infinity; // close-delimited: complete at the close
    if (end > text.length) return { complete, sseBody: undefined };
    if (status >= 200) complete++;
    at = end;
  }
}

/** Heartbeats (`:\n\n`) after the first frame of an SSE body. */
function heartbeats(body: string): number {
  return body.split('\n\n').slice(1).filter((event) => event === ':').length;
}

function send(port: number, pieces: Buffer[], options: SendOptions = {}): Promise<Reply> {
  const { gapMs = 0, fin = false, responses = 1, beats = 0, untilMs = DEADLINE_MS } = options;
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    let startedAt = performance.now();
    let firstAt: number | undefined;
    let closedAt: number | undefined;
    let done = false;
    let next = 0;
    let pieceTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(pieceTimer);
      clearTimeout(deadline);
      socket.destroy();
      const statuses = [...text.matchAll(STATUS_LINE)].map((m) => Number(m[1]));
      const sseBody = parseResponses(text).sseBody;
      resolve({
        text,
        statuses,
        firstMs: firstAt === undefined ? undefined : firstAt - startedAt,
        closedMs: closedAt === undefined ? undefined : closedAt - startedAt,
        beats: sseBody === undefined ? 0 : heartbeats(sseBody),
      });
    };
    const writeNext = (): void => {
      if (done || socket.destroyed) return;
      socket.write(pieces[next++]!);
      if (next < pieces.length) pieceTimer = setTimeout(writeNext, gapMs);
      else if (fin) socket.end();
    };
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      startedAt = performance.now();
      writeNext();
    });
    socket.on('data', (data: Buffer) => {
      firstAt ??= performance.now();
      text += data.toString('latin1');
      const { complete, sseBody } = parseResponses(text);
      if (sseBody !== undefined) {
        // A stream is open: done once its first frame (and the heartbeats asked for) arrived.
        if (sseBody.includes('\n\n') && heartbeats(sseBody) >= beats) finish();
      } else if (complete >= responses) finish();
    });
    socket.once('close', () => {
      closedAt = performance.now();
      finish();
    });
    // A trickle is judged from its first byte: the server must not wait for the rest.
    const deadline = setTimeout(finish, untilMs + Math.min(gapMs * (pieces.length - 1), 1_000));
  });
}

/** Runs `jobs` with at most `limit` at a time. */
async function pool<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, jobs.length) }, async () => {
      while (next < jobs.length) {
        const index = next++;
        results[index] = await jobs[index]!();
      }
    }),
  );
  return results;
}

// ---------------------------------------------------------------------------
// The rules every answer keeps.

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const LEAKS: ReadonlyArray<readonly [string, RegExp]> = [
  ['a stack frame', /^\s+at \S.*:\d+:\d+\)?\r?$/m],
  ['a Node internal', /node:internal|node_modules/],
  ['the install path', new RegExp(escapeRegExp(ROOT))],
  ["a package.json's content", /"name":\s*"(million-sse|uplot)"/],
  ["/etc/passwd's content", /root:[^:\r\n]*:0:0:/],
];

function describe(reply: Reply): string {
  const ms = (n: number): string => (n >= 1_000 ? `${(n / 1_000).toFixed(1)} s` : `${Math.round(n)} ms`);
  const parts: string[] = [];
  if (reply.statuses.length > 0) parts.push(`${reply.statuses.join('+')} in ${ms(reply.firstMs ?? 0)}`);
  if (reply.beats > 0) parts.push(`${reply.beats} heartbeats`);
  if (reply.closedMs !== undefined) parts.push(reply.statuses.length > 0 ? `closed at ${ms(reply.closedMs)}` : `closed in ${ms(reply.closedMs)}`);
  else if (reply.statuses.length === 0) parts.push(reply.text === '' ? 'silent' : `${reply.text.length} bytes, no status`);
  return parts.join(', ');
}

/** What every reply must respect, whatever the request was; returns what it broke. */
function generalProblems(reply: Reply): string[] {
  const problems: string[] = [];
  const fives = reply.statuses.filter((s) => s >= 500);
  if (fives.length > 0) problems.push(`answered ${fives.join(', ')}`);
  for (const [what, pattern] of LEAKS) if (pattern.test(reply.text)) problems.push(`leaked ${what}`);
  const heard = reply.firstMs ?? reply.closedMs;
  if (heard === undefined || heard > DEADLINE_MS) problems.push(`silent for ${heard === undefined ? 'the whole wait' : `${Math.round(heard)} ms`}`);
  const sse = parseResponses(reply.text).sseBody;
  if (sse !== undefined && STATUS_IN_BODY.test(sse)) problems.push('a status line inside the stream');
  return problems;
}

// ---------------------------------------------------------------------------
// The corpus: what each case sends and what a user would expect back.

interface Expect {
  /**
   * reject: a 4xx (one of `status` when given) or a close with no answer.
   * stream: the SSE stream opens.
   * cut: a 4xx or a close, where the stream may have opened first; nothing is answered inside it.
   */
  kind: 'reject' | 'stream' | 'cut';
  status?: number[];
  /** Answers due before the stream, in order (a request pipelined in front of it). */
  before?: number[];
  /** Hold the stream for three heartbeats: it must keep working, and nothing else may be answered on it. */
  hold?: boolean;
  /** The socket must close within the deadline (not only answer), as a header timeout does. */
  closes?: boolean;
}

interface Case {
  name: string;
  /** The request; several pieces are written `gapMs` apart. */
  pieces: Buffer[];
  gapMs?: number;
  /** Half-close after the last piece. */
  fin?: boolean;
  expect: Expect;
}

const reject = (...status: number[]): Expect => ({ kind: 'reject', ...(status.length > 0 ? { status } : {}) });
const stream: Expect = { kind: 'stream' };
const held: Expect = { kind: 'stream', hold: true };

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const get = (target: string, headers = 'Host: 127.0.0.1\r\n'): Buffer => b(`GET ${target} HTTP/1.1\r\n${headers}\r\n`);
const req = (text: string): Buffer[] => [b(text)];
const SSE = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n';

/** A real TLS ClientHello, from node:tls talking to a plain TCP listener. */
async function clientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const hello = new Promise<Buffer>((resolve) =>
    server.once('connection', (socket) =>
      socket.once('data', (data: Buffer) => {
        resolve(data);
        socket.destroy();
      }),
    ),
  );
  const client = tls.connect({ port, host: '127.0.0.1', servername: 'million-sse.test', rejectUnauthorized: false });
  client.on('error', () => undefined);
  try {
    return await hello;
  } finally {
    client.destroy();
    server.close();
  }
}

function corpus(hello: Buffer): Case[] {
  const traversal = (target: string): Case => ({ name: `traversal ${target}`, pieces: [get(target)], expect: reject() });
  return [
    // Request smuggling shapes (RFC 9112 §6.1, §6.3, §11.2): a message whose
    // length two parsers could read differently is refused, not guessed.
    { name: 'Content-Length with Transfer-Encoding', pieces: req('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), expect: reject(400) },
    { name: 'Content-Length with Transfer-Encoding on GET /', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), expect: reject(400) },
    { name: 'two different Content-Lengths', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde'), expect: reject(400) },
    { name: 'two equal Content-Lengths', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'), expect: reject(400) },
    { name: 'a list-valued Content-Length', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc'), expect: reject(400) },
    { name: 'a negative Content-Length', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'), expect: reject(400) },
    { name: 'a 20-digit Content-Length', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n'), expect: reject(400) },
    { name: 'a bad chunk size', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'), expect: reject() },
    { name: 'a chunk size past 64 bits', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n'), expect: reject() },
    { name: 'chunked not the final coding', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'), expect: reject(400) },
    { name: 'an unknown Transfer-Encoding', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'), expect: reject(400) },
    { name: 'obs-fold header line', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n'), expect: reject(400) },
    { name: 'obs-fold Transfer-Encoding', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n'), expect: reject(400) },
    { name: 'a space before the colon', pieces: req('GET / HTTP/1.1\r\nHost : x\r\n\r\n'), expect: reject(400) },
    { name: 'Transfer-Encoding with a space before the colon', pieces: req('POST /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'), expect: reject(400) },
    { name: 'whitespace before the first header', pieces: req('GET / HTTP/1.1\r\n Host: x\r\n\r\n'), expect: reject(400) },
    { name: 'a header line with no colon', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'), expect: reject(400) },

    // Bytes that are not HTTP, or not this HTTP.
    { name: 'NUL in a header value', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'), expect: reject(400) },
    { name: 'NUL in a header name', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nX\0A: b\r\n\r\n'), expect: reject(400) },
    { name: 'NUL in the target', pieces: req('GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n'), expect: reject(400) },
    { name: 'a bare CR inside a header value', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'), expect: reject(400) },
    { name: 'bare CR line endings', pieces: req('GET / HTTP/1.1\rHost: x\r\r'), expect: reject() },
    { name: 'control bytes (\\x01, ESC) in a header value', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nX-A: \x01\x1b[31m\r\n\r\n'), expect: reject(400) },
    { name: 'DEL in a header name', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nX-\x7f: b\r\n\r\n'), expect: reject(400) },
    { name: 'an escape sequence in the target', pieces: req('GET /\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n'), expect: reject(400) },
    { name: 'a TLS ClientHello on the plain port', pieces: [hello], expect: reject(400) },
    { name: 'the HTTP/2 preface on the plain port', pieces: req('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), expect: reject() },
    // Empty lines before a request line are skipped (RFC 9112 §2.2), so these
    // wait for a request line like any other slow client, and get a 408.
    { name: 'bare CRLFs', pieces: req('\r\n\r\n\r\n\r\n'), expect: { kind: 'reject', status: [408], closes: true } },
    { name: '20 KB of bare CRLFs', pieces: req('\r\n'.repeat(10_000)), expect: { kind: 'reject', status: [400, 408, 431], closes: true } },
    { name: 'a request line and nothing more', pieces: req('GET / HTTP/1.1\r\n'), expect: { kind: 'reject', status: [408], closes: true } },
    { name: 'an unknown method', pieces: req('FROB / HTTP/1.1\r\nHost: x\r\n\r\n'), expect: reject(400) },
    { name: 'a lowercase method', pieces: req('get / HTTP/1.1\r\nHost: x\r\n\r\n'), expect: reject(400) },
    { name: 'a method the router does not serve (PROPFIND)', pieces: req('PROPFIND / HTTP/1.1\r\nHost: x\r\n\r\n'), expect: reject(404) },
    { name: 'HTTP/9.9', pieces: req('GET / HTTP/9.9\r\nHost: x\r\n\r\n'), expect: reject(400) },
    { name: 'HTTP/1.2', pieces: req('GET / HTTP/1.2\r\nHost: x\r\n\r\n'), expect: reject(400) },
    { name: 'a lowercase version', pieces: req('GET / http/1.1\r\nHost: x\r\n\r\n'), expect: reject(400) },
    // llhttp takes these as HTTP/0.9 and HTTP/2.0; neither can be answered in
    // HTTP/1.1 (0.9 has no status line), so the answer is a close.
    { name: 'no version (HTTP/0.9 style)', pieces: req('GET /\r\n\r\n'), expect: reject() },
    { name: 'an HTTP/2.0 request line', pieces: req('GET / HTTP/2.0\r\nHost: x\r\n\r\n'), expect: reject() },
    // Node closes a CONNECT nobody handles without a word: a close is the answer.
    { name: 'CONNECT', pieces: req('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n'), expect: reject() },
    // TRACE must not echo the request back (cross-site tracing): the cookie stays unseen.
    { name: 'TRACE', pieces: req('TRACE / HTTP/1.1\r\nHost: x\r\nCookie: secret=hunter2\r\n\r\n'), expect: reject(404, 405) },
    { name: 'no Host on HTTP/1.1', pieces: req('GET / HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n'), expect: reject(400) },
    // RFC 9112 §3.2.2: a server MUST accept the absolute form; there is one
    // site here, so the path alone routes, and an SSE client asking this way
    // gets its stream (the host in it names nothing we serve differently).
    { name: 'an absolute-form target (GET http://evil/)', pieces: req('GET http://evil/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), expect: stream },
    { name: 'an absolute-form target toward package.json', pieces: req('GET http://evil/assets/../package.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), expect: reject() },
    // The asterisk form names the server, not a resource (RFC 9112 §3.2.4).
    { name: 'the asterisk form on GET', pieces: req('GET * HTTP/1.1\r\nHost: x\r\n\r\n'), expect: reject(404) },
    { name: 'OPTIONS *', pieces: req('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'), expect: reject(404) },

    // Size: MAX_HEADER_BYTES (8 KB) bounds the request line and headers together.
    { name: 'a 70 KB URI', pieces: req(`GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), expect: reject(431) },
    { name: 'a 70 KB header', pieces: req(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`), expect: reject(431) },
    { name: '3,000 small headers', pieces: req(`GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3_000 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`), expect: reject(431) },
    { name: 'a 70 KB header name', pieces: req(`GET / HTTP/1.1\r\nHost: x\r\n${'X'.repeat(70_000)}: v\r\n\r\n`), expect: reject(431) },

    // Path traversal on the dashboard's files (public/ under /assets/, and
    // uPlot's two files under /assets/vendor/uplot/), toward package.json
    // and /etc/passwd: the file never comes back.
    ...[
      '/assets/../package.json',
      '/assets/%2e%2e/package.json',
      '/assets/%2E%2E/package.json',
      '/assets/..%2fpackage.json',
      '/assets/%2e%2e%2fpackage.json',
      '/assets/..%5cpackage.json',
      '/assets/%252e%252e/package.json',
      '/assets/....//package.json',
      '/assets/status.js/../../package.json',
      '/assets/%00/../package.json',
      '/assets/status.js%00',
      '/assets/status.js%00.html',
      '/assets/..%00/package.json',
      '/assets/%zz',
      '/assets/',
      '/assets/vendor/uplot/../../../package.json',
      '/assets/vendor/uplot/..%2f..%2f..%2fpackage.json',
      '/assets/vendor/uplot/..%2fpackage.json',
      '/assets/vendor/uplot/%2e%2e/package.json',
      '/assets/vendor/uplot/uPlot.cjs.js',
      '/assets/vendor/uplot/uPlot.iife.min.js%00',
      '/assets/../../../../../../../../etc/passwd',
      '/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/assets/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/assets//etc/passwd',
      '/assets/%2fetc%2fpasswd',
      '/assets/vendor/uplot/../../../../../../../../etc/passwd',
      '/status/../package.json',
      '/status/..%2f..%2fpackage.json',
      '/status%2f..%2fpackage.json',
      '/status/%2e%2e/%2e%2e/etc/passwd',
      '/status%00',
      '/..%2fpackage.json',
      '/%2e%2e/package.json',
      '//etc/passwd',
      '/package.json',
    ].map(traversal),

    // The slowloris: one header byte every half second. Node's headersTimeout
    // cuts it with a 408 within HEADERS_TIMEOUT_MS and one check interval.
    {
      name: 'slowloris: a header byte every 500 ms',
      pieces: [...`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'z'.repeat(40)}`].map((c) => b(c)),
      gapMs: 500,
      expect: { kind: 'reject', status: [408], closes: true },
    },

    // Pipelining behind the stream: once GET / is answered the socket is the
    // stream's; a request behind it (RFC 9112 §9.3.2 lets a client send it)
    // is never answered inside the stream, and the stream keeps beating. (A
    // stream route behind a stream route used to kill the worker: Node's
    // internal assertion in the take-over, see src/http/request-admission.ts.)
    { name: 'GET /ping pipelined behind GET /', pieces: req(`${SSE}GET /ping HTTP/1.1\r\nHost: x\r\n\r\n`), expect: held },
    { name: 'GET /nope pipelined behind GET /', pieces: req(`${SSE}GET /nope HTTP/1.1\r\nHost: x\r\n\r\n`), expect: held },
    { name: 'GET / pipelined behind GET /', pieces: req(`${SSE}${SSE}`), expect: held },
    { name: 'GET /status_watcher pipelined behind GET /', pieces: req(`${SSE}GET /status_watcher HTTP/1.1\r\nHost: x\r\n\r\n`), expect: held },
    { name: 'GET /status pipelined behind GET /', pieces: req(`${SSE}GET /status HTTP/1.1\r\nHost: x\r\n\r\n`), expect: held },
    { name: 'a request sent on the stream after it opened', pieces: [b(SSE), b('GET /ping HTTP/1.1\r\nHost: x\r\n\r\n')], gapMs: 300, expect: held },
    { name: 'binary junk sent on the stream after it opened', pieces: [b(SSE), hello], gapMs: 300, expect: held },
    // The other way round is plain pipelining: the 204 first, then the stream.
    { name: 'GET / pipelined behind GET /ping', pieces: req(`GET /ping HTTP/1.1\r\nHost: x\r\n\r\n${SSE}`), expect: { kind: 'stream', before: [204], hold: true } },
    // A GET's body means nothing (RFC 9110 §9.3.1). One that is well framed is
    // read and dropped, and then the stream opens and works.
    { name: 'a body sent to the stream (Content-Length)', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world'), expect: held },
    { name: 'a body sent to the stream (chunked)', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'), expect: held },
    // A GET's body is read to its end before its route runs, so a malformed
    // one gets its 400 before any stream opens.
    { name: 'GET / with a bad chunk size', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n'), expect: reject(400) },
    { name: 'GET / with a body cut short by a FIN', pieces: req('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello'), fin: true, expect: reject(400) },
    // Broken bytes after GET / in the same read: the parser meets them while
    // the stream's request is in flight, answered or about to be, before the
    // take-over frees the parser. A status line then could land inside the
    // stream, so the socket is closed instead, and the count with it.
    { name: 'binary junk pipelined behind GET /', pieces: [Buffer.concat([b(SSE), hello])], expect: { kind: 'cut' } },
    { name: 'an oversized request pipelined behind GET /', pieces: req(`${SSE}GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9_000)}\r\n\r\n`), expect: { kind: 'cut' } },
    { name: 'a body sent to the stream later', pieces: [b('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n'), b('hello world')], gapMs: 300, expect: held },
  ];
}

// ---------------------------------------------------------------------------
// The fuzz: valid requests, mutated with a fixed seed.


const SEEDS = [
  SSE,
  'GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip, br\r\n\r\n',
  'GET /assets/status.js HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: "x"\r\n\r\n',
  'GET /assets/vendor/uplot/uPlot.min.css HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-9\r\n\r\n',
  'GET /status_watcher HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n',
  'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'POST /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
  'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  'GET /nope?a=1&b=%20 HTTP/1.0\r\n\r\n',
];
const TOKENS = ['\0', '\r', '\n', '\r\n', ' ', '\t', ':', '/', '%', '%00', '..', '../', '%2e%2e%2f', '\x7f', '\xff', '\x1b', ',', ';', '"', 'chunked', '0', '-1', '99999999999999999999'];
const HEADERS = [
  'Content-Length: 5',
  'Content-Length: -1',
  'Content-Length: 1, 2',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Host: evil',
  'Expect: 100-continue',
  'Connection: Upgrade\r\nUpgrade: websocket',
  'Upgrade: h2c',
  'Connection: close',
  'X-Forwarded-For: 1.2.3.4',
  'Accept-Encoding: *',
  'Range: bytes=-1',
];
const TARGETS = ['/', '/assets/../package.json', '/assets/%2e%2e/%2e%2e/etc/passwd', '/status/..%2f..%2fpackage.json', '//', '*', 'http://evil/', '/assets/vendor/uplot/..%2fpackage.json', '/%ff', '/?' + 'q'.repeat(300)];

function fuzzCase(random: () => number): { bytes: Buffer; fin: boolean; ops: string[] } {
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const byte = (): string => String.fromCharCode(int(256));
  const junk = (): string => Array.from({ length: 1 + int(12) }, () => (random() < 0.5 ? pick(TOKENS) : byte())).join('');
  const name = (): string => Array.from({ length: 1 + int(10) }, () => (random() < 0.8 ? String.fromCharCode(97 + int(26)) : byte())).join('');
  let s = pick(SEEDS);
  const ops: string[] = [];
  const mutations: Array<[string, () => void]> = [
    ['flip', () => { const i = int(s.length); s = s.slice(0, i) + byte() + s.slice(i + 1); }],
    ['bit', () => { const i = int(s.length); s = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << int(8))) + s.slice(i + 1); }],
    ['insert', () => { const i = int(s.length + 1); s = s.slice(0, i) + junk() + s.slice(i); }],
    ['delete', () => { const i = int(s.length); s = s.slice(0, i) + s.slice(i + 1 + int(8)); }],
    ['dup-line', () => { const lines = s.split('\r\n'); const i = int(lines.length); lines.splice(i, 0, lines[i]!); s = lines.join('\r\n'); }],
    ['drop-line', () => { const lines = s.split('\r\n'); lines.splice(int(lines.length), 1); s = lines.join('\r\n'); }],
    ['cut-line', () => { const lines = s.split('\r\n'); const i = int(lines.length); lines[i] = lines[i]!.slice(0, int(lines[i]!.length + 1)); s = lines.join('\r\n'); }],
    ['swap-lines', () => { const lines = s.split('\r\n'); const i = int(lines.length); const j = int(lines.length); [lines[i], lines[j]] = [lines[j]!, lines[i]!]; s = lines.join('\r\n'); }],
    ['header', () => { const i = s.indexOf('\r\n') + 2; s = `${s.slice(0, i)}${name()}: ${junk()}\r\n${s.slice(i)}`; }],
    ['hostile-header', () => { const i = s.indexOf('\r\n') + 2; s = `${s.slice(0, i)}${pick(HEADERS)}\r\n${s.slice(i)}`; }],
    ['number', () => { s = s.replace(/\d+/, () => pick(['0', '-1', '18446744073709551616', String(int(100_000)), '0x10'])); }],
    ['target', () => { s = s.replace(/^(\S+) \S+/, (_m, method: string) => `${method} ${pick(TARGETS)}`); }],
    ['append', () => { s += random() < 0.5 ? junk() : pick(SEEDS); }],
  ];
  for (let n = 1 + int(3); n > 0; n--) {
    const [op, apply] = pick(mutations);
    apply();
    ops.push(op);
  }
  // Most cases half-close after their bytes, so a request left incomplete is
  // answered at once; one in eight waits, so the header timeout is the answer.
  return { bytes: b(s), fin: random() >= 0.125, ops };
}

/** A request the client has finished sending as far as it knows, with a body the server may still be waiting for. */
function owesBody(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return end >= 0 && /\r\n(content-length|transfer-encoding)\s*:/i.test(text.slice(0, end + 2));
}

// ---------------------------------------------------------------------------


async function countIs(expected: number, what: string): Promise<void> {
  let last: string | null = null;
  await waitFor(async () => (last = await redis.client.get('connections')) === String(expected), {
    what: () => `${what}: count ${expected} in Redis (last ${last})`,
    timeoutMs: 6_000,
  });
  await nextStatus(cluster.port, (s) => s.connections === expected && s.perWorker.reduce((sum, w) => sum + w.connections, 0) === expected, 6_000);
}

before(async () => {
  redis = await startRedis();
  cluster = await startCluster({
    REDIS_URL: redis.url,
    WORKERS: '2',
    HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    HEARTBEAT_MS: String(HEARTBEAT_MS),
    DRAIN_MS: '500',
  });
  const status = await nextStatus(cluster.port, (s) => s.perWorker.length === 2);
  workerPids = status.perWorker.map((w) => w.pid).sort((x, y) => x - y);
  assert.deepEqual(childPids(cluster.child.pid!), workerPids, 'the workers are the primary’s only children');
  good = Array.from({ length: GOOD }, () => openSse(cluster.port));
  await waitFor(() => good.every((s) => s.text().includes('retry:')), { what: 'the good streams to open' });
  await countIs(GOOD, 'with the good streams open');
});

after(async () => {
  for (const stream of good) stream.close();
  await cluster?.stop();
  await redis?.stop();
});

test('every corpus case is refused with a 4xx or a close, or gets the stream a user would expect', async (t) => {
  const cases = corpus(await clientHello());
  const beatsBefore = good.map((s) => s.chunks.length);
  const failures: string[] = [];
  await pool(
    cases.map((c) => async () => {
      const { expect } = c;
      const reply = await send(cluster.port, c.pieces, {
        ...(c.gapMs === undefined ? {} : { gapMs: c.gapMs }),
        fin: c.fin ?? false,
        // Where the close is part of the answer, watch until it comes.
        responses: expect.closes ? Infinity : (expect.before?.length ?? 0) + 1,
        // A cut stream is watched until it closes.
        beats: expect.kind === 'cut' ? Infinity : expect.hold ? 3 : 0,
      });
      const problems = generalProblems(reply);
      const final = reply.statuses.find((s) => s >= 200);
      if (expect.kind === 'reject') {
        if (final !== undefined && !(expect.status ?? [final]).includes(final)) problems.push(`expected ${expect.status?.join(' or ')}`);
        if (final !== undefined && (final < 400 || final >= 500)) problems.push('expected a 4xx or a close');
        if (final === undefined && reply.closedMs === undefined) problems.push('neither answered nor closed');
        if (expect.closes && (reply.closedMs === undefined || reply.closedMs > DEADLINE_MS)) problems.push(`not closed within ${DEADLINE_MS} ms`);
        if (reply.text.includes('hunter2')) problems.push('echoed the request');
      } else if (expect.kind === 'cut') {
        const cut = reply.closedMs !== undefined && (reply.statuses.length === 0 || (reply.statuses.join() === '200' && parseResponses(reply.text).sseBody !== undefined));
        const refused = reply.statuses.length === 1 && final !== undefined && final >= 400 && final < 500;
        if (!cut && !refused) problems.push('expected a 4xx or a close, the stream at most before it');
      } else {
        const wanted = [...(expect.before ?? []), 200];
        if (reply.statuses.join() !== wanted.join()) problems.push(`expected exactly ${wanted.join('+')} (the stream's, nothing inside it)`);
        if (parseResponses(reply.text).sseBody === undefined) problems.push('no event stream');
        if (expect.hold && (reply.beats < 3 || reply.closedMs !== undefined)) problems.push('the stream did not keep beating');
      }
      t.diagnostic(`case ${c.name} -> ${describe(reply)}${problems.length > 0 ? `  !! ${problems.join('; ')}` : ''}`);
      if (problems.length > 0) failures.push(`${c.name}: ${describe(reply)}: ${problems.join('; ')}`);
    }),
    PARALLEL,
  );
  assert.deepEqual(failures, []);
  // The good streams were fed all along.
  good.forEach((s, i) => assert.ok(s.chunks.length >= beatsBefore[i]! + 2 && !s.isClosed(), `good stream ${i} kept its heartbeats`));
});

test(`a seeded fuzz of ${FUZZ_CASES} mutated requests, ${PARALLEL} at a time, keeps the same rules`, async (t) => {
  const random = seeded(FUZZ_SEED);
  const cases = Array.from({ length: FUZZ_CASES }, () => fuzzCase(random));
  const startedAt = performance.now();
  const outcomes = new Map<string, number>();
  const failures: string[] = [];
  await pool(
    cases.map((c, index) => async () => {
      const reply = await send(cluster.port, [c.bytes], { fin: c.fin });
      let problems = generalProblems(reply);
      // A client that announced a body and did not send it (nor half-closed)
      // is waiting on itself; the server may rightly wait for the body
      // (requestTimeout, 30 s, ends that).
      if (!c.fin && owesBody(c.bytes)) problems = problems.filter((p) => !p.startsWith('silent'));
      const final = reply.statuses.find((s) => s >= 200);
      const key = final === undefined ? (reply.closedMs !== undefined ? 'closed' : 'waited (owes a body)') : String(final);
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (problems.length > 0) {
        failures.push(`#${index} [${c.ops.join(',')}${c.fin ? ',fin' : ''}] ${JSON.stringify(c.bytes.toString('latin1')).slice(0, 300)} -> ${describe(reply)}: ${problems.join('; ')}`);
      }
    }),
    PARALLEL,
  );
  const summary = [...outcomes].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k}: ${n}`).join(', ');
  t.diagnostic(`fuzz seed ${FUZZ_SEED.toString(16)}: ${FUZZ_CASES} cases in ${((performance.now() - startedAt) / 1_000).toFixed(1)} s -> ${summary}`);
  for (const failure of failures.slice(0, 20)) t.diagnostic(`fuzz failure ${failure}`);
  assert.deepEqual(failures.slice(0, 20), []);
});

test('afterwards no worker has died and the count is exact: the good streams, still beating, and nothing else', async () => {
  const deaths = cluster.logs.filter((l) => /^worker (exited|killed)/.test(l.msg));
  // What the workers said last is what a fix needs.
  const errors = cluster.logs.filter((l) => l.level >= 50);
  assert.deepEqual(deaths, [], `${JSON.stringify(errors, null, 1)}\n${cluster.stderr()}`);
  const status = await nextStatus(cluster.port, (s) => s.perWorker.length === 2);
  assert.deepEqual(status.perWorker.map((w) => w.pid).sort((x, y) => x - y), workerPids);
  assert.deepEqual(childPids(cluster.child.pid!), workerPids);
  await countIs(GOOD, 'after every hostile socket closed');
  const beats = good.map((s) => s.chunks.length);
  await waitFor(() => good.every((s, i) => s.chunks.length >= beats[i]! + 2), { what: 'the good streams to keep beating' });
  assert.ok(good.every((s) => !s.isClosed() && !/HTTP\/1\.1 [^2]/.test(s.text())), 'the good streams were never closed or answered into');
  for (const stream of good) stream.close();
  await countIs(0, 'after the good streams closed');
});
