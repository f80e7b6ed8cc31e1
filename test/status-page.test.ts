// The dashboard in a real browser, against a real cluster and a real Redis:
// what a person watching GET /status would see, including a Redis outage and
// a server restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { mkdir, rm, stat } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { ROOT, startCluster, type TestCluster } from './helpers/cluster.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { openSse, type RawStream } from './helpers/sse-client.js';
import { freePort, waitFor } from './helpers/wait.js';
import { launchChromium } from './helpers/browser.js';

// More than a thousand, so the count needs a separator; closing 234 of them
// leaves "1,000", the figure the original page read back as 1000.
const OPENED = 1_234;
const CLOSED = 234;
// The README's screenshot is refreshed on request (SCREENSHOT=1 npm test);
// otherwise it goes to a temporary folder, so a test run leaves the tree clean.
const SCREENSHOT = process.env.SCREENSHOT === '1' ? path.join(ROOT, 'docs/status.png') : path.join(os.tmpdir(), `million-sse-status-${process.pid}.png`);

// Each chart's first series, as status.js draws it.
const STROKES: Record<string, [number, number, number]> = {
  'chart-connections': [0xf7, 0x7f, 0x00],
  'chart-memory': [0x0f, 0xa3, 0xb1],
  'chart-ping': [0xe6, 0x39, 0x46],
};

/** Each chart has been resized to its box (status.js does it on the next ResizeObserver callback). */
const chartsFit = (page: Page): Promise<boolean> =>
  page.$$eval('.plot', (boxes) => boxes.every((box) => (box.firstElementChild as HTMLElement | null)!.offsetWidth <= (box as HTMLElement).clientWidth));

