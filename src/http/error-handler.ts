// Turns every error into the JSON a client sees: a status, a stable code and a
// message, never a stack trace.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance } from 'fastify';
import { NotFound, RETRY_AFTER_SECONDS } from '../errors.js';

type ClientErrorListener = (err: NodeJS.ErrnoException, socket: Duplex) => void;
// Node's record of the response a socket is busy with (_http_server.js sets it
// when a response gets the socket and clears it when the response finishes).
type HttpSocket = Duplex & { _httpMessage?: ServerResponse | null };

export function installErrorHandling(app: FastifyInstance): void {
  // Errors from Node's parser (a malformed request, headers over
  // MAX_HEADER_BYTES, headers too slow) go to 'clientError', where Fastify
  // writes a 400, 431 or 408 onto the socket and closes it. That is the right
  // answer to the request the bad bytes belong to: one still being read. It is
  // wrong for bytes that follow a request already read whose response is still
  // in flight (pipelined after it, or its FIN): a status line now would be read
  // as that response's, or, behind GET /, land inside the event stream, whose
  // head went out on the raw socket where Node never saw it. There the socket
  // is closed without a word. (request-admission.ts makes a GET's body arrive
  // whole before its route runs, so a stream never opens on a request still
  // being read.)
  const [fastifyClientError] = app.server.listeners('clientError') as ClientErrorListener[];
  if (fastifyClientError !== undefined) {
    app.server.removeListener('clientError', fastifyClientError);
    app.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const inFlight = (socket as HttpSocket)._httpMessage;
      if (inFlight && !inFlight.writableEnded && inFlight.req.complete) {
        socket.destroy();
        return;
      }
      fastifyClientError(err, socket);
    });
  }

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
