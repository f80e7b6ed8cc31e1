// The Mercure hub end to end: a real cluster of two workers, a real Redis,
// publishers over HTTP and subscribers on raw sockets. What a publisher and a
// subscriber would notice: who gets which update, in which order, what each
// rejection says, and what a reconnecting client gets back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';
import { nextStatus } from './helpers/sse-client.js';
import {
  SUBSCRIBER_SECRET,
  hubEnv,
  publish,
  publisherToken,
  subscribe,
  subscriberToken,
  token,
  type Subscription,
} from './helpers/mercure.js';

const HISTORY_KEY = 'mercure:history';
const ALLOWED_ORIGIN = 'https://app.test';

async function opened(subscription: Subscription): Promise<number> {
  await waitFor(() => subscription.head() !== undefined || subscription.isClosed(), { what: 'the response head' });
  return subscription.head()?.status ?? 0;
}

describe('the Mercure hub on a two-worker cluster', () => {
  let redis: TestRedis;
  let cluster: TestCluster;
  let port: number;
  let pub: string;
  const open: Subscription[] = [];

  const sub = (query: string, headers: Record<string, string> = {}, options: { read?: boolean } = {}): Subscription => {
    const s = subscribe(port, query, headers, options);
    open.push(s);
    return s;
  };

  before(async () => {
    redis = await startRedis();
    cluster = await startCluster(
      hubEnv({ REDIS_URL: redis.url, HEARTBEAT_MS: '1000', CORS_ORIGINS: ALLOWED_ORIGIN, MERCURE_MAX_PENDING_PUBLISHES: '4', MERCURE_COOKIE_NAME: 'mercure_access_token' }),
    );
    port = cluster.port;
    pub = await publisherToken();
  });

  after(async () => {
    for (const s of open) s.close();
    await cluster?.stop();
    await redis?.stop();
  });

  test('an update published on either worker reaches every matching subscriber on both, in order, each once', async () => {
    const topic = `https://example.com/books/${Date.now()}`;
    const subscribers: Subscription[] = [];
    // SO_REUSEPORT spreads connections at random: open until both workers hold some.
    await waitFor(
      async () => {
        const s = sub(`match=${encodeURIComponent(topic)}`);
        assert.equal(await opened(s), 200);
        subscribers.push(s);
        const status = await nextStatus(port, (e) => e.hub.subscribers >= subscribers.length);
        return subscribers.length >= 6 && status.perWorker.every((w) => w.subscribers > 0);
      },
      { what: 'subscribers on both workers', timeoutMs: 30_000, intervalMs: 1 },
    );
    const others = sub('match=unrelated');
    await opened(others);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      // A new connection each time, so that the publishes land on both workers.
      const result = await publish(port, [['topic', topic], ['data', `update ${i}`]], pub, { connection: 'close' });
      assert.equal(result.status, 200, result.body);
      assert.match(result.headers.get('content-type') ?? '', /^text\/plain; charset=utf-8$/);
      ids.push(result.body);
    }
    for (const s of subscribers) {
      const events = await s.waitForEvents(30);
      assert.deepEqual(events.map((e) => e.id), ids);
      assert.deepEqual(events.map((e) => e.data), ids.map((_, i) => `update ${i}`));
    }
    assert.equal(others.events().length, 0);
    const held = open.filter((s) => !s.isClosed()).length;
    await waitFor(async () => Number(await redis.client.get('connections')) === held, { what: `subscribers counted in Redis like GET / streams (${held})` });
  });

  test('each bad request gets its own status and challenge, and a later good update still arrives alone', async () => {
    const watcher = sub('match=guarded');
    await opened(watcher);
    const expired = await token({ publish: ['*'], exp: Math.floor(Date.now() / 1000) - 5 });
    const otherAudience = await token({ publish: ['*'], audience: 'https://elsewhere.test/.well-known/mercure' });
    const subscriberKey = await token({ publish: ['*'], secret: SUBSCRIBER_SECRET });
    const narrow = await token({ publish: ['allowed'] });
    const none = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"authorization_details":[]}').toString('base64url')}.`;
    const cases: Array<[string, Promise<{ status: number; headers: Headers }>, number, RegExp | undefined]> = [
      ['no token', publish(port, [['topic', 'guarded']], undefined), 401, /^Bearer resource_metadata="/],
      ['alg none', publish(port, [['topic', 'guarded']], none), 401, /error="invalid_token"/],
      ['expired', publish(port, [['topic', 'guarded']], expired), 401, /error="invalid_token"/],
      ['another audience', publish(port, [['topic', 'guarded']], otherAudience), 401, /error="invalid_token"/],
      ["the subscriber's key", publish(port, [['topic', 'guarded']], subscriberKey), 401, /error="invalid_token"/],
      ['a topic not granted', publish(port, [['topic', 'allowed'], ['topic', 'guarded']], narrow), 403, /error="insufficient_scope"/],
      ['not Bearer', publish(port, [['topic', 'guarded']], undefined, { authorization: 'Basic dTpw' }), 400, /error="invalid_request"/],
      ['a 1 MB data field', publish(port, [['topic', 'guarded'], ['data', 'x'.repeat(1024 * 1024)]], pub), 413, undefined],
      ['10,000 topics', publish(port, Array.from({ length: 10_000 }, (_, i): [string, string] => ['topic', `t${i}`]), pub), 413, undefined],
      ['invalid UTF-8', publish(port, 'topic=guarded&data=%FF%FE', pub), 400, undefined],
      ['CR LF in the id', publish(port, [['topic', 'guarded'], ['id', 'a\r\nevent: x']], pub), 400, undefined],
      ['NUL in the topic', publish(port, [['topic', 'guar\0ded']], pub), 400, undefined],
      ['the reserved namespace', publish(port, [['topic', '/.well-known/mercure/subscriptions/x']], pub), 400, undefined],
      ['not a form', publish(port, '{}', pub, { 'content-type': 'application/json' }), 415, undefined],
    ];
    for (const [what, pending, status, challenge] of cases) {
      const result = await pending;
      assert.equal(result.status, status, what);
      if (challenge !== undefined) assert.match(result.headers.get('www-authenticate') ?? '', challenge, what);
    }
    for (const [query, what] of [
      ['match_regex=a', 'an unknown matcher type'],
      [`match_urlpattern=${encodeURIComponent('https://e.com/:a-:b-:c-:d-:e-:f')}`, 'a URL pattern built to be slow'],
      ['match=%00', 'a control character'],
      ['other=1', 'no matcher'],
    ] as const) {
      const s = sub(query);
      assert.equal(await opened(s), 400, what);
    }
    const badToken = sub('match=guarded', { authorization: `Bearer ${expired}` });
    assert.equal(await opened(badToken), 401, 'an expired token is refused, not taken as anonymous');
    const good = await publish(port, [['topic', 'guarded'], ['data', 'the one']], pub);
    assert.equal(good.status, 200);
    const events = await watcher.waitForEvents(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(watcher.events().map((e) => e.data), ['the one'], 'no refused update reached the subscriber');
    assert.equal(events[0]!.id, good.body);
    assert.ok((await fetch(`http://127.0.0.1:${port}/ping`)).ok);
  });

  test('private updates reach only tokens that grant one of their topics, by header or cookie, live and on replay', async () => {
    const topic = `https://example.com/private/${Date.now()}`;
    const alternate = 'https://example.com/users/42/inbox';
    const anonymous = sub(`match=${encodeURIComponent(topic)}`);
    const byHeader = sub(`match=${encodeURIComponent(topic)}`, { authorization: `Bearer ${await subscriberToken([topic])}` });
    // Granted on the alternate topic only: the spec's per-user inbox case.
    const byCookie = sub(`match=${encodeURIComponent(topic)}`, { cookie: `x=1; mercure_access_token=${await subscriberToken(['https://example.com/users/42/:rest'.replace(':rest', 'inbox')])}` });
    const otherUser = sub(`match=${encodeURIComponent(topic)}`, { authorization: `Bearer ${await subscriberToken(['https://example.com/users/7/inbox'])}` });
    for (const s of [anonymous, byHeader, byCookie, otherUser]) assert.equal(await opened(s), 200);
    const first = await publish(port, [['topic', topic], ['data', 'public 1']], pub);
    await publish(port, [['topic', topic], ['topic', alternate], ['data', 'secret'], ['private', '']], pub);
    await publish(port, [['topic', topic], ['data', 'public 2']], pub);
    assert.deepEqual((await byHeader.waitForEvents(3)).map((e) => e.data), ['public 1', 'secret', 'public 2']);
    assert.deepEqual((await byCookie.waitForEvents(3)).map((e) => e.data), ['public 1', 'secret', 'public 2']);
    assert.deepEqual((await anonymous.waitForEvents(2)).map((e) => e.data), ['public 1', 'public 2']);
    assert.deepEqual((await otherUser.waitForEvents(2)).map((e) => e.data), ['public 1', 'public 2']);
    // On replay, with the token of now: anonymous again gets no secret.
    const replayAnonymous = sub(`match=${encodeURIComponent(topic)}`, { 'last-event-id': first.body });
    const replayGranted = sub(`match=${encodeURIComponent(topic)}`, { 'last-event-id': first.body, authorization: `Bearer ${await subscriberToken([topic])}` });
    assert.deepEqual((await replayAnonymous.waitForEvents(1)).map((e) => e.data), ['public 2']);
    assert.deepEqual((await replayGranted.waitForEvents(2)).map((e) => e.data), ['secret', 'public 2']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(replayAnonymous.events().length, 1);
  });

  test('replay: Last-Event-ID or last_event_id, Mercure-Last-Event-ID, earliest, and an unknown or trimmed id said in-band', async () => {
    const topic = `replay-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await publish(port, [['topic', topic], ['data', `r${i}`], ...(i === 2 ? [['id', `custom-${topic}`] as [string, string]] : [])], pub)).body);
    assert.equal(ids[2], `custom-${topic}`, "the publisher's id is kept");
    const q = `match=${topic}`;
    const byHeader = sub(q, { 'last-event-id': ids[1]! });
    assert.deepEqual((await byHeader.waitForEvents(3)).map((e) => e.data), ['r2', 'r3', 'r4']);
    assert.equal(byHeader.head()!.headers.get('mercure-last-event-id'), ids[1]);
    const byQuery = sub(`${q}&last_event_id=${encodeURIComponent(ids[2]!)}`);
    assert.deepEqual((await byQuery.waitForEvents(2)).map((e) => e.data), ['r3', 'r4'], "a publisher's id is found in the history");
    const headerWins = sub(`${q}&last_event_id=${encodeURIComponent(ids[0]!)}`, { 'last-event-id': ids[3]! });
    assert.deepEqual((await headerWins.waitForEvents(1)).map((e) => e.data), ['r4']);
    const earliest = sub(`${q}&last_event_id=earliest`);
    assert.deepEqual((await earliest.waitForEvents(5)).map((e) => e.data), ['r0', 'r1', 'r2', 'r3', 'r4']);
    assert.equal(earliest.head()!.headers.get('mercure-last-event-id'), 'earliest');
    const unknown = sub(q, { 'last-event-id': 'never-published' });
    const unknownEvents = await unknown.waitForEvents(6);
    assert.equal(unknown.head()!.headers.get('mercure-last-event-id'), 'earliest');
    assert.equal(unknownEvents[0]!.event, 'million-sse.history-gap');
    assert.deepEqual(JSON.parse(unknownEvents[0]!.data), { requested: 'never-published', reason: 'unknown' });
    assert.equal(unknownEvents[0]!.id, undefined, 'the notice carries no id, so the client keeps its own');
    assert.deepEqual(unknownEvents.slice(1).map((e) => e.data), ['r0', 'r1', 'r2', 'r3', 'r4']);
    const live = sub(q);
    assert.equal(await opened(live), 200);
    assert.equal(live.head()!.headers.get('mercure-last-event-id'), undefined, 'only a reconnecting request gets the header');
    // The history trimmed past a client's id (as HISTORY_SIZE does to old updates).
    await redis.client.xtrim(HISTORY_KEY, 'MAXLEN', 2);
    const trimmed = sub(q, { 'last-event-id': ids[0]! });
    const trimmedEvents = await trimmed.waitForEvents(3);
    assert.deepEqual(JSON.parse(trimmedEvents[0]!.data), { requested: ids[0], reason: 'trimmed' });
    assert.deepEqual(trimmedEvents.slice(1).map((e) => e.data), ['r3', 'r4']);
  });

  test('a subscriber that reconnects with its last id while updates keep coming misses none and gets none twice', async () => {
    const topic = `continuous-${Date.now()}`;
    const total = 150;
    const received: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let i = 0; i < total; i++) assert.equal((await publish(port, [['topic', topic], ['data', String(i)]], pub)).status, 200);
      publishing = false;
    })();
    let lastId: string | undefined;
    for (let round = 0; publishing || round === 0; round++) {
      const s = sub(`match=${topic}`, lastId === undefined ? {} : { 'last-event-id': lastId });
      await opened(s);
      // Read for a moment, then drop the connection as a network would.
      await new Promise((resolve) => setTimeout(resolve, 30 + (round % 3) * 40));
      s.close();
      for (const e of s.events()) {
        received.push(e.data);
        lastId = e.id;
      }
      if (round === 0) lastId ??= 'earliest';
    }
    await publisher;
    const tail = sub(`match=${topic}`, { 'last-event-id': lastId! });
    await waitFor(() => received.length + tail.events().length >= total, { what: `all ${total} updates (have ${received.length} + ${tail.events().length})` });
    received.push(...tail.events().map((e) => e.data));
    assert.deepEqual(received, Array.from({ length: total }, (_, i) => String(i)));
  });

  test("a subscriber's stream ends when its token expires", async () => {
    const exp = Math.floor(Date.now() / 1000) + 3;
    const s = sub('match=expiring', { authorization: `Bearer ${await subscriberToken(['expiring'], exp)}` });
    assert.equal(await opened(s), 200);
    await s.closed;
    // The spec: no later than exp (a little slack for the message to cross the loopback).
    assert.ok(Date.now() <= exp * 1000 + 100, `closed ${Date.now() - exp * 1000} ms after exp`);
  });

  test('a stream that gets updates more often than HEARTBEAT_MS gets no heartbeat; an idle one does', async () => {
    const busy = sub('match=busy');
    const idle = sub('match=idle');
    await opened(busy);
    await opened(idle);
    const heartbeats = (s: Subscription): number => s.text().split('\r\n\r\n')[1]!.split('\n\n').filter((block) => block === ':').length;
    const started = Date.now();
    // HEARTBEAT_MS is 1000 in this cluster: an update every 150 ms for 3 s.
    while (Date.now() - started < 3_000) {
      assert.equal((await publish(port, [['topic', 'busy'], ['data', 'x']], pub)).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    assert.ok(busy.events().length >= 10);
    assert.equal(heartbeats(busy), 0, 'no heartbeat between updates');
    assert.ok(heartbeats(idle) >= 2, `the idle stream got its heartbeats (${heartbeats(idle)})`);
  });

  test('CORS: an allowed origin gets its own origin back with credentials, any other gets no CORS header', async () => {
    const preflight = await fetch(`http://127.0.0.1:${port}/.well-known/mercure`, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const refused = await fetch(`http://127.0.0.1:${port}/.well-known/mercure`, { method: 'OPTIONS', headers: { origin: 'https://evil.test' } });
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    const allowed = sub('match=cors', { origin: ALLOWED_ORIGIN });
    const other = sub('match=cors', { origin: 'https://evil.test' });
    await opened(allowed);
    await opened(other);
    assert.equal(allowed.head()!.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal(allowed.head()!.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(other.head()!.headers.get('access-control-allow-origin'), undefined);
    // A publish by cookie must come from an allowed origin (CSRF).
    const cookie = `mercure_access_token=${await token({ publish: ['*'] })}`;
    assert.equal((await publish(port, [['topic', 'cors']], undefined, { cookie, origin: 'https://evil.test' })).status, 400);
    assert.equal((await publish(port, [['topic', 'cors']], undefined, { cookie, origin: ALLOWED_ORIGIN })).status, 200);
  });

  test('a subscriber that stops reading is dropped, the rest are not slowed, and its last id brings back what it missed', async () => {
    const topic = `slow-${Date.now()}`;
    const stalled = sub(`match=${topic}`, {}, { read: false });
    const reader = sub(`match=${topic}`);
    await waitFor(() => stalled.chunks.length === 0 && reader.head() !== undefined, { what: 'both subscribed' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ids: string[] = [];
    const payload = 'y'.repeat(100_000);
    const dropped = async (): Promise<number> => {
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return Number(/^msse_mercure_dropped_subscribers_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    };
    const droppedBefore = await dropped();
    // Enough to fill the kernel's buffers on both ends (several MB on loopback) and then MAX_UNSENT_BYTES.
    for (let i = 0; i < 400; i++) {
      ids.push((await publish(port, [['topic', topic], ['data', `${i}:${payload}`]], pub)).body);
      if (i % 10 === 9 && (await dropped()) > droppedBefore) break;
    }
    await waitFor(async () => (await dropped()) > droppedBefore, { what: 'the stalled subscriber to be dropped' });
    // A client that does not read cannot see its reset either; once it reads, it does.
    stalled.socket.resume();
    await stalled.closed;
    assert.equal((await reader.waitForEvents(ids.length, 20_000)).length, ids.length);
    const back = sub(`match=${topic}`, { 'last-event-id': ids[0]! });
    assert.equal((await back.waitForEvents(ids.length - 1, 20_000)).length, ids.length - 1);
  });

  test('a publish flood is bounded: past MERCURE_MAX_PENDING_PUBLISHES a worker answers 503, the rest are stored, /ping answers', async () => {
    const topic = `flood-${Date.now()}`;
    const before = await redis.client.xlen(HISTORY_KEY);
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => publish(port, [['topic', topic], ['data', String(i)]], pub).catch(() => ({ status: 0, body: '', headers: new Headers() }))));
    const ping = await fetch(`http://127.0.0.1:${port}/ping`);
    assert.ok(ping.ok);
    const ok = results.filter((r) => r.status === 200).length;
    const busy = results.filter((r) => r.status === 503);
    assert.equal(ok + busy.length, 300, `only 200 or 503: ${[...new Set(results.map((r) => r.status))].join(',')}`);
    assert.ok(busy.length > 0, 'some publishes were turned away');
    assert.ok(busy.every((r) => r.headers.get('retry-after') !== null));
    assert.equal((await redis.client.xlen(HISTORY_KEY)) - before, ok, 'exactly the acknowledged updates were stored');
  });

  test('GET / gives a browser a page and EventSource the stream; the metadata and metrics name the hub', async () => {
    const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /\/\.well-known\/mercure/);
    const stream = await fetch(`http://127.0.0.1:${port}/`, { headers: { accept: 'text/event-stream' } });
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    await stream.body?.cancel();
    const metadata = (await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/.well-known/mercure`)).json()) as Record<string, unknown>;
    assert.equal(metadata.resource, 'https://hub.test/.well-known/mercure');
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const name of ['msse_mercure_updates_published_total', 'msse_mercure_deliveries_total', 'msse_mercure_subscribers', 'msse_mercure_history_length', 'msse_mercure_fan_out_seconds']) {
      assert.match(metrics, new RegExp(`^${name}`, 'm'), name);
    }
  });
});
