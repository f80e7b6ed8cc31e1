// GET / and friends against one real worker server on port 0, with raw sockets
// and the eventsource package as clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import { startWorkerServer } from './helpers/worker-server.js';
import { openSse, rawRequest } from './helpers/sse-client.js';
import { waitFor } from './helpers/wait.js';
import { MAX_STATUS_WATCHERS } from '../src/status/status-watchers.js';

test('GET / answers an SSE head and a first frame at once, then heartbeats on its own cadence', async (t) => {
  const heartbeatMs = 400;
  const server = await startWorkerServer({ HEARTBEAT_MS: String(heartbeatMs), RETRY_MS: '2000' });
  t.after(() => server.close());
  const stream = openSse(server.port);
  await stream.waitForText(/retry: \d+\n\n/);
  const text = stream.text();
  const [head, body] = text.split('\r\n\r\n') as [string, string];
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\ncontent-type: text\/event-stream\r\n/);
  assert.match(head, /\r\ncache-control: no-cache\r\n/);
  assert.match(head, /\r\nx-accel-buffering: no\r\n/);
  assert.doesNotMatch(head, /transfer-encoding/i);
  // With one wheel slot (a period under 500 ms) the first heartbeat can follow
  // the first frame at once, when the connection arrives just before a tick.
  assert.match(body, /^: million-sse\nretry: (\d+)\n\n(:\n\n)*$/);
  const retry = Number(/retry: (\d+)/.exec(body)![1]);
  assert.ok(retry >= 1000 && retry <= 3000, `retry ${retry} is jittered around RETRY_MS`);

  await waitFor(() => stream.chunks.filter((c) => c.data === ':\n\n').length >= 4, { what: '4 heartbeats', timeoutMs: 10_000 });
  const beats = stream.chunks.filter((c) => c.data === ':\n\n').map((c) => c.at);
  for (let i = 1; i < beats.length; i++) {
    const gap = beats[i]! - beats[i - 1]!;
    // The spec: a client sees each gap within 1 s of HEARTBEAT_MS.
    assert.ok(Math.abs(gap - heartbeatMs) < 1_000, `gap ${gap} ms`);
  }
  assert.equal(server.state.registry.size, 1);
  stream.close();
  await waitFor(() => server.state.registry.size === 0, { what: 'teardown after the client left' });
  const counters = server.state.registry.counters();
  assert.equal(counters.opened, 1);
  assert.equal(counters.closed, 1);
});

test('HEARTBEAT=nul writes the original single NUL byte', async (t) => {
  const server = await startWorkerServer({ HEARTBEAT_MS: '100', HEARTBEAT: 'nul' });
  t.after(() => server.close());
  const stream = openSse(server.port);
  await waitFor(() => stream.chunks.some((c) => c.data === '\0'), { what: 'a NUL heartbeat' });
  stream.close();
});

test('an EventSource client opens the stream and the status feed delivers JSON events', async (t) => {
  const server = await startWorkerServer({ HEARTBEAT_MS: '100' });
  t.after(() => server.close());
  const source = new EventSource(`http://127.0.0.1:${server.port}/`);
  t.after(() => source.close());
  await new Promise<void>((resolve, reject) => {
    source.onopen = () => resolve();
    source.onerror = (event) => reject(new Error(`EventSource error: ${event.message}`));
  });
  assert.equal(source.readyState, EventSource.OPEN);
  await waitFor(() => server.state.registry.size === 1, { what: 'the stream to be held' });

  const watcher = new EventSource(`http://127.0.0.1:${server.port}/status_watcher`);
  t.after(() => watcher.close());
  const received = new Promise<unknown>((resolve) => {
    watcher.onmessage = (event) => resolve(JSON.parse(event.data));
  });
  await waitFor(() => server.state.watchers.size === 1, { what: 'the watcher to be held' });
  server.state.watchers.publish(JSON.stringify({ connections: 1234567, note: 'line one\nline two' }));
  assert.deepEqual(await received, { connections: 1234567, note: 'line one\nline two' });
});

test('GET /ping answers 204 with no body and is counted', async (t) => {
  const server = await startWorkerServer();
  t.after(() => server.close());
  const response = await fetch(`http://127.0.0.1:${server.port}/ping`);
  assert.equal(response.status, 204);
  assert.equal(await response.text(), '');
  assert.equal(server.state.pings, 1);
});

test('unknown routes and wrong methods get a JSON 404, never a stream or a crash', async (t) => {
  const server = await startWorkerServer();
  t.after(() => server.close());
  for (const [method, path] of [['GET', '/nope'], ['POST', '/'], ['HEAD', '/'], ['DELETE', '/ping'], ['PUT', '/status_watcher']] as const) {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { method });
    assert.ok([404, 405].includes(response.status), `${method} ${path} -> ${response.status}`);
    if (method !== 'HEAD') {
      const body = (await response.json()) as { code: string; statusCode: number };
      assert.equal(body.code, 'MSSE_NOT_FOUND');
      assert.equal(body.statusCode, 404);
    }
  }
  assert.equal(server.state.registry.size, 0);
});

