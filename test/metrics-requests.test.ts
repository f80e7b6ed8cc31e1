// A worker's /metrics request to the primary: answered, timed out, answered late.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRequests } from '../src/cluster/metrics-requests.js';

test('a request resolves with the answer bearing its id, or undefined once it times out', async () => {
  const sent: number[] = [];
  const requests = new MetricsRequests((id) => sent.push(id), 100);
  const first = requests.ask();
  const second = requests.ask();
  assert.deepEqual(sent, [1, 2]);
  requests.settle(2, 'second');
  assert.equal(await second, 'second');
  // Nobody answers the first: it gives up after the timeout.
  assert.equal(await first, undefined);
  // An answer after the timeout, or for an id never asked, changes nothing and throws nothing.
  requests.settle(1, 'late');
  requests.settle(99, 'unknown');
});