describe('GET /status, the dashboard', () => {
  let redis: TestRedis;
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;
  let port: number;
  const streams: RawStream[] = [];
  const pageErrors: string[] = [];
  // Chromium reports each Content-Security-Policy violation on the console.
  const cspViolations: string[] = [];
  let policy: string | undefined;
  const requested = new Set<string>();

  const clusterEnv = (): Record<string, string> => ({ PORT: String(port), REDIS_URL: redis.url, DRAIN_MS: '0' });

  const text = async (selector: string): Promise<string> => ((await page.textContent(selector)) ?? '').trim();

  async function waitForText(selector: string, match: string | RegExp, timeoutMs = 10_000): Promise<string> {
    let seen = '';
    await waitFor(
      async () => {
        seen = await text(selector);
        return typeof match === 'string' ? seen === match : match.test(seen);
      },
      { timeoutMs, what: `${selector} to read ${String(match)} (it reads "${seen}")` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen "${seen}"`);
    });
    return seen;
  }

  before(async () => {
    redis = await startRedis();
    port = await freePort();
    cluster = await startCluster(clusterEnv());
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => /Content Security Policy/i.test(message.text()) && cspViolations.push(message.text()));
    page.on('request', (request) => requested.add(new URL(request.url()).origin));
    const response = await page.goto(`http://127.0.0.1:${port}/status`);
    policy = response?.headers()['content-security-policy'];
  });

  after(async () => {
    for (const stream of streams) stream.close();
    await browser?.close();
    await cluster?.stop();
    await redis?.stop();
  });

  test('shows the live count with thousands separators, and the workers and hosts behind it', async () => {
    await waitForText('#link', 'Live');
    await waitForText('#connections', '0');
    for (let i = 0; i < OPENED; i++) streams.push(openSse(port));
    // The rate lasts one status event; it is read while the connections arrive.
    await waitForText('#rate-connects', /^[1-9][\d,.]*$/);
    await waitForText('#connections', '1,234');
    assert.equal(await text('#count-behind'), 'Held by 2 workers on 1 host.');
    assert.match(await page.title(), /^1,234 connections/);
    // The hosts table: this one, its whole share and both workers, as Redis has them.
    const hostRows = await page.$$eval('#hosts tr', (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent?.trim() ?? '')));
    assert.equal(hostRows.length, 1);
    const [name, connections, share, workers, lastReport] = hostRows[0]!;
    assert.match(name!, /\(this one\)$/);
    assert.equal(connections, '1,234');
    assert.match(share!, /^100(\.0)?\s?%/);
    assert.equal(workers, '2');
    assert.match(lastReport!, /^\d\.\d s ago$/);
    assert.equal(await text('#hosts-gone'), 'No host has left.');
  });

  test('reads "1,000" as one thousand, and shows connections closed per second', async () => {
    for (const stream of streams.splice(0, CLOSED)) stream.close();
    await waitForText('#rate-disconnects', /^[1-9][\d,.]*$/);
    await waitForText('#connections', '1,000');
    const rows = await page.$$eval('#workers tr', (trs) => trs.map((tr) => [...tr.children].map((cell) => cell.textContent ?? '')));
    assert.equal(rows.length, 2);
    const held = rows.reduce((sum, row) => sum + Number(row[2]!.replace(/,/g, '')), 0);
    assert.equal(held, 1_000, 'the workers hold every connection');
    const shares = rows.reduce((sum, row) => sum + Number.parseFloat(row[3]!), 0);
    assert.ok(Math.abs(shares - 100) < 0.2, `shares add up to 100 %, not ${shares}`);
    // Every worker's last second, down to its GC pauses (in ms, 0 included).
    for (const row of rows) assert.match(row.at(-1)!, /^\d[\d.,]* ms$/, `GC pauses cell of ${row[0]}`);
    assert.match(await text('#load-1'), new RegExp(`^\\d+\\.\\d\\d on ${os.availableParallelism()} cores?$`));
    assert.match(await text('#mem-cluster'), /^[\d.]+ MiB of [\d.]+ GiB$/);
    assert.equal(await text('#redis'), 'Reachable');
  });

  test('times one /ping a second from the browser and keeps the figures current', async () => {
    const first = Number((await waitForText('#ping-window', /^Over the last ([3-9]|\d\d+) pings/)).match(/\d+/)![0]);
    for (const id of ['#ping-median', '#ping-mean', '#ping-p99', '#ping-last']) {
      assert.match(await text(id), /^\d[\d.,]* ms$/, id);
    }
    await waitForText('#ping-window', new RegExp(`^Over the last (?!${first} )\\d+ pings`));
    // The cluster counted them: the browser's own pings are the served rate.
    await waitForText('#rate-pings', /^[1-9][\d,.]*$/);
  });

  test('draws real data on each chart', async () => {
    for (const [id, stroke] of Object.entries(STROKES)) {
      await waitFor(async () => Number(await page.getAttribute(`#${id}`, 'data-points')) >= 3, { what: `three points on #${id}` });
      // Pixels of the series' own colour: the axes and grid alone would not make them.
      const linePixels = await page.$eval(
        `#${id} canvas`,
        (canvas, [r, g, b]) => {
          const { data } = (canvas as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (canvas as HTMLCanvasElement).width, (canvas as HTMLCanvasElement).height);
          let n = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3]! > 200 && Math.abs(data[i]! - r) < 8 && Math.abs(data[i + 1]! - g) < 8 && Math.abs(data[i + 2]! - b) < 8) n++;
          }
          return n;
        },
        stroke,
      );
      assert.ok(linePixels > 20, `#${id} drew its line (${linePixels} pixels of its colour)`);
    }
  });

  test('fits a phone and a wall screen without overflowing, even at 10,000,000', async () => {
    for (const viewport of [
      { width: 360, height: 780 },
      { width: 2560, height: 1440 },
    ]) {
      await page.setViewportSize(viewport);
      await waitFor(() => chartsFit(page), { what: `the charts to fit ${viewport.width}x${viewport.height}` });
      const fits = await page.evaluate(async (formatUrl) => {
        const { formatCount } = (await import(formatUrl)) as { formatCount(n: number): string };
        const count = document.getElementById('connections')!;
        const shown = count.textContent;
        // Formatted as the page formats, measured, and put back in the same task.
        count.textContent = formatCount(10_000_000);
        const result = {
          text: count.textContent,
          countFits: count.scrollWidth <= count.clientWidth,
          pageFits: document.documentElement.scrollWidth <= window.innerWidth,
        };
        count.textContent = shown;
        return result;
      }, '/assets/status-format.js');
      assert.deepEqual(fits, { text: '10,000,000', countFits: true, pageFits: true }, `at ${viewport.width}x${viewport.height}`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    await waitFor(() => chartsFit(page), { what: 'the charts to fit 1280x900 again' });
  });

  test('renders a full-page screenshot (the README\'s, with SCREENSHOT=1)', async () => {
    await waitForText('#connections', '1,000');
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    // A blank or failed render is a few hundred bytes; the dashboard with its charts is tens of KB.
    assert.ok((await stat(SCREENSHOT)).size > 20_000, 'the screenshot is not blank');
    if (process.env.SCREENSHOT !== '1') await rm(SCREENSHOT, { force: true });
  });

  test('says when Redis is unreachable, keeps counting this host, and sees it come back', async () => {
    await redis.kill();
    await waitForText('#redis', 'Unreachable');
    assert.equal(await text('#count-behind'), 'This host only, from 2 workers: Redis is unreachable.');
    assert.equal(await text('#connections'), '1,000');
    await redis.restart();
    await waitForText('#redis', 'Reachable');
    // The workers put their shares back into the empty Redis.
    await waitForText('#connections', '1,000');
  });

  test('says it is disconnected while the cluster restarts, then carries on with its history', async () => {
    for (const stream of streams.splice(0)) stream.close();
    await waitForText('#connections', '0');
    const pointsBefore = Number(await page.getAttribute('#chart-connections', 'data-points'));

    cluster.child.kill('SIGTERM');
    await waitForText('#link', /^Disconnected/);
    assert.deepEqual(await cluster.exited, { code: 0, signal: null });
    await waitForText('#ping-last', 'failed');

    cluster = await startCluster(clusterEnv());
    await waitForText('#link', 'Live', 15_000);
    for (let i = 0; i < 5; i++) streams.push(openSse(port));
    await waitForText('#connections', '5');
    await waitForText('#ping-last', /^\d[\d.,]* ms$/);
    const pointsAfter = Number(await page.getAttribute('#chart-connections', 'data-points'));
    assert.ok(pointsAfter > pointsBefore, `the chart kept its ${pointsBefore} points and added more (${pointsAfter})`);
  });

  test('ran without a script error or a policy violation, and loaded everything, uPlot included, from the server itself', () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual([...requested], [`http://127.0.0.1:${port}`]);
    // Everything above ran under a policy that allows no inline script or style.
    assert.match(policy ?? '', /script-src 'self'/);
    assert.doesNotMatch(policy ?? '', /unsafe-inline/);
    assert.deepEqual(cspViolations, []);
  });
});
