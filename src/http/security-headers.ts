// Security headers on every response, from helmet (through @fastify/helmet).
//
// The policy allows the page's own files and nothing else: public/ has no
// inline script or style, so neither needs 'unsafe-inline', and the feed and
// /ping are fetched from the same origin.
//
// The two stream routes take the same headers another way. They are the same
// for every response (no nonces), so they are worked out once, by helmet
// itself, and written in each stream's head with the rest of it: helmet's
// hooks would otherwise run for every one of a million connections, and a
// ramp is CPU-bound.
import type { IncomingMessage, ServerResponse } from 'node:http';
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import helmet, { type HelmetOptions } from 'helmet';
import type { FastifyInstance } from 'fastify';

const OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'"],
      connectSrc: ["'self'"],
      fontSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
  // The server speaks plain HTTP; TLS, when there is any, ends in front of
  // it. Upgrading the page's requests to https would break the dashboard on
  // a LAN address, and HSTS belongs to whatever terminates TLS.
  strictTransportSecurity: false,
  referrerPolicy: { policy: 'no-referrer' },
};

export async function securityHeaders(app: FastifyInstance): Promise<void> {
  // The same options object: @fastify/helmet's types see helmet's CommonJS
  // declarations and this file its ES module ones, two copies of one type.
  await app.register(fastifyHelmet, OPTIONS as FastifyHelmetOptions);
}

/** The headers helmet sets on a response, by lower-case name: what each stream's head carries. */
export function streamSecurityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(OPTIONS)({} as IncomingMessage, response as unknown as ServerResponse, () => undefined);
  return headers;
}
