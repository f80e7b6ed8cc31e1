// Turns every error into the JSON a client sees: a status, a stable code and a
// message, never a stack trace.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { NotFound, RETRY_AFTER_SECONDS } from '../errors.js';

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    reply.send(new NotFound(request.method, request.url));
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
    if (status === 503) {
      // Full or draining: tell the client when to come back, and free the socket
      // so the cluster can give its next connection to another worker.
      reply.header('retry-after', RETRY_AFTER_SECONDS).header('connection', 'close');
    }
    if (status >= 500 && status !== 503) request.log.error({ err }, 'request failed');
    const exposed = status < 500 || status === 503;
    reply.code(status).send({
      statusCode: status,
      code: exposed ? (err.code ?? 'MSSE_BAD_REQUEST') : 'MSSE_INTERNAL',
      error: STATUS_CODES[status],
      message: exposed ? err.message : 'Internal Server Error',
    });
  });
}
