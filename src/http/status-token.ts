// STATUS_TOKEN: what guards the status feed and the metrics. Both tell an
// outsider how many people are connected and how loaded the machine is;
// neither is needed by the clients that hold streams, so only they are guarded.
//
// The token is accepted as `Authorization: Bearer <token>`, what Prometheus
// sends (`authorization` in a scrape config), and, on the status feed alone,
// as `?token=<token>`, because an EventSource in a page cannot set headers. A
// token in a URL is kept by proxies' logs and browser history, so no other
// route takes it there. Comparison is in constant time, on digests so that
// the lengths match.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { Unauthorized } from '../errors.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

function presented(request: FastifyRequest, inQuery: boolean): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    return match?.[1];
  }
  if (!inQuery) return undefined;
  const query = request.query as Record<string, unknown> | undefined;
  const token = query?.token;
  return typeof token === 'string' ? token : undefined;
}

/**
 * An onRequest hook that lets through only requests with the token; none when
 * no token is set. `inQuery`: `?token=` is accepted too (an EventSource's route).
 */
export function requireStatusToken(token: string | undefined, { inQuery = false }: { inQuery?: boolean } = {}): onRequestHookHandler | undefined {
  if (token === undefined) return undefined;
  const expected = digest(token);
  return (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    const given = presented(request, inQuery);
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return done();
    reply.header('www-authenticate', 'Bearer realm="million-sse"');
    done(new Unauthorized());
  };
}
