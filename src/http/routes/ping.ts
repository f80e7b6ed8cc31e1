// GET /ping : the cheapest response there is, timed by the dashboard and the
// benchmark to see whether the server still answers while it holds its load.
import type { FastifyInstance } from 'fastify';
import { Draining } from '../../errors.js';
import type { WorkerState } from '../worker-state.js';

export function pingRoute(app: FastifyInstance, state: WorkerState): void {
  app.get('/ping', (_request, reply) => {
    state.pings++;
    // A load balancer's health check (deploy/haproxy.cfg) takes this host out
    // of rotation before its listening sockets close.
    if (state.leaving || state.draining) throw new Draining();
    reply.code(204).header('cache-control', 'no-store').send();
  });
}
