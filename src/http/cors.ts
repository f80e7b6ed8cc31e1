// CORS for the hub's endpoint: an explicit allowlist (CORS_ORIGINS), with
// credentials, so that a page of an allowed origin can subscribe with its
// cookie (EventSource's withCredentials) and publish with fetch. Never `*`
// and never an echoed arbitrary origin (spec: Subscription): an origin not on
// the list gets no CORS header at all, and the browser keeps the response
// from the page. The headers for each allowed origin are worked out once.

const ALLOW_HEADERS = 'authorization, cache-control, content-type, last-event-id';
const ALLOW_METHODS = 'GET, POST';
// A preflight answer a browser may reuse for ten minutes.
const MAX_AGE_SECONDS = '600';

export class Cors {
  private readonly simple = new Map<string, Readonly<Record<string, string>>>();
  private readonly preflight = new Map<string, Readonly<Record<string, string>>>();

  constructor(origins: readonly string[]) {
    for (const origin of origins) {
      const headers = {
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        // A polyfill or fetch() reader may read this; EventSource cannot.
        'access-control-expose-headers': 'mercure-last-event-id',
        vary: 'Origin',
      };
      this.simple.set(origin, Object.freeze(headers));
      this.preflight.set(
        origin,
        Object.freeze({ ...headers, 'access-control-allow-methods': ALLOW_METHODS, 'access-control-allow-headers': ALLOW_HEADERS, 'access-control-max-age': MAX_AGE_SECONDS }),
      );
    }
  }

  allows(origin: string | undefined): boolean {
    return origin !== undefined && this.simple.has(origin);
  }

  /** The headers for a request from `origin`; none for an origin not on the list (or none at all). */
  headersFor(origin: string | undefined): Readonly<Record<string, string>> | undefined {
    return origin === undefined ? undefined : this.simple.get(origin);
  }

  preflightHeadersFor(origin: string | undefined): Readonly<Record<string, string>> | undefined {
    return origin === undefined ? undefined : this.preflight.get(origin);
  }
}
