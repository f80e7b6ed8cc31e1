// Access tokens as the hub checks them (spec: Authorization, Token Validation,
// Authorization Details), with real keys and real JWS from jose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { TokenVerifier, presentedToken, type Grants } from '../src/hub/authorization.js';
import { matcherMatches } from '../src/hub/matchers.js';
import { loadMercureConfig } from '../src/config/mercure-config.js';

const HUB = 'https://hub.example.com/.well-known/mercure';
const SECRET = 'a-publisher-secret-of-at-least-32-bytes!';
const OTHER_SECRET = 'a-subscriber-secret-of-at-least-32-bytes';
const DETAIL = 'https://mercure.rocks/authorization-detail';
const options = { legacyTokens: true, trustedIssuers: ['https://issuer.example'], limits: { maxLength: 512, base: HUB }, maxTopics: 100 };

function hs256(secret: string, options_: VerifierOverrides = {}): TokenVerifier {
  return new TokenVerifier({ kind: 'secret', alg: 'HS256', secret }, { ...options, ...options_ });
}
type VerifierOverrides = Partial<typeof options>;

function accessToken(claims: Record<string, unknown>, { typ = 'at+jwt', alg = 'HS256', exp = '1h' }: { typ?: string; alg?: string; exp?: string | number } = {}) {
  return new SignJWT(claims).setProtectedHeader({ alg, typ }).setIssuer('https://issuer.example').setAudience(HUB).setExpirationTime(exp);
}

const grantsAll = [{ type: DETAIL, actions: ['publish', 'subscribe'], topics: [{ match: '*' }] }];
const key = new TextEncoder().encode(SECRET);

async function refusal(verifier: TokenVerifier, token: string, audience = HUB): Promise<string> {
  try {
    await verifier.verify(token, audience);
    return 'accepted';
  } catch (err) {
    return (err as { failure?: string }).failure ?? String(err);
  }
}

function grants(g: Grants, action: 'publish' | 'subscribe', topic: string): boolean {
  return g[action].some((m) => matcherMatches(m, topic, HUB));
}

test('a 1.0 access token grants what its authorization details say, and nothing else', async () => {
  const token = await accessToken({
    authorization_details: [
      { type: DETAIL, actions: ['publish'], topics: [{ match: 'https://e.com/books/:id', match_type: 'urlpattern' }] },
      { type: DETAIL, actions: ['subscribe', 'future-action'], topics: [{ match: 'https://e.com/users/42' }] },
      { type: 'https://other.example/detail', actions: ['publish'], topics: [{ match: '*' }] },
    ],
  }).sign(key);
  const g = await hs256(SECRET).verify(token, HUB);
  assert.equal(grants(g, 'publish', 'https://e.com/books/7'), true);
  assert.equal(grants(g, 'publish', 'https://e.com/users/42'), false);
  assert.equal(grants(g, 'subscribe', 'https://e.com/users/42'), true);
  assert.equal(grants(g, 'subscribe', 'https://e.com/books/7'), false, 'another type of detail grants nothing');
  assert.ok(g.expiresAt! > Date.now());
});

test('the token the conformance suite sends (aud, iss, exp and details only) is accepted', async () => {
  // No sub, client_id, iat or jti: the reference hub accepts it, and so do we.
  const token = await accessToken({ authorization_details: grantsAll }).sign(key);
  const g = await hs256(SECRET).verify(token, HUB);
  assert.equal(grants(g, 'publish', 'anything'), true);
});

test('every invalid token is invalid_token: none, expired, another audience, another issuer, another key, not an access token', async () => {
  const verifier = hs256(SECRET);
  assert.equal(await refusal(verifier, new UnsecuredJWT({ authorization_details: grantsAll }).setIssuer('https://issuer.example').setAudience(HUB).setExpirationTime('1h').encode()), 'invalid_token', 'alg none');
  assert.equal(await refusal(verifier, await accessToken({ authorization_details: grantsAll }, { exp: Math.floor(Date.now() / 1000) - 60 }).sign(key)), 'invalid_token', 'expired');
  assert.equal(await refusal(verifier, await accessToken({ authorization_details: grantsAll }).sign(key), 'https://another.example/.well-known/mercure'), 'invalid_token', 'another audience');
  assert.equal(
    await refusal(verifier, await new SignJWT({ authorization_details: grantsAll }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).setIssuer('https://evil.example').setAudience(HUB).setExpirationTime('1h').sign(key)),
    'invalid_token',
    'an issuer not trusted',
  );
  assert.equal(await refusal(verifier, await accessToken({ authorization_details: grantsAll }).sign(new TextEncoder().encode(OTHER_SECRET))), 'invalid_token', "the subscriber's key, shown as a publisher's");
  assert.equal(await refusal(verifier, await new SignJWT({ authorization_details: grantsAll }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).setIssuer('https://issuer.example').setAudience(HUB).sign(key)), 'invalid_token', 'no exp');
  assert.equal(await refusal(verifier, await accessToken({ authorization_details: grantsAll }, { alg: 'HS512' }).sign(key)), 'invalid_token', 'an algorithm not configured');
  assert.equal(await refusal(verifier, await accessToken({ authorization_details: grantsAll }, { typ: 'JWT+ID' }).sign(key)), 'invalid_token', 'another typ');
  assert.equal(await refusal(verifier, 'not.a.token'), 'invalid_token');
});

