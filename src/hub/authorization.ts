// Access tokens (spec: "Authorization"): which topics a token lets its bearer
// publish to and read private updates of. Two kinds are accepted:
// - Mercure 1.0: a JWT access token (RFC 9068: `typ` at+jwt, `exp`, `aud` the
//   hub's resource identifier, `iss` a trusted issuer) whose grants are in
//   `authorization_details` (RFC 9396) of type MERCURE_DETAIL_TYPE;
// - 0.x, behind MERCURE_LEGACY_TOKENS: `typ` JWT and the claim
//   `mercure: {publish, subscribe}`, checked as 0.x hubs checked them
//   (signature, algorithm, `exp`), because the Symfony and API Platform
//   publishers in use today still mint them.
// The algorithm comes from the configuration, never from the token, and the
// key is the configured one for the role: a subscriber's token is no
// publisher's, whatever it claims.
import { createLocalJWKSet, decodeProtectedHeader, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import type { TokenKey } from '../config/mercure-config.js';
import { ANY, MATCHER_TYPES, MatcherError, parseLegacySelector, parseMatcher, type Matcher, type MatcherLimits, type MatcherType } from './matchers.js';

export const MERCURE_DETAIL_TYPE = 'https://mercure.rocks/authorization-detail';
const MAX_DETAILS = 100;

export interface Grants {
  readonly publish: readonly Matcher[];
  readonly subscribe: readonly Matcher[];
  /** When the token stops being valid, in ms since the epoch; undefined for a 0.x token without `exp`. */
  readonly expiresAt: number | undefined;
}

/** RFC 6750 section 3.1's error codes. */
export type TokenFailure = 'invalid_token' | 'invalid_request';

export class TokenError extends Error {
  constructor(readonly failure: TokenFailure, reason: string) {
    super(reason);
    this.name = 'TokenError';
  }
}

export interface VerifierOptions {
  readonly legacyTokens: boolean;
  readonly trustedIssuers: readonly string[] | undefined;
  readonly limits: MatcherLimits;
  readonly maxTopics: number;
}

type Key = CryptoKey | Uint8Array | JWTVerifyGetKey;

export class TokenVerifier {
  private key: Promise<Key> | undefined;
  private readonly algorithms: string[];

  constructor(private readonly tokenKey: TokenKey, private readonly options: VerifierOptions) {
    this.algorithms = tokenKey.kind === 'jwks' ? [...tokenKey.algs] : [tokenKey.alg];
  }

  private loadKey(): Promise<Key> {
    const key = this.tokenKey;
    if (key.kind === 'secret') return Promise.resolve(new TextEncoder().encode(key.secret));
    if (key.kind === 'pem') return importSPKI(key.pem, key.alg);
    return Promise.resolve(createLocalJWKSet(key.jwks as Parameters<typeof createLocalJWKSet>[0]));
  }

  /** The grants of `token`, or a TokenError; `audience` is the resource identifier a 1.0 token must name. */
  async verify(token: string, audience: string): Promise<Grants> {
    let typ: string | undefined;
    try {
      typ = decodeProtectedHeader(token).typ;
    } catch {
      throw new TokenError('invalid_token', 'not a JWS in compact serialization');
    }
    const accessToken = typeof typ === 'string' && /^(application\/)?at\+jwt$/i.test(typ);
    if (!accessToken && !(this.options.legacyTokens && (typ === undefined || /^jwt$/i.test(typ)))) {
      throw new TokenError('invalid_token', `typ ${JSON.stringify(typ)} is not at+jwt`);
    }
    this.key ??= this.loadKey();
    const key = await this.key;
    let payload: JWTPayload;
    try {
      const verified = await jwtVerify(token, key as CryptoKey, {
        algorithms: this.algorithms,
        // A 1.0 token is bound to this hub and, when issuers are configured, to one of them.
        ...(accessToken ? { audience, requiredClaims: ['exp'] } : {}),
        ...(accessToken && this.options.trustedIssuers !== undefined ? { issuer: [...this.options.trustedIssuers] } : {}),
      });
      payload = verified.payload;
    } catch (err) {
      // Which check failed is not said to the client (spec: Error Responses), only logged by the caller.
      throw new TokenError('invalid_token', (err as Error).message);
    }
    const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
    return accessToken ? { ...this.detailGrants(payload), expiresAt } : { ...this.legacyGrants(payload), expiresAt };
  }

  private matchers(value: string, type: MatcherType): Matcher {
    try {
      return parseMatcher(value, type, this.options.limits);
    } catch (err) {
      if (err instanceof MatcherError) throw new TokenError('invalid_token', `a topic matcher in the token is invalid: ${err.message}`);
      throw err;
    }
  }

  /** Spec: Authorization Details. Any malformed Mercure detail rejects the whole token: no partial grants. */
  private detailGrants(payload: JWTPayload): { publish: Matcher[]; subscribe: Matcher[] } {
    const publish: Matcher[] = [];
    const subscribe: Matcher[] = [];
    const details = payload.authorization_details;
    if (details === undefined) return { publish, subscribe };
    if (!Array.isArray(details)) throw new TokenError('invalid_token', 'authorization_details is not an array');
    const ours = details.filter((detail) => (detail as { type?: unknown } | null)?.type === MERCURE_DETAIL_TYPE);
    if (ours.length > MAX_DETAILS) throw new TokenError('invalid_token', `more than ${MAX_DETAILS} Mercure authorization details`);
    for (const detail of ours as Array<Record<string, unknown>>) {
      const { actions, topics } = detail;
      if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => typeof a === 'string')) {
        throw new TokenError('invalid_token', 'a Mercure authorization detail needs a non-empty array of string actions');
      }
      if (!Array.isArray(topics) || topics.length === 0) throw new TokenError('invalid_token', 'a Mercure authorization detail needs a non-empty topics array');
      if (topics.length > this.options.maxTopics) throw new TokenError('invalid_token', `more than ${this.options.maxTopics} topics in one authorization detail`);
      const matchers = topics.map((entry: unknown) => {
        const { match, match_type: matchType = 'exact' } = (entry ?? {}) as { match?: unknown; match_type?: unknown };
        if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || typeof match !== 'string') {
          throw new TokenError('invalid_token', 'each topic of an authorization detail is an object with a string "match"');
        }
        // `*` is the wildcard whatever the type, recognised before the type is resolved.
        if (match === '*') return ANY;
        if (typeof matchType !== 'string' || !(MATCHER_TYPES as readonly string[]).includes(matchType)) {
          throw new TokenError('invalid_token', `unsupported match_type ${JSON.stringify(matchType)}`);
        }
        return this.matchers(match, matchType as MatcherType);
      });
      // Unknown actions grant nothing and are no error (spec: Authorization Details).
      if (actions.includes('publish')) publish.push(...matchers);
      if (actions.includes('subscribe')) subscribe.push(...matchers);
    }
    return { publish, subscribe };
  }

  /** 0.x: `mercure.publish` and `mercure.subscribe` hold topic selectors: exact topics, `*`, or URI templates. */
  private legacyGrants(payload: JWTPayload): { publish: Matcher[]; subscribe: Matcher[] } {
    const claim = payload.mercure;
    if (claim === undefined) return { publish: [], subscribe: [] };
    if (typeof claim !== 'object' || claim === null || Array.isArray(claim)) throw new TokenError('invalid_token', 'the mercure claim is not an object');
    const selectors = (name: 'publish' | 'subscribe'): Matcher[] => {
      const value = (claim as Record<string, unknown>)[name];
      if (value === undefined) return [];
      if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) throw new TokenError('invalid_token', `mercure.${name} is not an array of strings`);
      if (value.length > this.options.maxTopics) throw new TokenError('invalid_token', `more than ${this.options.maxTopics} selectors in mercure.${name}`);
      return (value as string[]).map((selector) => {
        try {
          return parseLegacySelector(selector, this.options.limits);
        } catch (err) {
          if (err instanceof MatcherError) throw new TokenError('invalid_token', `a topic selector in the token is invalid: ${err.message}`);
          throw err;
        }
      });
    };
    return { publish: selectors('publish'), subscribe: selectors('subscribe') };
  }
}

/** The token a request presents: `Authorization: Bearer`, else the cookie (spec: Presenting the Access Token). */
export function presentedToken(
  authorization: string | undefined,
  cookieHeader: string | undefined,
  cookieNames: readonly string[],
): string | undefined {
  if (authorization !== undefined) {
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
    if (match === null) throw new TokenError('invalid_request', 'the Authorization header is not "Bearer <token>"');
    return match[1];
  }
  if (cookieHeader === undefined) return undefined;
  for (const name of cookieNames) {
    for (const pair of cookieHeader.split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim() === name) {
        const value = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
        if (value !== '') return value;
      }
    }
  }
  return undefined;
}
