// The hub's request parsing, without a server: publish fields, subscription
// queries, form bodies, matchers and the bytes of an event (spec: Publication,
// Subscription, Matcher Types, and Security Considerations).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseForm } from '../src/http/form-body.js';
import { parsePublishRequest } from '../src/hub/publish-request.js';
import { parseSubscribeRequest } from '../src/hub/subscribe-request.js';
import { parseMatcher, matcherMatches } from '../src/hub/matchers.js';
import { addressesHubNamespace } from '../src/hub/topic-rules.js';
import { eventFrame } from '../src/hub/event-frame.js';
import { SubscriptionIndex } from '../src/hub/subscription-index.js';
import type { Subscriber } from '../src/hub/subscriber.js';
import type { Socket } from 'node:net';

const BASE = 'https://hub.example.com/.well-known/mercure';
const PUBLISH = { maxTopics: 5, maxTopicLength: 64, base: BASE };
const SUBSCRIBE = { maxLength: 64, base: BASE, maxMatchers: 3, legacyTopicParameter: true };

function form(text: string) {
  return parseForm(Buffer.from(text, 'latin1'));
}

function publishStatus(text: string): number {
  try {
    parsePublishRequest(form(text), PUBLISH);
    return 200;
  } catch (err) {
    return (err as { statusCode: number }).statusCode;
  }
}

test('a publish form becomes an update: repeated topics in order, private by presence, the publisher id kept', () => {
  const update = parsePublishRequest(form('topic=a&topic=https%3A%2F%2Fe.com%2F1&data=x+y%0Az&private&id=v1&type=changed&retry=1500&unknown=1'), PUBLISH);
  assert.deepEqual(update, { topics: ['a', 'https://e.com/1'], data: 'x y\nz', private: true, id: 'v1', type: 'changed', retry: 1500 });
  assert.equal(parsePublishRequest(form('topic=a&private='), PUBLISH).private, true, 'an empty private= is private');
  assert.equal(parsePublishRequest(form('topic=a'), PUBLISH).private, false);
});

test('every field that could inject another SSE field, or is not text, is refused with 400', () => {
  for (const bad of ['%0D', '%0A', '%00', '%E2%80%8B' /* zero-width space, Cf */, '%C2%85' /* C1 NEL */]) {
    assert.equal(publishStatus(`topic=a${bad}b`), 400, `topic with ${bad}`);
    assert.equal(publishStatus(`topic=a&id=x${bad}`), 400, `id with ${bad}`);
    assert.equal(publishStatus(`topic=a&type=t${bad}`), 400, `type with ${bad}`);
  }
  assert.equal(publishStatus('topic=a&data=x%00y'), 400, 'NUL in data');
  assert.equal(publishStatus('topic=a&data=line1%0D%0Aline2'), 200, 'line breaks in data are fine: they become data lines');
});

test('the spec rejections of Publication: no topic, *, the reserved namespace, hub-like ids, reserved types, bad retry', () => {
  assert.equal(publishStatus('data=x'), 400);
  assert.equal(publishStatus('topic=*'), 400);
  for (const topic of [
    '/.well-known/mercure',
    '/.well-known/mercure/subscriptions/x',
    'https://other.example/.well-known/mercure/subscriptions',
    '/.well-known/%6Dercure/x',
    '/.well-known/mercure/../mercure/x',
    '/a/../.well-known/mercure',
    '/.well-known/%2E%2E/.well-known/mercure/x',
  ]) {
    assert.equal(publishStatus(`topic=${encodeURIComponent(topic)}`), 400, topic);
  }
  assert.equal(publishStatus(`topic=${encodeURIComponent('/.well-known/mercurex')}`), 200, 'a sibling path is not reserved');
  assert.equal(publishStatus('topic=a&id=%23frag'), 400);
  assert.equal(publishStatus('topic=a&id=earliest'), 400);
  assert.equal(publishStatus('topic=a&type=mercure'), 400);
  assert.equal(publishStatus('topic=a&type=million-sse.history-gap'), 400);
  assert.equal(publishStatus('topic=a&retry=-1'), 400);
  assert.equal(publishStatus('topic=a&retry=1e3'), 400);
});

