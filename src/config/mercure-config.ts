// The Mercure hub's settings, read from the environment once with the rest of
// the configuration (config.ts). Names follow the reference hub's where it has
// one (MERCURE_PUBLISHER_JWT_KEY, CORS_ORIGINS, ...), so that its users find
// their way. Keys are read here, files included, so that a key that cannot be
// used stops start-up with its variable's name instead of failing every request.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { wholeNumber } from './whole-number.js';

export type JwtAlg = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'PS256';
const ALGS: readonly JwtAlg[] = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'PS256'];

/** How one role's tokens (publisher or subscriber) are verified: a key for one algorithm, or a JWKS. */
export type TokenKey =
  | { readonly kind: 'secret'; readonly alg: JwtAlg; readonly secret: string }
  | { readonly kind: 'pem'; readonly alg: JwtAlg; readonly pem: string }
  | { readonly kind: 'jwks'; readonly jwks: { keys: unknown[] }; readonly algs: readonly JwtAlg[] };

export interface MercureConfig {
  readonly publisherKey: TokenKey | undefined;
  readonly subscriberKey: TokenKey | undefined;
  /** MERCURE_TRUSTED_ISSUERS: the `iss` a 1.0 token must carry; undefined accepts any. */
  readonly trustedIssuers: readonly string[] | undefined;
  /** MERCURE_RESOURCE_IDENTIFIER: the `aud` a 1.0 token must carry; undefined derives it from the URL the client contacted. */
  readonly resourceIdentifier: string | undefined;
  /** MERCURE_LEGACY_TOKENS: accept 0.x tokens (`typ: JWT`, the `mercure` claim). */
  readonly legacyTokens: boolean;
  /** MERCURE_COOKIE_NAME: the cookie a browser's token comes in (0.x's mercureAuthorization is read too). */
  readonly cookieName: string;
  /** MERCURE_ANONYMOUS: subscribers without a token get public updates; 0 requires a token. */
  readonly anonymous: boolean;
  /** MERCURE_PUBLISH_WITHOUT_TOKEN: the spec's trusted-network mode, where anyone who reaches the hub publishes. */
  readonly publishWithoutToken: boolean;
  /** CORS_ORIGINS: the origins whose pages may subscribe and publish with credentials. */
  readonly corsOrigins: readonly string[];
  /** HISTORY_SIZE: updates kept for replay (approximately: the stream is trimmed by whole nodes). */
  readonly historySize: number;
  /** MERCURE_HISTORY_KEY: the Redis Stream holding the history. */
  readonly historyKey: string;
  /** MERCURE_PUBLISH_REPLICAS: replicas that must hold an update before it is acknowledged (Redis WAIT). */
  readonly publishReplicas: number;
  /** MERCURE_MAX_UPDATE_BYTES: the largest publish request body. */
  readonly maxUpdateBytes: number;
  /** MERCURE_MAX_TOPICS: topics per update, and matchers per subscription. */
  readonly maxTopics: number;
  /** MERCURE_MAX_TOPIC_LENGTH: characters in one topic or matcher. */
  readonly maxTopicLength: number;
  /** MERCURE_MAX_PENDING_PUBLISHES: publishes one worker waits on Redis for at once; past it, 503. */
  readonly maxPendingPublishes: number;
  /** MERCURE_HUB_URL: the hub's public URL, the base for relative topics and patterns. */
  readonly hubUrl: string;
}

type Env = Record<string, string | undefined>;

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, raw, '1 or 0 (true or false)');
}

function alg(env: Env, name: string): JwtAlg {
  const raw = env[name];
  if (raw === undefined || raw === '') return 'HS256';
  if (!(ALGS as readonly string[]).includes(raw)) throw new ConfigError(name, raw, `one of ${ALGS.join(', ')} (never none)`);
  return raw as JwtAlg;
}

