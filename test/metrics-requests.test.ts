// A worker's /metrics request to the primary: answered, timed out, answered late.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRequests, answerMetricsRequest } from '../src/cluster/metrics-requests.js';
import type { PrimaryMessage } from '../src/cluster/messages.js';

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

test("the primary answers with the rendered text; a rendering that fails is answered without text and reported, never thrown", async () => {
  const replies: PrimaryMessage[] = [];
  const errors: unknown[] = [];
  await answerMetricsRequest(1, async () => 'msse_connections 3\n', (m) => replies.push(m), (err) => errors.push(err));
  const broken = new Error('a collect callback threw');
  await answerMetricsRequest(2, () => Promise.reject(broken), (m) => replies.push(m), (err) => errors.push(err));
  assert.deepEqual(replies, [
    { type: 'metrics', id: 1, text: 'msse_connections 3\n' },
    { type: 'metrics', id: 2 },
  ]);
  assert.deepEqual(errors, [broken]);
  // The worker's side: an answer without text is a 503 at once, not a wait for the timeout.
  const requests = new MetricsRequests(() => undefined, 60_000);
  const asked = requests.ask();
  requests.settle(1, undefined);
  assert.equal(await asked, undefined);
});
