#!/usr/bin/env node
// The reference the benchmark compares million-sse with: a bare node:net SSE
// loop, no HTTP framework, one shared timing wheel, the same 3-byte heartbeat.
// It is what a server holding streams cannot do much better than in Node, so
// million-sse's CPU and memory are judged as a ratio to it, in the same run.
// Usage: node dist/bench/bare-sse-server.js PORT HEARTBEAT_MS
// It prints one JSON line a second: {"connections":N,"heartbeats":total}.
import net from 'node:net';
import { TimingWheel, type Slotted } from '../connections/timing-wheel.js';

const port = Number(process.argv[2]);
const heartbeatMs = Number(process.argv[3] ?? 15_000);
const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n: bare\nretry: 3000\n\n';
const HEARTBEAT = Buffer.from(':\n\n');

type Held = net.Socket & Slotted;
let heartbeats = 0;
const wheel = new TimingWheel<Held>({
  periodMs: heartbeatMs,
  onFire(bucket) {
    for (const socket of bucket) socket.write(HEARTBEAT);
    heartbeats += bucket.size;
  },
});
wheel.start();

function onClose(this: Held): void {
  wheel.remove(this);
}
function ignore(): void {}

const server = net.createServer({ noDelay: true }, (socket: Held) => {
  socket.on('error', ignore);
  socket.once('data', (chunk) => {
    // Enough of HTTP for a benchmark client: any request gets the stream.
    if (!chunk.includes('\r\n\r\n')) return void socket.destroy();
    socket.write(HEAD);
    wheel.add(socket);
    socket.on('close', onClose);
    socket.resume();
  });
});
server.listen({ port, host: '127.0.0.1', backlog: 65_535 });

setInterval(() => process.stdout.write(`${JSON.stringify({ connections: wheel.size, heartbeats })}\n`), 1_000).unref();
process.on('SIGTERM', () => process.exit(0));
