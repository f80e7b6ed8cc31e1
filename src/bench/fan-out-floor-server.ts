#!/usr/bin/env node
// The fan-out floor the benchmark sets million-sse against (--compare floor):
// the least a Node process can do to deliver an update to its subscribers. A
// few of these share the port (SO_REUSEPORT); each takes any request's `match`
// parameter as its topic, answers with an event stream, writes `:\n\n` on a
// shared timing wheel, and subscribes to one Redis channel whose messages are
// `<topic>\n<the whole SSE frame>`: the frame becomes one Buffer, written to
// every socket of the topic. No HTTP framework, no authorization, no history.
// Usage: node dist/bench/fan-out-floor-server.js PORT HEARTBEAT_MS REDIS_PORT CHANNEL
// It prints one JSON line a second: {"connections":N,"heartbeats":total}.
import net from 'node:net';
import { Redis } from 'ioredis';
import { TimingWheel, type Slotted } from '../connections/timing-wheel.js';

const port = Number(process.argv[2]);
const heartbeatMs = Number(process.argv[3] ?? 15_000);
const redisPort = Number(process.argv[4]);
const channel = process.argv[5] ?? 'floor';
const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n: floor\n\n';
const HEARTBEAT = Buffer.from(':\n\n');
const MATCH = /[?&]match=([^&\s]*)/;

type Held = net.Socket & Slotted & { topic: string };
const topics = new Map<string, Set<Held>>();
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
  const held = topics.get(this.topic);
  held?.delete(this);
  if (held?.size === 0) topics.delete(this.topic);
}
function ignore(): void {}

const server = net.createServer({ noDelay: true }, (raw) => {
  const socket = raw as Held;
  socket.on('error', ignore);
  socket.once('data', (chunk) => {
    // Enough of HTTP for a benchmark client: the request line's match parameter is the topic.
    const text = chunk.toString('latin1');
    if (!text.includes('\r\n\r\n')) return void socket.destroy();
    const match = MATCH.exec(text.slice(0, text.indexOf('\r\n')));
    socket.topic = match === null ? '' : decodeURIComponent(match[1]!);
    socket.write(HEAD);
    wheel.add(socket);
    let held = topics.get(socket.topic);
    if (held === undefined) topics.set(socket.topic, (held = new Set()));
    held.add(socket);
    socket.on('close', onClose);
    socket.resume();
  });
});
server.listen({ port, host: '127.0.0.1', backlog: 65_535, reusePort: true });

const subscriber = new Redis({ port: redisPort, host: '127.0.0.1' });
subscriber.on('error', ignore);
void subscriber.subscribe(channel);
subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
  const newline = message.indexOf(0x0a);
  if (newline < 0) return;
  const held = topics.get(message.toString('utf8', 0, newline));
  if (held === undefined) return;
  // One Buffer for every socket: the frame is never copied per subscriber.
  const frame = message.subarray(newline + 1);
  for (const socket of held) socket.write(frame);
});

setInterval(() => process.stdout.write(`${JSON.stringify({ connections: wheel.size, heartbeats })}\n`), 1_000).unref();
process.on('SIGTERM', () => process.exit(0));