function tokenKey(env: Env, role: 'PUBLISHER' | 'SUBSCRIBER'): TokenKey | undefined {
  const keyName = `MERCURE_${role}_JWT_KEY`;
  const algName = `MERCURE_${role}_JWT_ALG`;
  const jwksName = `MERCURE_${role}_JWKS_FILE`;
  const key = env[keyName];
  const jwksFile = env[jwksName];
  if (key !== undefined && key !== '' && jwksFile !== undefined && jwksFile !== '') {
    throw new ConfigError(jwksName, jwksFile, `to be unset when ${keyName} is set (one source of keys per role)`);
  }
  if (jwksFile !== undefined && jwksFile !== '') {
    let jwks: { keys?: unknown };
    try {
      jwks = JSON.parse(readFileSync(jwksFile, 'utf8')) as { keys?: unknown };
    } catch (err) {
      throw new ConfigError(jwksName, jwksFile, `a readable JSON Web Key Set file (${(err as Error).message})`);
    }
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new ConfigError(jwksName, jwksFile, 'a JWKS with a non-empty "keys" array');
    const algs = env[algName] === undefined || env[algName] === '' ? (['RS256', 'ES256', 'EdDSA'] as JwtAlg[]) : [alg(env, algName)];
    return { kind: 'jwks', jwks: { keys: jwks.keys }, algs };
  }
  if (key === undefined || key === '') return undefined;
  const chosen = alg(env, algName);
  if (chosen.startsWith('HS')) {
    // RFC 7518 section 3.2: an HMAC key at least as long as the hash.
    if (Buffer.byteLength(key) < 32) throw new ConfigError(keyName, '(hidden)', `a secret of at least 32 bytes for ${chosen}`);
    return { kind: 'secret', alg: chosen, secret: key };
  }
  if (!key.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new ConfigError(keyName, '(hidden)', `a PEM public key (-----BEGIN PUBLIC KEY-----) for ${chosen}`);
  }
  return { kind: 'pem', alg: chosen, pem: key };
}

function list(env: Env, name: string): string[] | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw.split(/[\s,]+/).filter((entry) => entry !== '');
}

function corsOrigins(env: Env): string[] {
  const origins = list(env, 'CORS_ORIGINS') ?? [];
  for (const origin of origins) {
    // An origin, exactly as a browser sends it: scheme, host, port, nothing else.
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (origin === '*' || url === undefined || url.origin !== origin) {
      throw new ConfigError('CORS_ORIGINS', env.CORS_ORIGINS ?? '', `origins such as https://app.example.com, separated by spaces; never * (credentials are allowed) and no path: ${JSON.stringify(origin)}`);
    }
  }
  return origins;
}

function count(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  return wholeNumber(name, raw === '' ? undefined : raw, fallback, min, max);
}

export function loadMercureConfig(env: Env): MercureConfig {
  const hubUrl = env.MERCURE_HUB_URL === undefined || env.MERCURE_HUB_URL === '' ? 'http://localhost/.well-known/mercure' : env.MERCURE_HUB_URL;
  try {
    new URL(hubUrl);
  } catch {
    throw new ConfigError('MERCURE_HUB_URL', hubUrl, 'an absolute URL such as https://hub.example.com/.well-known/mercure');
  }
  const historyKey = env.MERCURE_HISTORY_KEY === undefined || env.MERCURE_HISTORY_KEY === '' ? 'mercure:history' : env.MERCURE_HISTORY_KEY;
  if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(historyKey)) throw new ConfigError('MERCURE_HISTORY_KEY', historyKey, 'letters, digits, _ . : or -, at most 100');
  const cookieName = env.MERCURE_COOKIE_NAME === undefined || env.MERCURE_COOKIE_NAME === '' ? '__Secure-mercure_access_token' : env.MERCURE_COOKIE_NAME;
  // RFC 6265 section 4.1.1: a cookie name is a token.
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/.test(cookieName)) throw new ConfigError('MERCURE_COOKIE_NAME', cookieName, 'a cookie name (an HTTP token)');
  return Object.freeze({
    publisherKey: tokenKey(env, 'PUBLISHER'),
    subscriberKey: tokenKey(env, 'SUBSCRIBER'),
    trustedIssuers: list(env, 'MERCURE_TRUSTED_ISSUERS'),
    resourceIdentifier: env.MERCURE_RESOURCE_IDENTIFIER === '' ? undefined : env.MERCURE_RESOURCE_IDENTIFIER,
    legacyTokens: flag(env, 'MERCURE_LEGACY_TOKENS', true),
    cookieName,
    anonymous: flag(env, 'MERCURE_ANONYMOUS', true),
    publishWithoutToken: flag(env, 'MERCURE_PUBLISH_WITHOUT_TOKEN', false),
    corsOrigins: corsOrigins(env),
    historySize: count(env, 'HISTORY_SIZE', 10_000, 1, 100_000_000),
    historyKey,
    publishReplicas: count(env, 'MERCURE_PUBLISH_REPLICAS', 0, 0, 16),
    maxUpdateBytes: count(env, 'MERCURE_MAX_UPDATE_BYTES', 262_144, 1_024, 64 * 1024 * 1024),
    maxTopics: count(env, 'MERCURE_MAX_TOPICS', 100, 1, 100_000),
    maxTopicLength: count(env, 'MERCURE_MAX_TOPIC_LENGTH', 2_048, 16, 65_536),
    maxPendingPublishes: count(env, 'MERCURE_MAX_PENDING_PUBLISHES', 1_000, 1, 1_000_000),
    hubUrl,
  });
}
