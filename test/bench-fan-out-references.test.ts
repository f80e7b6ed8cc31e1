// The fan-out references of `npm run bench -- --publish-rate R --compare
// nchan,floor`, each started as the benchmark starts it, subscribed to by the
// load generator over two topics and published to by the benchmark's
// publisher through its own route: every client gets every update of its
// topic once, numbered in the data (nchan numbers its ids its own way).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './helpers/cluster.js';
import { removeReports, runLoadgen } from './helpers/loadgen.js';
import { freePort, waitFor } from './helpers/wait.js';
import type { Target, TargetOptions } from '../src/bench/targets.js';

// The built modules: the floor target starts dist/bench/fan-out-floor-server.js beside itself.
const dist = async <T>(file: string): Promise<T> => (await import(pathToFileURL(path.join(ROOT, 'dist/bench', file)).href)) as T;
const { startFloor } = await dist<typeof import('../src/bench/floor-target.js')>('floor-target.js');
const { startNchan, nchanMissing } = await dist<typeof import('../src/bench/nchan-target.js')>('nchan-target.js');
const { Publisher, senderFor } = await dist<typeof import('../src/bench/publisher.js')>('publisher.js');
const { openLog } = await dist<typeof import('../src/bench/server-under-test.js')>('server-under-test.js');

const work = mkdtempSync(path.join(os.tmpdir(), 'bench-references-test-'));
const log = openLog(path.join(work, 'server.log'));
after(() => {
  log.end();
  removeReports();
  rmSync(work, { recursive: true, force: true });
});

const CONNECTIONS = 40;
const TOPICS = 2;
const UPDATES = 10;

async function options(): Promise<TargetOptions> {
  return { port: await freePort(), workers: 2, heartbeatMs: 1_000, expectedConnections: CONNECTIONS, redisPort: await freePort(), log };
}

async function fanOutTo(target: Target): Promise<void> {
  const running = runLoadgen(['--url', target.hubUrl!, '--connections', String(CONNECTIONS), '--topics', String(TOPICS), '--hold', '3', '--heartbeat-ms', '0', '--engine', 'node']);
  await waitFor(() => target.connections() === CONNECTIONS, { what: `${CONNECTIONS} subscribers`, timeoutMs: 15_000 });
  const sender = await senderFor(target.publishRoute!(''), 60);
  const publisher = new Publisher({ send: sender.send, rate: 20, topics: TOPICS, payloadBytes: 64 });
  publisher.start();
  await waitFor(() => publisher.sent >= UPDATES, { what: `${UPDATES} updates sent`, intervalMs: 5 });
  const published = await publisher.stop();
  sender.close();
  assert.deepEqual([published.ok, published.failed.total], [UPDATES, 0], JSON.stringify(published.failed));
  const { report } = await running;
  const u = report.updates;
  assert.deepEqual([u.updates, u.duplicates, u.outOfOrder, u.skipped], [UPDATES * (CONNECTIONS / TOPICS), 0, 0, 0]);
  // Each topic's five updates, numbered 1 to 5, reached each of its 20 clients.
  assert.deepEqual(u.arrivals.map(([sequence, count]) => [sequence, count]), [1, 2, 3, 4, 5].map((n) => [n, CONNECTIONS]));
  assert.ok(u.deliveryMs.max! < 5_000, JSON.stringify(u.deliveryMs));
}

describe('the fan-out references', () => {
  test('floor: reusePort processes fed by one Redis channel', async () => {
    const target = await startFloor(await options());
    try {
      await fanOutTo(target);
    } finally {
      await target.stop();
    }
  });

  test('nchan: nginx with the nchan module, subscribed on the match channel, published through its publisher location', async () => {
    // Never skipped: .ci/run installs nginx-light and libnginx-mod-nchan, and a machine without them is told why.
    assert.equal(nchanMissing(), undefined);
    const target = await startNchan(await options(), work);
    try {
      await fanOutTo(target);
    } finally {
      await target.stop();
    }
  });
});
