// A load-generator run's settings, validated once. A bad value stops the run
// before any process starts, with a message that names the flag and the value
// it got (a ConfigError, from the project's one error catalogue).
import os from 'node:os';
import { ConfigError } from '../errors.js';
import { wholeNumber } from '../config/whole-number.js';
import { parseEngine, type Engine } from './engine.js';
import { parseSourceRange, SourceRangeError } from './source-range.js';

export interface Target {
  /** What the URL said, for the report. */
  readonly url: string;
  /** The host to connect to; a name is resolved once, by the coordinator. */
  readonly host: string;
  readonly port: number;
  /** The request target: path and query. */
  readonly path: string;
  /** The Host header: the URL's host and port as written. */
  readonly hostHeader: string;
}

export interface LoadgenOptions {
  readonly target: Target;
  readonly connections: number;
  /** Connection attempts per second over all processes; 0 means unpaced. */
  readonly rate: number;
  /** Source addresses to bind; empty means the OS picks. */
  readonly sources: readonly string[];
  readonly holdMs: number;
  /** Hard cap on the whole run, ramp included. */
  readonly durationMs: number;
  readonly id: string;
  /** The interval the server promises; 0 turns the late check off. */
  readonly heartbeatMs: number;
  readonly maxPending: number;
  /** From the attempt to the response head; past it, the attempt fails with TIMEOUT. */
  readonly connectTimeoutMs: number;
  readonly reconnect: boolean;
  /** Unset: as few processes as the open-file limit allows. */
  readonly processes: number | undefined;
  readonly maxPerProcess: number | undefined;
  readonly reportPath: string;
  /** 0 turns progress lines off. */
  readonly progressMs: number;
  /** Progress as one JSON object a line (ProgressSnapshot), for a program that drives the load generator. */
  readonly progressJson: boolean;
  /** Extra request header lines, `Name: value`. */
  readonly headers: readonly string[];
  /** The client processes' engine: client-process.js, or the C engine. */
  readonly engine: Engine;
  /** The C engine's sleep between reads, ramp and hold alike; 0 = wake per event. Gaps are measured to within it. */
  readonly batchMs: number;
  /**
   * Gaps and late heartbeats are counted afresh this long after the ramp is
   * done, leaving out what the ramp and its aftermath did to them; null: over
   * the whole run.
   */
  readonly measureAfterMs: number | null;
  /** Gaps and late heartbeats stop being counted this long after measuring starts; null: to the end. */
  readonly measureForMs: number | null;
  /** Spread the clients over this many Mercure topics (topics.ts); 0: the URL as given. */
  readonly topics: number;
}

/** What `parseArgs` hands over: every flag as the text it was given. */
export interface RawOptions {
  url?: string | undefined;
  connections?: string | undefined;
  rate?: string | undefined;
  sources?: string | undefined;
  hold?: string | undefined;
  duration?: string | undefined;
  id?: string | undefined;
  'heartbeat-ms'?: string | undefined;
  'max-pending'?: string | undefined;
  'connect-timeout-ms'?: string | undefined;
  reconnect?: boolean | undefined;
  processes?: string | undefined;
  'max-per-process'?: string | undefined;
  report?: string | undefined;
  'progress-ms'?: string | undefined;
  'progress-json'?: boolean | undefined;
  header?: string[] | undefined;
  engine?: string | undefined;
  'batch-ms'?: string | undefined;
  'measure-after'?: string | undefined;
  'measure-for'?: string | undefined;
  topics?: string | undefined;
}

export const DEFAULTS = Object.freeze({
  connections: 1_000,
  rate: 1_000,
  holdSeconds: 60,
  heartbeatMs: 15_000,
  // Enough in-flight handshakes to keep a loopback server busy, few enough that
  // a stalled server does not get a SYN flood it can only answer by dropping.
  maxPending: 2_000,
  connectTimeoutMs: 10_000,
  progressMsTty: 1_000,
  progressMsPlain: 5_000,
  // Ten wake-ups a second per C engine process, and gaps measured to within a
  // tenth of a second: well inside the 1 s allowance before a gap is late.
  batchMs: 100,
});

/** Slack added to the default --duration beyond the ramp and the hold. */
const DURATION_SLACK_MS = 120_000;
const MAX_CONNECTIONS = 10_000_000;
/** Past the 1 s late allowance, a batch period would blur late and on-time gaps. */
export const MAX_BATCH_MS = 1_000;
/** The C engine's bound on the request it sends (native/loadgen-client/messages.h). */
const MAX_C_REQUEST_HEADER_BYTES = 60_000;

/** A whole-number flag within [min, max]; the benchmark's flags use it too. The same reading as the server's variables. */
export const integer = wholeNumber;

function seconds(flag: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback * 1000;
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new ConfigError(flag, raw, `a number of seconds from 0 to ${max}`);
  }
  return Math.round(value * 1000);
}

function rate(raw: string | undefined): number {
  if (raw === undefined) return DEFAULTS.rate;
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1_000_000) {
    throw new ConfigError('--rate', raw, 'connections per second from 0 (unpaced) to 1000000');
  }
  return value;
}

