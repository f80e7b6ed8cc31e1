// Takes a socket away from Node's HTTP machinery once Fastify has routed the
// request, so that a held stream keeps only its net.Socket.
//
// Left alone, every open response keeps an IncomingMessage, a ServerResponse,
// an HTTP parser (with its async resource), Fastify's Request and Reply, and
// five closures bound to the connection's state: several kilobytes per
// connection, and at a million connections several gigabytes. Node itself
// does the same detachment when a request upgrades (see `onParserExecuteCommon`
// in lib/_http_server.js): it removes its socket listeners, unconsumes the
// parser from the handle and frees it. We follow that sequence.
//
// Freeing the parser also removes the socket from the server's list of
// connections, so neither headersTimeout nor requestTimeout can close a stream.
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';

interface HttpCommon {
  freeParser(parser: unknown, req: IncomingMessage | null, socket: Socket | null): void;
}
// `_http_common` is Node's own module for the parser pool; it has been stable
// since Node 0.x and is what the upgrade path calls.
const { freeParser } = createRequire(import.meta.url)('_http_common') as HttpCommon;

type HttpSocket = Socket & { parser?: unknown };

export function takeOverSocket(req: IncomingMessage, res: ServerResponse): Socket {
  const socket = req.socket as HttpSocket;
  res.detachSocket(socket);
  // Every listener goes: the HTTP server's (data, end, close, drain, error,
  // timeout, resume, pause: all bound to per-connection state) and any a
  // plugin added. Removing them all at once also gives the socket a fresh
  // listener table; removing them one event at a time leaves it a
  // slow-mode dictionary, about 150 bytes more per connection.
  socket.removeAllListeners();
  freeParser(socket.parser ?? null, req, socket);
  // The server wraps these per socket to unconsume the parser on a 'data'
  // listener; with the parser gone, plain methods are all that is needed.
  socket.on = Socket.prototype.on;
  socket.addListener = Socket.prototype.addListener;
  socket.prependListener = Socket.prototype.prependListener;
  socket.setTimeout(0);
  return socket;
}

function destroySelf(this: Socket): void {
  this.destroy();
}

function ignoreError(): void {
  // A reset or broken pipe is how clients leave; 'close' follows and runs the teardown.
}

/**
 * Wires a taken-over socket to a teardown shared by every connection of its
 * kind (`onGone` receives the socket as `this`, so nothing is allocated per
 * connection). 'close' follows every way a socket can end, so the teardown
 * hangs off 'close' alone.
 */
export function holdSocket(socket: Socket, onGone: (this: Socket) => void): void {
  socket.on('close', onGone);
  socket.on('error', ignoreError);
  // A client that half-closes is gone: the HTTP server allows half-open sockets, we do not.
  socket.on('end', destroySelf);
  // Read and discard whatever the client sends, so that its FIN is seen at once.
  socket.resume();
}
