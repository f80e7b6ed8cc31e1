// A Mercure publisher and subscribers for the tests: tokens signed with the
// test keys, publishes over real HTTP, and a raw-socket subscriber that parses
// the SSE events it receives.
import { SignJWT } from 'jose';
import { rawRequest, type RawStream } from './sse-client.js';

export const PUBLISHER_SECRET = 'test-publisher-key-at-least-32-bytes-long';
export const SUBSCRIBER_SECRET = 'test-subscriber-key-at-least-32-bytes-long';
export const ISSUER = 'https://publisher.test';
export const AUDIENCE = 'https://hub.test/.well-known/mercure';
const DETAIL = 'https://mercure.rocks/authorization-detail';

/** The settings every hub test cluster runs with. */
export function hubEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    MERCURE_PUBLISHER_JWT_KEY: PUBLISHER_SECRET,
    MERCURE_SUBSCRIBER_JWT_KEY: SUBSCRIBER_SECRET,
    MERCURE_TRUSTED_ISSUERS: ISSUER,
    MERCURE_RESOURCE_IDENTIFIER: AUDIENCE,
    RETRY_MS: '200',
    ...extra,
  };
}

export interface TokenOptions {
  publish?: Array<string | { match: string; match_type: string }>;
  subscribe?: Array<string | { match: string; match_type: string }>;
  secret?: string;
  /** Seconds since the epoch. */
  exp?: number;
  audience?: string;
  alg?: string;
}

export function token({ publish = [], subscribe = [], secret = PUBLISHER_SECRET, exp, audience = AUDIENCE, alg = 'HS256' }: TokenOptions): Promise<string> {
  const topics = (list: TokenOptions['publish']) => list!.map((m) => (typeof m === 'string' ? { match: m } : m));
  const details = [
    ...(publish.length > 0 ? [{ type: DETAIL, actions: ['publish'], topics: topics(publish) }] : []),
    ...(subscribe.length > 0 ? [{ type: DETAIL, actions: ['subscribe'], topics: topics(subscribe) }] : []),
  ];
  return new SignJWT({ authorization_details: details })
    .setProtectedHeader({ alg, typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(audience)
    .setExpirationTime(exp ?? Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(secret));
}

export const publisherToken = (): Promise<string> => token({ publish: ['*'] });
export const subscriberToken = (subscribe: TokenOptions['subscribe'], exp?: number): Promise<string> =>
  token({ subscribe, secret: SUBSCRIBER_SECRET, ...(exp === undefined ? {} : { exp }) });

export interface PublishResult {
  status: number;
  body: string;
  headers: Headers;
}

/** POSTs a form to the hub; `fields` are encoded as given (a string is sent as it is). */
export async function publish(
  port: number,
  fields: Array<[string, string]> | string,
  authorization: string | undefined,
  headers: Record<string, string> = {},
): Promise<PublishResult> {
  const body = typeof fields === 'string' ? fields : new URLSearchParams(fields).toString();
  const response = await fetch(`http://127.0.0.1:${port}/.well-known/mercure`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization === undefined ? {} : { authorization: `Bearer ${authorization}` }),
      ...headers,
    },
    body,
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

export interface HubEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export interface Subscription extends RawStream {
  /** The response's status line and headers, once they came. */
  head(): { status: number; headers: Map<string, string> } | undefined;
  /** Every complete event received so far (comments and retry-only blocks left out). */
  events(): HubEvent[];
  /** Waits until `count` events have arrived. */
  waitForEvents(count: number, timeoutMs?: number): Promise<HubEvent[]>;
}

/** Opens GET /.well-known/mercure?`query` on a raw socket, with `headers`. */
export function subscribe(port: number, query: string, headers: Record<string, string> = {}, options: { read?: boolean } = {}): Subscription {
  const lines = Object.entries({ Host: `127.0.0.1:${port}`, Accept: 'text/event-stream', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  const stream = rawRequest(port, `GET /.well-known/mercure?${query} HTTP/1.1\r\n${lines.join('')}\r\n`, options);
  const split = (): { head: string; body: string } | undefined => {
    const text = stream.text();
    const end = text.indexOf('\r\n\r\n');
    return end === -1 ? undefined : { head: text.slice(0, end), body: Buffer.from(text.slice(end + 4), 'latin1').toString('utf8') };
  };
  const events = (): HubEvent[] => {
    const parts = split();
    if (parts === undefined) return [];
    const blocks = parts.body.split('\n\n');
    blocks.pop();
    const result: HubEvent[] = [];
    for (const block of blocks) {
      let id: string | undefined;
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
        else if (line === 'data:') data.push('');
      }
      if (data.length > 0) result.push({ id, event, data: data.join('\n') });
    }
    return result;
  };
  return Object.assign(stream, {
    head() {
      const parts = split();
      if (parts === undefined) return undefined;
      const [statusLine, ...headerLines] = parts.head.split('\r\n');
      const headers = new Map<string, string>();
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
      }
      return { status: Number(statusLine!.split(' ')[1]), headers };
    },
    events,
    async waitForEvents(count: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (events().length < count) {
        if (Date.now() > deadline) {
          const last = events().slice(-3).map((e) => ({ ...e, data: e.data.slice(0, 80) }));
          throw new Error(`timed out waiting for ${count} events; got ${events().length} (closed: ${stream.isClosed()}), the last: ${JSON.stringify(last)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return events();
    },
  });
}
