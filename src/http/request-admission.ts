// What a parsed request must be before any route sees it: HTTP/1.0 or 1.1,
// aimed at a resource, read to its end if it is a GET, and first in line on
// its socket.
//
// Node's parser (llhttp) lets through more than this server can answer:
// - HTTP/0.9 (`GET /` with no version), which takes a bare body and no
//   status line, and `HTTP/2.0` request lines, which no HTTP/2 client sends
//   (it speaks binary frames). Neither can be answered in HTTP/1.1, so the
//   socket is closed without a word, as Node does for a CONNECT nobody serves.
// - The asterisk form, `GET *`, which find-my-way routes to `/`: it names the
//   server, not a resource (RFC 9112 §3.2.4), so no route has it: a 404.
// - A GET with a body. The body means nothing (RFC 9110 §9.3.1) and no route
//   reads it, but Fastify runs a GET's route as soon as its head is parsed:
//   GET / would open its stream while the body is still arriving, and a body
//   that turns out malformed would get its 400 inside the stream. The body is
//   read to its end and dropped first; a malformed one gets its 400 alone.
// - Requests pipelined behind one still unanswered (RFC 9112 §9.3.2). Node
//   parses every request in a read at once and queues their responses; a
//   queued response gets the socket when the one in front finishes. A route
//   must not run before that: GET / and /status_watcher write their head on
//   the raw socket and hand it to a holder, so one queued behind another
//   response would answer out of order, and its take-over fails Node's own
//   check that the response owns the socket (an internal assertion that kills
//   the worker, and every stream on it). Behind a stream the wait never ends:
//   a stream never finishes, and the request is dropped with its socket.
// None of this costs a held connection anything: a request waits with one
// listener on its own request or response, and only if it has to.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { NotFound } from '../errors.js';

function hasBody({ headers }: IncomingMessage): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Calls `admit` once `res` owns its socket, that is, once every response in front of it has finished. */
function whenFirstInLine(res: ServerResponse, admit: () => void): void {
  if (res.socket === null) res.once('socket', () => admit());
  else admit();
}

export function installRequestAdmission(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const { raw } = request;
    if (raw.httpVersionMajor !== 1) {
      reply.hijack();
      raw.socket.destroy();
      return;
    }
    if (raw.url === '*') {
      done(new NotFound(raw.method, raw.url));
      return;
    }
    if ((raw.method === 'GET' || raw.method === 'HEAD') && hasBody(raw)) {
      raw.once('end', () => whenFirstInLine(reply.raw, done));
      raw.resume();
      return;
    }
    whenFirstInLine(reply.raw, done);
  });
}
