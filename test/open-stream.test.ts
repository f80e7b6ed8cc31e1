// The take-over of answered streams (http/open-stream.ts), batched once per
// turn of the event loop, against a real server on port 0: one socket that
// fails costs its own stream and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import Fastify from 'fastify';
import { openStream, type StreamHolder } from '../src/http/open-stream.js';
import { openSse } from './helpers/sse-client.js';
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
