// Which benchmark runs become points on the chart: the latest run for each N
// that held nearly all of it, measured with a settle window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { latestPerN } from '../src/bench/chart.js';

function run(
  date: string,
  n: number,
  extra: { established?: number; settleSeconds?: number; quick?: boolean; comparison?: object; serverBytes?: number; wholeRunGaps?: boolean } = {},
) {
  return {
    date,
    settings: { connections: n, quick: extra.quick ?? false, ...(extra.settleSeconds === undefined ? {} : { settleSeconds: extra.settleSeconds }) },
    established: extra.established ?? n,
    ...(extra.comparison === undefined ? {} : { comparison: extra.comparison }),
    memory: { serverBytesPerConnection: extra.serverBytes ?? 1000, kernelSlabBytesPerConnection: 9000 },
    heartbeats: {
      expectedIntervalMs: 15_000,
      gapMs: { p50: 14_970, p99: 15_040, max: 15_200 },
      ...(extra.wholeRunGaps ? {} : { measuredFrom: '2026-01-01T00:01:00Z' }),
    },
  };
}

test('the chart takes the latest settled, non-comparison run for each N that held nearly all of it, with gaps measured over the hold', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'msse-chart-'));
  try {
    const files: Record<string, object> = {
      '2026-01-01-00-00-00-20000.json': run('2026-01-01T00:00:00Z', 20_000, { settleSeconds: 15, serverBytes: 900 }),
      '2026-01-02-00-00-00-20000.json': run('2026-01-02T00:00:00Z', 20_000, { settleSeconds: 15, serverBytes: 700 }),
      // Before the settle window existed: not a point.
      '2026-01-03-00-00-00-200000.json': run('2026-01-03T00:00:00Z', 200_000),
      // A ramp that stalled far short, a quick run and a --compare run: not points either.
      '2026-01-04-00-00-00-1000000.json': run('2026-01-04T00:00:00Z', 1_000_000, { settleSeconds: 15, established: 331_150 }),
      // One that held nearly all of N is a point, at the number it held.
      '2026-01-09-00-00-00-2000000.json': run('2026-01-09T00:00:00Z', 2_000_000, { settleSeconds: 15, established: 1_953_120, serverBytes: 2300 }),
      '2026-01-05-00-00-00-3000.json': run('2026-01-05T00:00:00Z', 3_000, { settleSeconds: 2, quick: true }),
      '2026-01-06-00-00-00-18000.json': run('2026-01-06T00:00:00Z', 18_000, { settleSeconds: 15, comparison: {} }),
      '2026-01-07-00-00-00-250000.json': run('2026-01-07T00:00:00Z', 250_000, { settleSeconds: 15, serverBytes: 1200 }),
      // Gaps over the whole run, ramp included (before --measure-after): not a point.
      '2026-01-08-00-00-00-500000.json': run('2026-01-08T00:00:00Z', 500_000, { settleSeconds: 15, wholeRunGaps: true }),
    };
    for (const [name, body] of Object.entries(files)) await writeFile(path.join(dir, name), JSON.stringify(body));
    const points = await latestPerN(dir);
    assert.deepEqual(
      points.map((p) => [p.n, p.serverBytes]),
      [
        [20_000, 700],
        [250_000, 1200],
        [1_953_120, 2300],
      ],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
