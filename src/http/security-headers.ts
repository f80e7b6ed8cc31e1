// Security headers on every response, streams included (open-stream.ts copies
// the reply's headers into the stream's head), from @fastify/helmet.
//
// The policy allows the page's own files and nothing else: public/ has no
// inline script or style, so neither needs 'unsafe-inline', and the feed and
// /ping are fetched from the same origin.
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export async function securityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
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
  });
}
