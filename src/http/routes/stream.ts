// GET / : the SSE stream that the experiment holds a million of. A browser
// that asks for a page (Accept: text/html, as a navigation does) gets a small
// one naming the endpoints instead of a download that never ends; EventSource
// (text/event-stream), curl (*/*) and the load generator get the stream.
import type { FastifyInstance } from 'fastify';
import { Draining, Full } from '../../errors.js';
import { openingFrame } from '../../connections/sse-frames.js';
import { STREAM_ROUTE_OPTIONS, openStream } from '../open-stream.js';
import { streamSecurityHeaders } from '../security-headers.js';
import type { WorkerState } from '../worker-state.js';

function wantsPage(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('text/html') && !accept.includes('text/event-stream');
}

export function streamRoute(app: FastifyInstance, state: WorkerState): void {
  const { registry, config } = state;
  // The route skips helmet's hooks (see open-stream.ts), so the page gets its headers here.
  const pageHeaders = streamSecurityHeaders();
  app.get('/', STREAM_ROUTE_OPTIONS, (request, reply) => {
    if (wantsPage(request.headers.accept)) return reply.headers(pageHeaders).sendFile('index.html');
    if (state.draining) throw new Draining();
    // A 503 with Retry-After is an answer a client can act on; running out of
    // file descriptors at accept() is not.
    if (registry.full) throw new Full(registry.maxConnections);
    openStream(request, reply, openingFrame(config.retryMs), registry);
    return undefined;
  });
}