test('limits answer 413: too many topics, a topic or id too long', () => {
  assert.equal(publishStatus(Array.from({ length: 6 }, (_, i) => `topic=t${i}`).join('&')), 413);
  assert.equal(publishStatus(`topic=${'x'.repeat(65)}`), 413);
  assert.equal(publishStatus(`topic=a&id=${'x'.repeat(65)}`), 413);
});

test('a form body that is not UTF-8, raw or percent-encoded, is a 400, never a silent U+FFFD', () => {
  assert.throws(() => parseForm(Buffer.from([0x74, 0x6f, 0x70, 0x69, 0x63, 0x3d, 0xff])), (err: { statusCode: number }) => err.statusCode === 400);
  assert.throws(() => form('topic=%C3'), (err: { statusCode: number }) => err.statusCode === 400);
  assert.throws(() => form('topic=%ED%A0%80'), (err: { statusCode: number }) => err.statusCode === 400, 'an encoded surrogate');
  assert.deepEqual(form('topic=%C3%A9t%C3%A9&x=100%'), [['topic', 'été'], ['x', '100%']]);
  assert.deepEqual(form('topic=caf\u00c3\u00a9'), [['topic', 'café']], 'raw UTF-8 bytes decode as UTF-8');
});

function subscribeStatus(query: string): number {
  try {
    parseSubscribeRequest(form(query), SUBSCRIBE);
    return 200;
  } catch (err) {
    return (err as { statusCode: number }).statusCode;
  }
}

test('a subscription query: match, match_exact, match_urlpattern, last_event_id; the whole match prefix is reserved', () => {
  const parsed = parseSubscribeRequest(form('match=a&match_exact=b&match_urlpattern=%2Fbooks%2F%3Aid&last_event_id=x&other=1&match=a'), SUBSCRIBE);
  assert.deepEqual(parsed.matchers.map((m) => m.kind), ['exact', 'exact', 'urlpattern'], 'a repeated matcher is kept once');
  assert.equal(parsed.lastEventId, 'x');
  for (const name of ['Match', 'matches', 'match_regex', 'match_URLPattern', 'MATCH_exact']) assert.equal(subscribeStatus(`${name}=a`), 400, name);
  assert.equal(subscribeStatus('other=1'), 400, 'no matcher at all');
  assert.equal(subscribeStatus('match=a%00'), 400, 'a control character');
  assert.equal(subscribeStatus('match=a%E2%80%8Eb'), 400, 'a format character (LRM)');
  assert.equal(subscribeStatus('match=a&match=b&match=c&match=d'), 400, 'more matchers than the limit');
  assert.equal(subscribeStatus(`match=${'x'.repeat(65)}`), 400, 'a matcher longer than the limit');
  assert.equal(subscribeStatus('match_urlpattern=https%3A%2F%2F%5B'), 400, 'not a URL pattern');
  const legacy = parseSubscribeRequest(form('topic=https%3A%2F%2Fe.com%2Fbooks%2F%7Bid%7D'), SUBSCRIBE);
  assert.equal(legacy.matchers[0]!.kind, 'urlpattern', "0.x's topic={id} template is a URL pattern");
});

test('URL patterns built to be slow are refused before they run; the allowed shapes stay fast on long topics', () => {
  const limits = { maxLength: 512, base: BASE };
  for (const slow of ['https://e.com/:a-:b-:c-:d-:e-:f-:g-:h', 'https://e.com/*-*-*-*x', 'https://e.com/:a(a+)+b', 'https://e.com/{:a}+', 'https://e.com/:a+/x']) {
    assert.throws(() => parseMatcher(slow, 'urlpattern', limits), /URL pattern/, slow);
  }
  // The shapes that remain: one variable between slashes, one * in all.
  const topic = `https://e.com/${'-'.repeat(300)}/${'a/'.repeat(100)}`;
  for (const ok of ['https://e.com/:a/:b/:c/x', 'https://e.com/*/:a/x', 'https://e.com/x-:a']) {
    const matcher = parseMatcher(ok, 'urlpattern', limits);
    const started = performance.now();
    for (let i = 0; i < 100; i++) matcherMatches(matcher, topic, BASE);
    // A bound two orders of magnitude above what it takes, against the
    // seconds the refused shapes take on a topic a fifth as long.
    assert.ok(performance.now() - started < 2_000, `${ok} stays cheap`);
  }
});

