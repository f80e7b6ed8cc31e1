// Both load-generator engines read updates out of SSE events: a test server
// writes events split across reads at awkward places (inside a field name,
// inside the publish time, between CR and LF, through chunked framing), with a
// duplicate, an update out of order and a gap in the sequence numbers, and
// both engines must count the same updates, delivery latencies and arrivals;
// --topics spreads the clients over the topics in the match parameter.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { removeReports, runLoadgen } from './helpers/loadgen.js';

after(removeReports);

// How old each update is when written: its delivery latency is at least this.
const AGE_MS = 1_000;

/** The body's pieces, each written 30 ms after the last so that each is a read of its own. */
function pieces(): string[] {
  const t = Date.now() - AGE_MS;
  const time = String(t);
  return [
    ': hub\n\n',
    // Update 1: the id split inside its name, the time split inside its digits, a second data line.
    'i',
    `d: bench-1\nda`,
    `ta: ${time.slice(0, 5)}`,
    `${time.slice(5)} payload\ndata: {"more": 1}\n`,
    '\n',
    // Update 2: CRLF line ends split between CR and LF, an event type and a fractional time.
    `id: bench-2\r\nevent: update\r\ndata: ${t}.5 x\r`,
    '\n\r',
    '\n',
    // A duplicate of 2, then 1 again (out of order), then 5 (3 and 4 skipped).
    `id: 2\ndata: ${t} again\n\nid: bench-1\ndata:${t}\n\n`,
    `id: bench-5\ndata: ${t}\n\n`,
    // Update 6, numbered in its data: that number wins over an id a server numbered its own way (nchan's).
    `id: 1796289518:0\ndata: ${t} 6 nchan-style\n\n`,
    // Not updates: a comment, an event without a publish time (the hub's gap notice), data that does not start with one.
    ':\n\n',
    'event: gap\ndata: {"requested":"x"}\n\n',
    'id: 6\ndata: later 1796287070662\n\n',
  ];
}

/** A raw HTTP server answering each stream with `pieces()`, plain or chunked; it keeps the request lines. */
async function startEventServer(chunked: boolean): Promise<{ url: string; requestLines: string[]; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const requestLines: string[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (request) => {
      requestLines.push(request.toString('latin1').split('\r\n')[0]!);
      const head = `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n${chunked ? 'transfer-encoding: chunked\r\n' : ''}\r\n`;
      const body = pieces().map((piece) => (chunked ? `${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n` : piece));
      [head, ...body].forEach((piece, i) => setTimeout(() => !socket.destroyed && socket.write(piece, 'latin1'), i * 30));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/.well-known/mercure`,
    requestLines,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const CONNECTIONS = 6;

for (const engine of ['node', 'c'] as const) {
  describe(`the ${engine} engine reads updates`, () => {
    for (const chunked of [false, true]) {
      test(`${chunked ? 'chunked' : 'plain'} body: updates, duplicates, out of order, skipped, delivery latency and arrivals; --topics in the request`, async () => {
        const server = await startEventServer(chunked);
        try {
          const { report } = await runLoadgen([
            '--url', server.url,
            '--connections', String(CONNECTIONS),
            '--topics', '3',
            '--hold', '1',
            '--heartbeat-ms', '0',
            '--engine', engine,
            ...(engine === 'c' ? ['--batch-ms', '10'] : []),
          ]);
          const u = report.updates;
          // Per stream: updates 1, 2, 2 again, 1 again, 5 and 6.
          assert.deepEqual(
            { updates: u.updates, duplicates: u.duplicates, outOfOrder: u.outOfOrder, skipped: u.skipped },
            { updates: 6 * CONNECTIONS, duplicates: CONNECTIONS, outOfOrder: CONNECTIONS, skipped: 2 * CONNECTIONS },
          );
          assert.equal(u.deliveryMs.count, 6 * CONNECTIONS);
          assert.ok(u.deliveryMs.p50! >= AGE_MS - 1 && u.deliveryMs.max! < AGE_MS + 2_000, `delivery ${JSON.stringify(u.deliveryMs)}`);
          // Each update's first arrival on each stream, and the latest of them.
          assert.deepEqual(u.arrivals.map(([sequence, count]) => [sequence, count]), [[1, CONNECTIONS], [2, CONNECTIONS], [5, CONNECTIONS], [6, CONNECTIONS]]);
          for (const [, , latest] of u.arrivals) assert.ok(latest >= AGE_MS - 1 && latest < AGE_MS + 2_000, `latest ${latest}`);
          // Frames are still counted as before: every event and comment.
          assert.equal(report.heartbeats, 10 * CONNECTIONS);
          const topics = server.requestLines.map((line) => /match=https%3A%2F%2Fbench\.test%2Ft%2F(\d+) HTTP/.exec(line)?.[1]).sort();
          assert.deepEqual(topics, ['0', '0', '1', '1', '2', '2']);
        } finally {
          await server.close();
        }
      });
    }
  });
}
