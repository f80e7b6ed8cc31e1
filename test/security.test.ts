// What protects the status data: STATUS_TOKEN on /status_watcher and /metrics,
// the security headers on every response, and the dashboard asking for the
// token in a real browser. A real cluster on a real Redis throughout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { runPrimary, startCluster, type TestCluster } from './helpers/cluster.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { openSse, rawRequest } from './helpers/sse-client.js';
import { launchChromium } from './helpers/browser.js';
import { waitFor } from './helpers/wait.js';

const TOKEN = 'a-test-token-0123456789abcdef';

/** One request on its own connection, which the server closes after answering: the status, the headers and the body. */
async function get(port: number, target: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  const stream = rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${lines}\r\n`);
  try {
    await Promise.race([stream.closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer to ${target} within 5 s`)), 5_000))]);
    const [head = '', body = ''] = stream.text().split('\r\n\r\n');
    const [statusLine = '', ...headerLines] = head.split('\r\n');
    const parsed: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      parsed[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status: Number(statusLine.split(' ')[1]), headers: parsed, body };
  } finally {
    stream.close();
  }
}

describe('STATUS_TOKEN', () => {
  let redis: TestRedis;
  let cluster: TestCluster;

  before(async () => {
    redis = await startRedis();
    cluster = await startCluster({ REDIS_URL: redis.url, STATUS_TOKEN: TOKEN, DRAIN_MS: '0' });
  });
  after(async () => {
    await cluster?.stop();
    await redis?.stop();
  });

  for (const path of ['/status_watcher', '/metrics']) {
    test(`${path} without the token, or with a wrong one, is 401 with the catalogue's JSON error`, async () => {
      const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: `Basic ${TOKEN}` }];
      for (const headers of attempts) {
        const answer = await get(cluster.port, path, headers);
        assert.equal(answer.status, 401, JSON.stringify(headers));
        assert.equal(answer.headers['www-authenticate'], 'Bearer realm="million-sse"');
        const body = JSON.parse(answer.body) as { code: string; message: string };
        assert.equal(body.code, 'MSSE_UNAUTHORIZED');
        assert.match(body.message, /Authorization: Bearer <token> \(an EventSource on \/status_watcher: \?token=<token>\)/);
      }
      assert.equal((await get(cluster.port, `${path}?token=wrong`)).status, 401);
    });
  }

  test('/status_watcher opens with the token as a Bearer header (Prometheus, curl) or a query parameter (the page)', async () => {
    for (const stream of [
      rawRequest(cluster.port, `GET /status_watcher HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`),
      openSse(cluster.port, `/status_watcher?token=${encodeURIComponent(TOKEN)}`),
    ]) {
      await stream.waitForText(/^HTTP\/1\.1 200 [\s\S]*data: \{/);
      stream.close();
    }
  });

  test('/metrics answers with the token as a Bearer header, and never takes it in the query (a URL is kept by proxies and history)', async () => {
    // The first metrics come from the primary's first status second.
    let answer: Awaited<ReturnType<typeof get>> | undefined;
    await waitFor(async () => (answer = await get(cluster.port, '/metrics', { authorization: `Bearer ${TOKEN}` })).status !== 503, { what: 'the first metrics' });
    assert.equal(answer!.status, 200);
    assert.match(answer!.body, /msse_/);
    const inQuery = await get(cluster.port, `/metrics?token=${encodeURIComponent(TOKEN)}`);
    assert.equal(inQuery.status, 401);
    assert.equal(JSON.parse(inQuery.body).code, 'MSSE_UNAUTHORIZED');
  });

  test('the streams, /ping and the page itself need no token', async () => {
    const stream = openSse(cluster.port);
    await stream.waitForText('retry:');
    stream.close();
    assert.equal((await get(cluster.port, '/ping')).status, 204);
    assert.equal((await get(cluster.port, '/status')).status, 200);
  });

  test('the dashboard asks for the token once, keeps it for the tab, and goes live under the policy', async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(err.message));
      page.on('console', (message) => /Content Security Policy/i.test(message.text()) && problems.push(message.text()));
      await page.goto(`http://127.0.0.1:${cluster.port}/status`);
      await page.waitForSelector('#token-form:not([hidden])', { timeout: 10_000 });
      assert.equal((await page.textContent('#link'))?.trim(), 'Waiting for the status token');
      // A wrong token is asked for again.
      await page.fill('#token', 'not-the-token-0000000000');
      await page.click('#token-form button');
      await page.waitForSelector('#token-form:not([hidden])', { timeout: 10_000 });
      await page.fill('#token', TOKEN);
      await page.click('#token-form button');
      await page.waitForFunction(() => document.querySelector('#link')?.textContent === 'Live', undefined, { timeout: 10_000 });
      assert.equal(await page.isHidden('#token-form'), true);
      // A link cannot carry a header, and a token in a URL is kept by proxies and history: the link has none.
      assert.equal(await page.getAttribute('#metrics-link', 'href'), '/metrics');
      // A reload keeps it: no form again.
      await page.reload();
      await page.waitForFunction(() => document.querySelector('#link')?.textContent === 'Live', undefined, { timeout: 10_000 });
      assert.equal(await page.isHidden('#token-form'), true);
      assert.deepEqual(problems, []);
    } finally {
      await browser?.close();
    }
  });
});

