// The hub from a real browser (headless Chromium): a page's EventSource with
// the token in an HttpOnly cookie, and a page of another origin subscribing
// with credentials, allowed or not by CORS_ORIGINS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { launchChromium } from './helpers/browser.js';
import { freePort } from './helpers/wait.js';
import { createServer, type Server } from 'node:http';
import { hubEnv, publish, publisherToken, subscriberToken } from './helpers/mercure.js';

// Another origin's pages, from a plain server on loopback: the same server
// is one origin as 127.0.0.1 and another as localhost. (Pages of a public
// origin would meet the browser's local-network-access rules first.)
let APP = '';
let EVIL = '';

/** Opens an EventSource in the page and resolves with the first message, or with why none came. */
function firstMessage(page: Page, url: string, withCredentials: boolean): Promise<{ data?: string; lastEventId?: string; failed?: boolean }> {
  return page.evaluate(
    ({ url, withCredentials }) =>
      new Promise((resolve) => {
        const source = new EventSource(url, { withCredentials });
        (window as unknown as { opened: Promise<void> }).opened = new Promise((open) => source.addEventListener('open', () => open()));
        source.onmessage = (event) => {
          source.close();
          resolve({ data: event.data, lastEventId: event.lastEventId });
        };
        // A CORS refusal is an error with the source closed for good.
        source.onerror = () => {
          if (source.readyState === EventSource.CLOSED) resolve({ failed: true });
        };
      }),
    { url, withCredentials },
  );
}

describe('the hub in a browser', () => {
  let redis: TestRedis;
  let cluster: TestCluster;
  let browser: Browser;
  let context: BrowserContext;
  let pub: string;
  let pages: Server;

  before(async () => {
    const pagePort = await freePort();
    APP = `http://127.0.0.1:${pagePort}`;
    EVIL = `http://localhost:${pagePort}`;
    pages = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'));
    await new Promise<void>((resolve) => pages.listen(pagePort, '127.0.0.1', resolve));
    redis = await startRedis();
    cluster = await startCluster(hubEnv({ REDIS_URL: redis.url, CORS_ORIGINS: APP, MERCURE_COOKIE_NAME: 'mercure_access_token' }));
    browser = await launchChromium();
    context = await browser.newContext();
    pub = await publisherToken();
  });

  after(async () => {
    await browser?.close();
    await cluster?.stop();
    await redis?.stop();
    pages?.close();
  });

  test("a page of the hub's own origin gets a private update with the token in an HttpOnly cookie", async () => {
    const hub = `http://127.0.0.1:${cluster.port}`;
    const topic = 'https://example.com/users/1/inbox';
    await context.addCookies([{ name: 'mercure_access_token', value: await subscriberToken([topic]), url: hub, httpOnly: true, sameSite: 'Strict' }]);
    const page = await context.newPage();
    // GET / answers a browser with the hub's page, not a stream that never ends.
    const response = await page.goto(`${hub}/`);
    assert.match((await response!.headerValue('content-type')) ?? '', /text\/html/);
    assert.match(await page.textContent('h1') ?? '', /million-sse/);
    const message = firstMessage(page, `/.well-known/mercure?match=${encodeURIComponent(topic)}`, false);
    await page.waitForFunction(() => (window as unknown as { opened?: Promise<void> }).opened !== undefined);
    await page.evaluate(() => (window as unknown as { opened: Promise<void> }).opened);
    const result = await publish(cluster.port, [['topic', topic], ['data', 'for user 1'], ['private', 'on']], pub);
    assert.deepEqual(await message, { data: 'for user 1', lastEventId: result.body });
    await page.close();
  });

  test('a page of an allowed origin subscribes with credentials; a page of any other origin is refused by the browser', async () => {
    const hubUrl = `http://127.0.0.1:${cluster.port}/.well-known/mercure?match=cors-topic`;
    const allowed = await context.newPage();
    await allowed.goto(`${APP}/`);
    const refused = await context.newPage();
    await refused.goto(`${EVIL}/`);
    const fromAllowed = firstMessage(allowed, hubUrl, true);
    const fromRefused = firstMessage(refused, hubUrl, true);
    await allowed.waitForFunction(() => (window as unknown as { opened?: Promise<void> }).opened !== undefined);
    await allowed.evaluate(() => (window as unknown as { opened: Promise<void> }).opened);
    assert.deepEqual(await fromRefused, { failed: true });
    const result = await publish(cluster.port, [['topic', 'cors-topic'], ['data', 'public']], pub);
    assert.deepEqual(await fromAllowed, { data: 'public', lastEventId: result.body });
  });
});
