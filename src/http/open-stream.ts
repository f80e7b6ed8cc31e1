// Answers a routed request with an SSE response head and hands the bare socket
// to its holder (the connection registry or the status watchers); from then on
// the stream is ours, not Fastify's or Node's.
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { responseHead } from '../connections/sse-frames.js';
import { takeOverSocket } from '../connections/take-over-socket.js';
import { streamSecurityHeaders } from './security-headers.js';

// Every stream's head: the SSE headers and the security headers, built once.
// The stream routes skip helmet's per-request hooks (`helmet: false`) and get
// the same headers here.
const SECURITY_HEADERS = streamSecurityHeaders();
const STREAM_HEAD = responseHead(SECURITY_HEADERS);

/** Route options for the stream routes: helmet's headers come with STREAM_HEAD instead. */
export const STREAM_ROUTE_OPTIONS = { helmet: false } as const;

export interface StreamHolder {
  /** A stream has been answered and will be added in this turn of the event loop (or cancelled). */
  reserve?(): void;
  /**
   * Releases a reservation: the take-over is done (add follows, and no
   * socket is given), or the stream is gone before it (its socket is given,
   * so that the holder forgets whatever it attached to it).
   */
  cancel?(socket?: Socket): void;
  add(socket: Socket): void;
}

// The route handler runs inside the HTTP parser's callback for complete
// headers; the parser still has its message-complete step to run, which puts
// it back in the server's connection list. So the take-over waits until the
// parser is done: for every stream opened in this turn of the event loop, one
// setImmediate, not one closure per connection.
let pending: Array<[IncomingMessage, ServerResponse, StreamHolder, FastifyBaseLogger]> = [];

function takeOverPending(): void {
  const batch = pending;
  pending = [];
  for (const [req, res, holder, log] of batch) {
    // One socket that cannot be taken over costs its own stream, not the rest
    // of the batch (their reservations would never be released) nor the
    // worker (a throw here escapes every handler).
    let reserved = true;
    try {
      // The client may have left in between; Node has already cleaned up after it.
      if (req.socket.destroyed) {
        holder.cancel?.(req.socket);
        continue;
      }
      const socket = takeOverSocket(req, res);
      reserved = false;
      holder.cancel?.();
      holder.add(socket);
    } catch (err) {
      if (reserved) holder.cancel?.(req.socket);
      req.socket.destroy();
      log.warn({ err }, 'could not take over a stream; closed it');
    }
  }
}

export function openStream(request: FastifyRequest, reply: FastifyReply, firstFrame: string, holder: StreamHolder): void {
  // Hooks (CORS, say) may have set headers on the reply; they must not be lost.
  // Built before the hijack: a header that fails validation is then
  // answered with a 500, not a stream that never answers.
  const extra = reply.getHeaders();
  const head = Object.keys(extra).length === 0 ? STREAM_HEAD : responseHead({ ...SECURITY_HEADERS, ...extra });
  reply.hijack();
  request.raw.socket.write(head + firstFrame, 'latin1');
  // Counted at once: a burst of requests in one turn (with SO_REUSEPORT a
  // worker's accept queue hands it dozens) must meet a cap that already
  // includes the streams answered before it in the same turn.
  holder.reserve?.();
  if (pending.length === 0) setImmediate(takeOverPending);
  pending.push([request.raw, reply.raw, holder, request.log]);
}
