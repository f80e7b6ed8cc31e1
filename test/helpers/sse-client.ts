// A raw-socket SSE client: it sees the exact bytes and when each arrived.
import net from 'node:net';
import { waitFor } from './wait.js';

export interface RawStream {
  socket: net.Socket;
  /** Everything received, headers included, as latin1 text. */
  text(): string;
  /** Arrival time (performance.now()) of each chunk and its bytes. */
  chunks: Array<{ at: number; data: string }>;
  closed: Promise<void>;
  isClosed(): boolean;
  /** performance.now() when the socket closed. */
  closedAt(): number | undefined;
  waitForText(match: string | RegExp, timeoutMs?: number): Promise<void>;
  close(): void;
}

export interface RawOptions {
  localAddress?: string;
  /** false: never read, like a stalled client. */
  read?: boolean;
  /** true: ignore the server's FIN, like a client that never closes its side. */
  allowHalfOpen?: boolean;
}

export function rawRequest(port: number, request: string, options: RawOptions = {}): RawStream {
  const socket = net.connect({
    port,
    host: '127.0.0.1',
    allowHalfOpen: options.allowHalfOpen ?? false,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  const chunks: Array<{ at: number; data: string }> = [];
  let received = '';
  let closed = false;
  let closedAt: number | undefined;
  socket.on('error', () => undefined);
  if (options.read !== false) {
    socket.on('data', (data) => {
      const text = data.toString('latin1');
      received += text;
      chunks.push({ at: performance.now(), data: text });
    });
  }
  const closedPromise = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      closedAt = performance.now();
      resolve();
    }),
  );
  socket.write(request);
  return {
    socket,
    chunks,
    text: () => received,
    closed: closedPromise,
    isClosed: () => closed,
    closedAt: () => closedAt,
    waitForText: (match, timeoutMs = 5_000) =>
      waitFor(() => (typeof match === 'string' ? received.includes(match) : match.test(received)), { timeoutMs, what: `response text ${String(match)}` }),
    close: () => socket.destroy(),
  };
}

export function openSse(port: number, path = '/', options: RawOptions = {}): RawStream {
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`, options);
}

/** Every complete status event a /status_watcher stream has delivered so far, parsed, oldest first. */
export function statusEvents(stream: RawStream): StatusEvent[] {
  return stream.text().split('\n\n').filter((block) => block.startsWith('data: ')).map((block) => JSON.parse(block.slice(6)) as StatusEvent);
}

/**
 * The next status_watcher event that matches, parsed. A feed that ends (its
 * worker drained in a rolling restart, say) is opened again, as EventSource would.
 */
export async function nextStatus(port: number, match: (s: StatusEvent) => boolean = () => true, timeoutMs = 10_000): Promise<StatusEvent> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stream = openSse(port, '/status_watcher');
    try {
      let found: StatusEvent | undefined;
      await waitFor(
        () => {
          found = statusEvents(stream).reverse().find(match);
          return found !== undefined || stream.isClosed();
        },
        { timeoutMs: Math.max(1, deadline - performance.now()), what: 'a matching status event' },
      );
      if (found !== undefined) return found;
    } finally {
      stream.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface StatusEvent {
  ts: number;
  connections: number | null;
  redis: 'up' | 'down';
  hosts: number | null;
  workers: number;
  host: { connections: number };
  rates: { connects: number; disconnects: number; pings: number; heartbeats: number; dropped: number; published: number; deliveries: number };
  totals: { opened: number; closed: number; dropped: number; pings: number; heartbeats: number; published: number; deliveries: number; hubDropped: number };
  hub: { subscribers: number; historyLength: number | null; fanOutMs: number };
  perWorker: Array<{ id: number; pid: number; connections: number; rss: number; subscribers: number; fanOutMs: number }>;
}
