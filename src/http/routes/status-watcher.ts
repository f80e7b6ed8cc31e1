// GET /status_watcher : the status feed, one JSON event a second (see status/status-snapshot.ts).
import type { FastifyInstance } from 'fastify';
import { Draining, TooManyWatchers } from '../../errors.js';
import { STREAM_ROUTE_OPTIONS, openStream } from '../open-stream.js';
import { requireStatusToken } from '../status-token.js';
import type { WorkerState } from '../worker-state.js';

export function statusWatcherRoute(app: FastifyInstance, state: WorkerState): void {
  const { watchers } = state;
  // An EventSource cannot send headers: the one route that takes the token in its query.
  const onRequest = requireStatusToken(state.config.statusToken, { inQuery: true });
  app.get('/status_watcher', onRequest === undefined ? STREAM_ROUTE_OPTIONS : { ...STREAM_ROUTE_OPTIONS, onRequest }, (request, reply) => {
    if (state.draining) throw new Draining();
    if (watchers.full) throw new TooManyWatchers(watchers.maxWatchers);
    openStream(request, reply, `: status\nretry: 1000\n\n${watchers.latestFrame ?? ''}`, watchers);
  });
}
