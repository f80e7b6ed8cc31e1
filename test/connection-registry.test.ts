// The registry's drain against real sockets: a stream taken over after the
// drain listed the held ones is ended gracefully too, and waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import { ConnectionRegistry } from '../src/connections/connection-registry.js';

/** A connected pair: the server's end (what the registry holds) and the client's. */
async function socketPair(server: net.Server, port: number): Promise<{ held: Socket; client: Socket }> {
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = net.connect(port, '127.0.0.1');
  const [[held]] = await Promise.all([accepted, once(client, 'connect')]);
  return { held, client };
}

test('a stream taken over after drain() listed the held ones is ended gracefully, and the drain waits for it', async (t) => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const registry = new ConnectionRegistry({ heartbeatMs: 60_000, heartbeat: Buffer.from(':\n\n'), maxConnections: 10, maxUnsentBytes: 16_384 });
  registry.start();

  const early = await socketPair(server, port);
  registry.add(early.held);
  const late = await socketPair(server, port);
  // Answered before the drain (its head went out), taken over after it started.
  registry.reserve();
  let drained = false;
  const draining = registry.drain(100).then(() => (drained = true));
  // As open-stream.ts does: the reservation released, the socket added, in one step.
  registry.cancel();
  registry.add(late.held);
  // Ended now, as the listed ones are over the spread, not destroyed with the stragglers at the cut.
  assert.equal(late.held.writableEnded, true);

  const howEnded = (client: Socket): Promise<string> =>
    new Promise((resolve) => {
      client.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      client.on('end', () => {
        client.end();
        resolve('end');
      });
      client.resume();
    });
  assert.deepEqual(await Promise.all([howEnded(early.client), howEnded(late.client)]), ['end', 'end']);
  await draining;
  assert.equal(drained, true);
  assert.equal(registry.size, 0);
  assert.equal(registry.counters().closed, 2);
});

test('the drain waits for a stream answered but not yet taken over', async () => {
  const registry = new ConnectionRegistry({ heartbeatMs: 60_000, heartbeat: Buffer.from(':\n\n'), maxConnections: 10, maxUnsentBytes: 16_384 });
  registry.reserve();
  let drained = false;
  const draining = registry.drain(0).then(() => (drained = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(drained, false, 'one stream is still to come');
  registry.cancel(); // its client left before the take-over
  await draining;
});
