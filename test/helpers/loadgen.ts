// The built load generator (`node dist/loadgen/main.js`), run as a user runs
// it, and the small real servers the load generator tests run it against: an
// SSE server writing `:\n\n` every 200 ms (node:http, so the body is chunked)
// that can end or close some streams or answer with another status, one that
// never answers, and one that answers every request with fixed bytes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { ROOT } from './cluster.js';
import type { Report } from '../../src/loadgen/report.js';

export const LOADGEN = path.join(ROOT, 'dist/loadgen/main.js');
export const HEARTBEAT_MS = 200;
export const SOURCES = '127.0.1.1-127.0.1.3';

let reportDir: string | undefined;
let runs = 0;

/** Removes the reports written so far; a test file calls it in `after`. */
export function removeReports(): void {
  if (reportDir !== undefined) rmSync(reportDir, { recursive: true, force: true });
  reportDir = undefined;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  report: Report | undefined;
}

export interface Running {
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
  done: Promise<Run>;
}

/** `script` runs another copy of the load generator's entry point (one without the C engine). */
export function startLoadgen(args: string[], timeoutMs = 30_000, script = LOADGEN): Running {
  reportDir ??= mkdtempSync(path.join(os.tmpdir(), 'loadgen-test-'));
  const reportPath = path.join(reportDir, `report-${++runs}.json`);
  const child = spawn(process.execPath, [script, '--report', reportPath, '--progress-ms', '250', ...args], {
    cwd: reportDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Bounds the test even if the load generator hangs; a hang then fails on the exit status.
  const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Run>((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(guard);
      const report = existsSync(reportPath) ? (JSON.parse(readFileSync(reportPath, 'utf8')) as Report) : undefined;
      resolve({ code, signal, stdout, stderr, report });
    }),
  );
  return { stderr: () => stderr, kill: (signal) => child.kill(signal), done };
}

export async function runLoadgen(args: string[]): Promise<Run & { report: Report }> {
  const run = await startLoadgen(args).done;
  assert.equal(run.code, 0, `exit status ${run.code} (${run.signal}); stderr:\n${run.stderr}`);
  assert.ok(run.report, `no report; stderr:\n${run.stderr}`);
  return run as Run & { report: Report };
}

export interface TestServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface SseServer extends TestServer {
  /** Requests seen, in order. */
  requests: number;
  remoteAddresses: Set<string>;
}

export interface SseServerOptions {
  status?: number;
  /** Requests (numbered from 1) whose connection the server destroys 300 ms after the stream opens. */
  closeWhen?: (n: number) => boolean;
  /** Requests whose response the server ends (the last chunk) 300 ms after it opens, keeping the connection. */
  endWhen?: (n: number) => boolean;
  heartbeatMs?: number;
  /**
   * Heartbeats start this long after the first stream opens (not after the
   * server starts, which would hand a load generator slow to start a shorter
   * silence): every stream's first gap is about that long.
   */
  silentForMs?: number;
  /** Heartbeats stop this long after the server starts: every stream is silent from then on. */
  silentAfterMs?: number;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** An SSE server on node:http writing `:\n\n` to every stream every 200 ms from one shared timer. */
export async function startSseServer(options: SseServerOptions = {}): Promise<SseServer> {
  const streams = new Set<http.ServerResponse>();
  const state = { requests: 0, remoteAddresses: new Set<string>() };
  const server = http.createServer((req, res) => {
    const n = ++state.requests;
    if (n === 1 && options.silentForMs !== undefined) silence = setTimeout(beat, options.silentForMs);
    state.remoteAddresses.add(req.socket.remoteAddress ?? '');
    if (options.status !== undefined && options.status !== 200) {
      res.writeHead(options.status, { 'retry-after': '5', 'content-type': 'text/plain' }).end('full\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': test-server\n\n');
    streams.add(res);
    res.on('close', () => streams.delete(res));
    if (options.closeWhen?.(n)) setTimeout(() => req.socket.destroy(), 300);
    if (options.endWhen?.(n)) setTimeout(() => res.end(), 300);
  });
  let timer: NodeJS.Timeout | undefined;
  const beat = (): void => {
    timer = setInterval(() => {
      for (const res of streams) res.write(':\n\n');
    }, options.heartbeatMs ?? HEARTBEAT_MS);
  };
  let silence: NodeJS.Timeout | undefined;
  if (options.silentForMs === undefined) beat();
  const quiet = options.silentAfterMs === undefined ? undefined : setTimeout(() => clearInterval(timer), options.silentAfterMs);
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    get requests() {
      return state.requests;
    },
    remoteAddresses: state.remoteAddresses,
    async close() {
      clearTimeout(silence);
      clearTimeout(quiet);
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A plain TCP server: `reply` is written once the request has arrived (an
 * array: piece by piece, 30 ms apart, so each is a read of its own), and then
 * the connection is ended (`end`) or kept open; no reply means never answering.
 */
export async function startRawServer(reply?: string | readonly string[], end = false): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const pieces = reply === undefined ? [] : typeof reply === 'string' ? [reply] : reply;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => {
      pieces.forEach((piece, i) => setTimeout(() => !socket.destroyed && socket.write(piece, 'latin1'), i * 30));
      if (end) setTimeout(() => socket.end(), pieces.length * 30);
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Accepts connections and never answers. */
export function startSilentServer(): Promise<TestServer> {
  return startRawServer();
}