describe('security headers', () => {
  let redis: TestRedis;
  let cluster: TestCluster;

  before(async () => {
    redis = await startRedis();
    cluster = await startCluster({ REDIS_URL: redis.url, DRAIN_MS: '0' });
  });
  after(async () => {
    await cluster?.stop();
    await redis?.stop();
  });

  test('on every response: the page, a file, /ping, an error, and the SSE streams', async () => {
    const stream = openSse(cluster.port);
    await stream.waitForText('\r\n\r\n');
    const streamHead = stream.text().split('\r\n\r\n')[0]!.toLowerCase();
    stream.close();
    for (const path of ['/status', '/assets/status.js', '/ping', '/nothing-here']) {
      const { headers } = await get(cluster.port, path);
      assert.match(headers['content-security-policy'] ?? '', /default-src 'self'/, path);
      assert.doesNotMatch(headers['content-security-policy'] ?? '', /unsafe-inline|upgrade-insecure-requests/, path);
      assert.equal(headers['x-content-type-options'], 'nosniff', path);
      assert.equal(headers['referrer-policy'], 'no-referrer', path);
      assert.equal(headers['strict-transport-security'], undefined, `${path}: HSTS is for whatever terminates TLS`);
    }
    assert.match(streamHead, /\r\nx-content-type-options: nosniff\r\n/);
    assert.match(streamHead, /\r\ncontent-type: text\/event-stream\r\n/);
  });

  test('public/ has no inline script or style left for the policy to block', async () => {
    const { readFile } = await import('node:fs/promises');
    const html = await readFile(new URL('../public/status.html', import.meta.url), 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'no style element, style attribute or inline handler');
  });
});

describe('start-up', () => {
  test('a STATUS_TOKEN too short to be a secret stops start-up, without printing it', async () => {
    const primary = runPrimary({ STATUS_TOKEN: 'hunter2', WORKERS: '1' });
    const { code } = await primary.exited;
    assert.equal(code, 1);
    const fatal = primary.logs.find((l) => l.level === 60);
    assert.match(fatal?.msg ?? '', /^STATUS_TOKEN="\(hidden\)" is not valid: expected 16 to 256 visible ASCII characters/);
    assert.ok(!JSON.stringify(primary.logs).includes('hunter2'));
  });

  test('listening beyond loopback without a token is warned about; with one, or on loopback, it is not', async () => {
    const redis = await startRedis();
    try {
      const warning = (cluster: TestCluster): boolean => cluster.logs.some((l) => l.level === 40 && /without STATUS_TOKEN/.test(l.msg));
      for (const [env, warned] of [
        [{ HOST: '0.0.0.0' }, true],
        [{ HOST: '0.0.0.0', STATUS_TOKEN: TOKEN }, false],
        [{ HOST: '127.0.0.1' }, false],
      ] as const) {
        const cluster = await startCluster({ REDIS_URL: redis.url, WORKERS: '1', DRAIN_MS: '0', ...env });
        try {
          await waitFor(() => cluster.logs.some((l) => l.msg.startsWith('million-sse listening')), { what: 'the listening line' });
          assert.equal(warning(cluster), warned, JSON.stringify(env));
        } finally {
          await cluster.stop();
        }
      }
    } finally {
      await redis.stop();
    }
  });
});