test('a malformed request gets 400 and its socket is closed', async (t) => {
  const server = await startWorkerServer();
  t.after(() => server.close());
  const bad = rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
  await bad.closed;
  assert.match(bad.text(), /^HTTP\/1\.1 400 Bad Request/);
  const garbage = rawRequest(server.port, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n');
  await garbage.closed;
  assert.match(garbage.text(), /^HTTP\/1\.1 400 Bad Request/);
  assert.equal(server.state.registry.size, 0);
});

test('headers over 8 KB get 431', async (t) => {
  const server = await startWorkerServer();
  t.after(() => server.close());
  const big = rawRequest(server.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9_000)}\r\n\r\n`);
  await big.closed;
  assert.match(big.text(), /^HTTP\/1\.1 431 Request Header Fields Too Large/);
  // Just under the limit is fine.
  const fits = rawRequest(server.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(7_000)}\r\n\r\n`);
  await fits.waitForText('retry:');
  fits.close();
});

test('a client that sends its headers too slowly is cut off; an open stream outlives every HTTP timeout', async (t) => {
  const server = await startWorkerServer({ HEADERS_TIMEOUT_MS: '300', HEARTBEAT_MS: '200' });
  t.after(() => server.close());
  const stream = openSse(server.port);
  await stream.waitForText('retry:');
  const slow = rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: x\r\n');
  await slow.closed;
  assert.match(slow.text(), /^HTTP\/1\.1 408 Request Timeout/);
  // Several header-timeout checks and keep-alive periods later, the stream is still held and fed.
  const beatsBefore = stream.chunks.length;
  await waitFor(() => stream.chunks.length >= beatsBefore + 8, { what: 'heartbeats after the timeouts passed', timeoutMs: 10_000 });
  assert.equal(stream.isClosed(), false);
  assert.equal(server.state.registry.size, 1);
  stream.close();
});

test('a client that stops reading is dropped once its unsent bytes pass the bound, and counted', async (t) => {
  // Loopback kernel buffers swallow megabytes before Node buffers a byte; a
  // 64 KB heartbeat fills them in a second instead of hours of 3-byte beats.
  const bigHeartbeat = Buffer.from(`:${'x'.repeat(64 * 1024)}\n\n`);
  const server = await startWorkerServer({ HEARTBEAT_MS: '20', MAX_UNSENT_BYTES: String(256 * 1024) }, { heartbeat: bigHeartbeat });
  t.after(() => server.close());
  // This one reads and throws the bytes away (keeping megabytes as text would starve the test process).
  const reader = openSse(server.port, '/', { read: false });
  reader.socket.resume();
  const stalled = openSse(server.port, '/', { read: false });
  stalled.socket.pause();
  await waitFor(() => server.state.registry.counters().dropped === 1, { what: 'the stalled client to be dropped', timeoutMs: 30_000 });
  // The stalled client itself cannot notice: the server's FIN waits behind the bytes it never reads.
  assert.equal(server.state.registry.size, 1, 'the reading client is still held');
  stalled.close();
  assert.equal(reader.isClosed(), false);
  reader.close();
});

test('a full worker answers 503 with Retry-After instead of failing at accept', async (t) => {
  const server = await startWorkerServer({ MAX_CONNECTIONS_PER_WORKER: '2' });
  t.after(() => server.close());
  const held = [openSse(server.port), openSse(server.port)];
  await waitFor(() => server.state.registry.size === 2, { what: 'two streams held' });
  const refused = openSse(server.port);
  await refused.waitForText('\r\n\r\n');
  assert.match(refused.text(), /^HTTP\/1\.1 503 Service Unavailable/);
  assert.match(refused.text(), /\r\nretry-after: 5\r\n/i);
  assert.match(refused.text(), /MSSE_FULL/);
  for (const stream of held) stream.close();
});

test('status watchers are capped per worker: past the cap, 503 with Retry-After; a watcher that leaves makes room', async (t) => {
  const server = await startWorkerServer();
  t.after(() => server.close());
  // Opened in one burst: the cap counts watchers answered in the same turn, before their take-over.
  const watchers = Array.from({ length: MAX_STATUS_WATCHERS }, () => openSse(server.port, '/status_watcher'));
  await waitFor(() => server.state.watchers.size === MAX_STATUS_WATCHERS, { what: `${MAX_STATUS_WATCHERS} watchers` });
  const refused = openSse(server.port, '/status_watcher');
  await refused.waitForText('\r\n\r\n');
  assert.match(refused.text(), /^HTTP\/1\.1 503 Service Unavailable/);
  assert.match(refused.text(), /\r\nretry-after: 5\r\n/i);
  assert.match(refused.text(), /MSSE_TOO_MANY_WATCHERS/);
  // The cap is the watchers', not the streams': GET / still opens.
  const stream = openSse(server.port);
  await stream.waitForText('retry:');
  watchers.pop()!.close();
  await waitFor(() => server.state.watchers.size === MAX_STATUS_WATCHERS - 1, { what: 'one watcher gone' });
  const again = openSse(server.port, '/status_watcher');
  await again.waitForText(': status');
  for (const s of [...watchers, stream, again]) s.close();
});
