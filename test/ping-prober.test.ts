// The benchmark's /ping prober against a real server whose answers take a
// while: its own ending must not read as the server failing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PingProber } from '../src/bench/ping-prober.js';

async function slowPingServer(t: { after: (fn: () => void | Promise<void>) => void }, answer: (response: http.ServerResponse) => void): Promise<{ url: URL; answered: () => number }> {
  let answered = 0;
  const server = http.createServer((_request, response) => {
    setTimeout(() => {
      answered++;
      answer(response);
    }, 400);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`), answered: () => answered };
}

test('stopping the prober while a probe waits for its answer lets it finish: no failure is counted', async (t) => {
  const { url, answered } = await slowPingServer(t, (response) => response.writeHead(204).end());
  const prober = new PingProber(url);
  prober.start();
  await sleep(1_150); // the first probe went out at 1 s; its answer comes at 1.4 s
  await prober.stop();
  assert.equal(answered(), 1);
  assert.deepEqual([prober.latenciesMs.length, prober.failures], [1, 0]);
  assert.ok(prober.latenciesMs[0]! >= 350, `timed the wait: ${prober.latenciesMs[0]} ms`);
  await prober.stop(); // idempotent
});

test('a probe the server refuses is a failure, with its cause', async (t) => {
  const { url } = await slowPingServer(t, (response) => response.writeHead(503).end());
  const prober = new PingProber(url);
  prober.start();
  await sleep(1_150);
  await prober.stop();
  assert.deepEqual([prober.latenciesMs.length, prober.failures, prober.failureCauses], [0, 1, { 'status 503': 1 }]);
});
