// GET /ping : the cheapest response there is, timed by the dashboard and the
// benchmark to see whether the server still answers while it holds its load.
import type { FastifyInstance } from 'fastify';
import type { WorkerState } from '../worker-state.js';

export function pingRoute(app: FastifyInstance, state: WorkerState): void {
  app.get('/ping', (_request, reply) => {
    state.pings++;
    reply.code(204).header('cache-control', 'no-store').send();
  });
}