test('URL patterns: relative ones and relative topics resolve against the hub; exact is byte for byte; * matches all', () => {
  const limits = { maxLength: 512, base: BASE };
  const relative = parseMatcher('/books/:id', 'urlpattern', limits);
  assert.equal(matcherMatches(relative, '/books/1', BASE), true);
  assert.equal(matcherMatches(relative, 'https://hub.example.com/books/1', BASE), true);
  assert.equal(matcherMatches(relative, 'https://other.example/books/1', BASE), false);
  assert.equal(matcherMatches(parseMatcher('https://e.com/Books/:id', 'urlpattern', limits), 'https://e.com/books/1', BASE), false, 'no ignoreCase');
  const exact = parseMatcher('https://e.com/a', 'exact', limits);
  assert.equal(matcherMatches(exact, 'https://e.com/a', BASE), true);
  assert.equal(matcherMatches(exact, 'https://E.com/a', BASE), false, 'no normalisation');
  assert.equal(matcherMatches(parseMatcher('*', 'exact', limits), 'anything', BASE), true);
  assert.equal(addressesHubNamespace('not a url \u0000', BASE), false);
});

test("an event's bytes: one data line per payload line, the publisher's id, type and retry, nothing injected", () => {
  const frame = eventFrame({ entryId: '5-0', topics: ['a'], data: 'one\r\ntwo\rthree\n\n  four', private: false, id: 'v1', type: 't', retry: 10 });
  assert.equal(frame.toString(), 'id: v1\nevent: t\nretry: 10\ndata: one\ndata: two\ndata: three\ndata: \ndata:   four\n\n');
  const generated = eventFrame({ entryId: '5-1', topics: ['a'], data: '', private: false, id: undefined, type: undefined, retry: undefined });
  assert.equal(generated.toString(), 'id: #5-1\ndata: \n\n');
});

test('the index selects each subscriber once, testing each distinct pattern once per update', () => {
  const limits = { maxLength: 512, base: BASE };
  const index = new SubscriptionIndex(BASE);
  const sub = (name: string, ...matchers: ReturnType<typeof parseMatcher>[]): Subscriber => ({
    socket: { name } as unknown as Socket,
    matchers,
    grants: undefined,
    waiting: undefined,
    replayedThrough: undefined,
  });
  const pattern = parseMatcher('https://e.com/b/:id', 'urlpattern', limits);
  let tests = 0;
  const counting = new Proxy(pattern, {
    get(target, key) {
      if (key === 'pattern') {
        const real = (target as { pattern: URLPattern }).pattern;
        return { test: (...args: Parameters<URLPattern['test']>) => (tests++, real.test(...args)) };
      }
      return Reflect.get(target, key);
    },
  });
  const both = sub('both', parseMatcher('https://e.com/b/1', 'exact', limits), counting);
  const many = Array.from({ length: 50 }, (_, i) => sub(`p${i}`, counting));
  const other = sub('other', parseMatcher('x', 'exact', limits));
  for (const s of [both, ...many, other]) index.add(s);
  const chosen = index.select(['https://e.com/b/1']);
  assert.equal(chosen.length, 51);
  assert.equal(new Set(chosen).size, 51, 'no subscriber twice');
  assert.equal(tests, 1, 'one pattern test for 51 subscribers');
  index.remove(both);
  for (const s of many) index.remove(s);
  assert.equal(index.distinctPatterns, 0);
  assert.deepEqual(index.select(['x']), [other]);
});
