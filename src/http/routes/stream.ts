// GET / : the SSE stream that the experiment holds a million of.
import type { FastifyInstance } from 'fastify';
import { Draining, Full } from '../../errors.js';
import { openingFrame } from '../../connections/sse-frames.js';
import { STREAM_ROUTE_OPTIONS, openStream } from '../open-stream.js';
import type { WorkerState } from '../worker-state.js';

export function streamRoute(app: FastifyInstance, state: WorkerState): void {
  const { registry, config } = state;
  app.get('/', STREAM_ROUTE_OPTIONS, (request, reply) => {
    if (state.draining) throw new Draining();
    // A 503 with Retry-After is an answer a client can act on; running out of
    // file descriptors at accept() is not.
    if (registry.full) throw new Full(registry.maxConnections);
    openStream(request, reply, openingFrame(config.retryMs), registry);
  });
}