function target(raw: string | undefined): Target {
  if (raw === undefined) throw new ConfigError('--url', '', 'the URL of an SSE stream, such as http://127.0.0.1:5252/');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('--url', raw, 'a URL such as http://127.0.0.1:5252/');
  }
  // TLS would cost tens of kilobytes a connection and a handshake's CPU; this tool measures plain HTTP.
  if (url.protocol !== 'http:') throw new ConfigError('--url', raw, 'an http:// URL (https is not supported)');
  // URL keeps IPv6 literals in brackets; net.connect wants them without.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return Object.freeze({
    url: url.href,
    host,
    port: url.port === '' ? 80 : Number(url.port),
    path: `${url.pathname}${url.search}`,
    hostHeader: url.host,
  });
}

function sources(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  try {
    return parseSourceRange(raw);
  } catch (err) {
    if (err instanceof SourceRangeError) {
      throw new ConfigError('--sources', raw, `addresses or ranges such as 127.0.1.1-127.0.1.250 (${err.message})`);
    }
    throw err;
  }
}

function id(raw: string | undefined): string {
  // The id names the report file, so it keeps to characters that need no quoting.
  const value = raw ?? os.hostname().replace(/[^A-Za-z0-9_.-]/g, '-');
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(value)) throw new ConfigError('--id', value, 'letters, digits, _ . or -, at most 100');
  return value;
}

// RFC 9110 section 5.1 (field-name is a token) and 5.5 (no CR, LF or NUL in a
// value), so that a header cannot smuggle a second header or a second request.
const HEADER_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n\0]*$/;

function headers(raw: string[] | undefined): string[] {
  for (const line of raw ?? []) {
    if (!HEADER_LINE.test(line)) throw new ConfigError('--header', line, '"Name: value" with no CR, LF or NUL');
  }
  return raw ?? [];
}

function batchMs(raw: string | undefined, engine: Engine): number {
  if (raw !== undefined && engine !== 'c') {
    throw new ConfigError('--batch-ms', raw, 'no value unless --engine c: the Node engine reads each socket as data arrives');
  }
  return integer('--batch-ms', raw, DEFAULTS.batchMs, 0, MAX_BATCH_MS);
}

function headersFor(raw: string[] | undefined, engine: Engine): string[] {
  const lines = headers(raw);
  const bytes = lines.reduce((sum, line) => sum + Buffer.byteLength(line, 'latin1') + 2, 0);
  if (engine === 'c' && bytes > MAX_C_REQUEST_HEADER_BYTES) {
    throw new ConfigError('--header', `${lines.length} headers`, `at most ${MAX_C_REQUEST_HEADER_BYTES} bytes of headers in all with --engine c`);
  }
  return lines;
}

export function toOptions(raw: RawOptions, isTTY: boolean): LoadgenOptions {
  const connections = integer('--connections', raw.connections, DEFAULTS.connections, 1, MAX_CONNECTIONS);
  const perSecond = rate(raw.rate);
  const holdMs = seconds('--hold', raw.hold, DEFAULTS.holdSeconds, 30 * 24 * 3600);
  const connectTimeoutMs = integer('--connect-timeout-ms', raw['connect-timeout-ms'], DEFAULTS.connectTimeoutMs, 100, 600_000);
  // Enough for the ramp twice over, every attempt's timeout, and the hold.
  const rampMs = perSecond === 0 ? 0 : (2 * connections * 1000) / perSecond;
  const defaultDurationMs = Math.ceil(rampMs + connectTimeoutMs + holdMs + DURATION_SLACK_MS);
  const durationMs = raw.duration === undefined ? defaultDurationMs : seconds('--duration', raw.duration, 0, 30 * 24 * 3600);
  if (durationMs === 0) throw new ConfigError('--duration', raw.duration ?? '', 'a number of seconds above 0');
  const runId = id(raw.id);
  const clientEngine = parseEngine(raw.engine);
  return Object.freeze({
    target: target(raw.url),
    connections,
    rate: perSecond,
    sources: Object.freeze(sources(raw.sources)),
    holdMs,
    durationMs,
    id: runId,
    heartbeatMs: integer('--heartbeat-ms', raw['heartbeat-ms'], DEFAULTS.heartbeatMs, 0, 3_600_000),
    maxPending: integer('--max-pending', raw['max-pending'], DEFAULTS.maxPending, 1, 1_000_000),
    connectTimeoutMs,
    reconnect: raw.reconnect === true,
    processes: raw.processes === undefined ? undefined : integer('--processes', raw.processes, 1, 1, 1_024),
    maxPerProcess: raw['max-per-process'] === undefined ? undefined : integer('--max-per-process', raw['max-per-process'], 1, 1, MAX_CONNECTIONS),
    reportPath: raw.report ?? `loadgen-report-${runId}.json`,
    progressMs: integer('--progress-ms', raw['progress-ms'], isTTY ? DEFAULTS.progressMsTty : DEFAULTS.progressMsPlain, 0, 3_600_000),
    progressJson: raw['progress-json'] === true,
    headers: Object.freeze(headersFor(raw.header, clientEngine)),
    engine: clientEngine,
    batchMs: batchMs(raw['batch-ms'], clientEngine),
    // A window needs a start: --measure-for alone starts it at the ramp's end.
    measureAfterMs:
      raw['measure-after'] !== undefined ? seconds('--measure-after', raw['measure-after'], 0, 30 * 24 * 3600) : raw['measure-for'] !== undefined ? 0 : null,
    measureForMs: raw['measure-for'] === undefined ? null : seconds('--measure-for', raw['measure-for'], 1, 30 * 24 * 3600),
    topics: integer('--topics', raw.topics, 0, 1, MAX_CONNECTIONS),
  });
}