test('a malformed Mercure detail rejects the whole token: no partial grants', async () => {
  const verifier = hs256(SECRET);
  const bad = [
    [{ type: DETAIL, actions: ['publish'], topics: [{ match: 'a', match_type: 'regex' }] }],
    [{ type: DETAIL, actions: ['publish', 3], topics: [{ match: 'a' }] }],
    [{ type: DETAIL, actions: [], topics: [{ match: 'a' }] }],
    [{ type: DETAIL, actions: ['publish'], topics: ['a'] }],
    [{ type: DETAIL, actions: ['publish'], topics: [] }],
    [{ type: DETAIL, actions: ['publish'], topics: [{ match: 'https://e.com/:a-:b-:c', match_type: 'urlpattern' }] }],
    [grantsAll[0], { type: DETAIL, actions: ['subscribe'], topics: [{ match: null }] }],
    { type: DETAIL },
  ];
  for (const details of bad) {
    assert.equal(await refusal(verifier, await accessToken({ authorization_details: details }).sign(key)), 'invalid_token', JSON.stringify(details));
  }
});

test('0.x tokens (typ JWT, the mercure claim) are accepted with MERCURE_LEGACY_TOKENS, refused without', async () => {
  const legacy = await new SignJWT({ mercure: { publish: ['https://e.com/books/{id}'], subscribe: ['*'] } })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(key);
  // No iss, aud or exp: 0.x hubs did not ask for them.
  const g = await hs256(SECRET).verify(legacy, 'https://anywhere.example/.well-known/mercure');
  assert.equal(grants(g, 'publish', 'https://e.com/books/1'), true);
  assert.equal(grants(g, 'publish', 'https://e.com/users/1'), false);
  assert.equal(grants(g, 'subscribe', 'anything'), true);
  assert.equal(g.expiresAt, undefined);
  assert.equal(await refusal(hs256(SECRET, { legacyTokens: false }), legacy), 'invalid_token');
  const expired = await new SignJWT({ mercure: { publish: ['*'] } }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(key);
  assert.equal(await refusal(hs256(SECRET), expired), 'invalid_token', 'a 0.x token still expires');
});

test('RS256 with a PEM public key and ES256 from a JWKS file, as MERCURE_*_JWT_KEY and MERCURE_*_JWKS_FILE give them', async () => {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'msse-jwks-'));
  const jwksFile = path.join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(ec.publicKey)), kid: 'k1', alg: 'ES256' }] }));
  const config = loadMercureConfig({
    MERCURE_PUBLISHER_JWT_KEY: await exportSPKI(rsa.publicKey),
    MERCURE_PUBLISHER_JWT_ALG: 'RS256',
    MERCURE_SUBSCRIBER_JWKS_FILE: jwksFile,
  });
  const publisher = new TokenVerifier(config.publisherKey!, options);
  const subscriber = new TokenVerifier(config.subscriberKey!, options);
  const rsToken = await accessToken({ authorization_details: grantsAll }, { alg: 'RS256' }).sign(rsa.privateKey);
  const esToken = await new SignJWT({ authorization_details: grantsAll }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }).setIssuer('https://issuer.example').setAudience(HUB).setExpirationTime('1h').sign(ec.privateKey);
  assert.equal(grants(await publisher.verify(rsToken, HUB), 'publish', 'x'), true);
  assert.equal(grants(await subscriber.verify(esToken, HUB), 'subscribe', 'x'), true);
  assert.equal(await refusal(publisher, esToken), 'invalid_token', 'an ES256 token against an RS256 key');
  assert.equal(await refusal(subscriber, rsToken), 'invalid_token');
  // HS256 signed with the RSA public key's PEM as a secret: the classic algorithm confusion.
  const confused = await accessToken({ authorization_details: grantsAll }).sign(new TextEncoder().encode(await exportSPKI(rsa.publicKey)));
  assert.equal(await refusal(publisher, confused), 'invalid_token', 'HS256 keyed with the public key');
});

test('a bad key setting stops start-up naming the variable', () => {
  assert.throws(() => loadMercureConfig({ MERCURE_PUBLISHER_JWT_KEY: 'short' }), /MERCURE_PUBLISHER_JWT_KEY.*at least 32 bytes/);
  assert.throws(() => loadMercureConfig({ MERCURE_PUBLISHER_JWT_KEY: SECRET, MERCURE_PUBLISHER_JWT_ALG: 'none' }), /MERCURE_PUBLISHER_JWT_ALG="none"/);
  assert.throws(() => loadMercureConfig({ MERCURE_SUBSCRIBER_JWT_KEY: 'x'.repeat(40), MERCURE_SUBSCRIBER_JWT_ALG: 'RS256' }), /PEM public key/);
  assert.throws(() => loadMercureConfig({ CORS_ORIGINS: '*' }), /CORS_ORIGINS/);
  assert.throws(() => loadMercureConfig({ CORS_ORIGINS: 'https://a.example/path' }), /CORS_ORIGINS/);
  assert.throws(() => loadMercureConfig({ MERCURE_SUBSCRIBER_JWKS_FILE: '/nonexistent.json' }), /MERCURE_SUBSCRIBER_JWKS_FILE/);
});

test('the token comes from Authorization when there is one, whatever the cookie; else from the cookie', () => {
  const names = ['mercure_access_token', 'mercureAuthorization'];
  assert.equal(presentedToken('Bearer header.token.x', 'mercure_access_token=cookie.token.y', names), 'header.token.x');
  assert.equal(presentedToken('bearer   header.token.x', undefined, names), 'header.token.x', 'the scheme is case-insensitive');
  assert.equal(presentedToken(undefined, 'a=1; mercureAuthorization=legacy.token.z', names), 'legacy.token.z');
  assert.equal(presentedToken(undefined, 'a=1', names), undefined);
  assert.throws(() => presentedToken('Basic dXNlcjpwYXNz', undefined, names), (err: { failure: string }) => err.failure === 'invalid_request');
});
