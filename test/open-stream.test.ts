// Opening a stream (http/open-stream.ts) against a real server on port 0: the
// take-over, batched once per turn of the event loop, where one socket that
// fails costs its own stream and nothing else; and the head, whose headers
// from hooks are checked as Node would check them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import Fastify from 'fastify';
import { openStream, type StreamHolder } from '../src/http/open-stream.js';
import { responseHead } from '../src/connections/sse-frames.js';
import { installErrorHandling } from '../src/http/error-handler.js';
import { openSse, rawRequest } from './helpers/sse-client.js';
import { waitFor } from './helpers/wait.js';

test('a take-over that throws closes that stream only: the rest of its batch is held, every reservation is released, the worker lives on', async (t) => {
  const held: Socket[] = [];
  let reserved = 0;
  let failures = 0;
  const holder: StreamHolder = {
    reserve: () => void reserved++,
    cancel: () => void reserved--,
    add(socket) {
      if (failures++ === 0) throw new Error('the first add fails');
      held.push(socket);
    },
  };
  let routed = 0;
  const app = Fastify();
  app.get('/', (request, reply) => {
    routed++;
    openStream(request, reply, 'retry: 1000\n\n', holder);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(async () => {
    for (const socket of held) socket.destroy();
    await app.close();
  });
  const { port } = app.server.address() as { port: number };

  // Several requests arrive together, as a burst does; they are taken over in one batch.
  const streams = Array.from({ length: 6 }, () => openSse(port));
  await waitFor(() => routed === 6 && held.length + (failures > 0 ? 1 : 0) === 6, { what: 'six streams answered and taken over' });
  assert.equal(held.length, 5);
  assert.equal(reserved, 0, 'every reservation released, the failed one too');
  await waitFor(() => streams.filter((s) => s.isClosed()).length === 1, { what: "the failed stream's socket closed" });
  // The held ones are usable streams: the holder can write to them.
  for (const socket of held) socket.write(': beat\n\n');
  await waitFor(() => streams.filter((s) => s.text().includes(': beat')).length === 5, { what: 'the five held streams written to' });
  for (const stream of streams) stream.close();
});

test('headers from hooks are validated before they go into the stream head: an injected line is refused, not written', () => {
  assert.match(responseHead({ 'access-control-allow-origin': 'https://a.example', vary: ['origin', 'cookie'] }), /\r\nvary: origin\r\nvary: cookie\r\n/);
  assert.throws(() => responseHead({ 'x-note': 'ok\r\nset-cookie: session=stolen' }), { code: 'ERR_INVALID_CHAR' });
  assert.throws(() => responseHead({ 'x-note': 'ok\n\ndata: injected' }), { code: 'ERR_INVALID_CHAR' });
  assert.throws(() => responseHead({ 'bad name': 'x' }), { code: 'ERR_INVALID_HTTP_TOKEN' });
  assert.throws(() => responseHead({ 'x-note\r\nset-cookie': 'x' }), { code: 'ERR_INVALID_HTTP_TOKEN' });
});

test('a hook that sets a bad header gets the request a 500, never a stream with the line in it', async (t) => {
  const app = Fastify({ logger: false });
  installErrorHandling(app);
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('x-note', 'ok\r\nset-cookie: session=stolen');
    done();
  });
  const holder: StreamHolder = { add: (socket) => socket.destroy() };
  app.get('/', (request, reply) => openStream(request, reply, 'retry: 1000\n\n', holder));
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const { port } = app.server.address() as { port: number };
  const answer = rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await answer.closed;
  assert.match(answer.text(), /^HTTP\/1\.1 500 Internal Server Error\r\n/);
  // Node refuses the header again when the error response is written: Fastify's last-resort 500, no header of the hook's.
  assert.match(answer.text(), /"statusCode":500/);
  assert.doesNotMatch(answer.text(), /set-cookie|text\/event-stream/i);
});
