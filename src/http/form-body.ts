// application/x-www-form-urlencoded, parsed strictly: the bytes must be UTF-8
// and every percent-escape must decode to UTF-8 too. URLSearchParams would
// quietly turn either into U+FFFD, and the hub would store and forward a topic
// or a payload the publisher never sent. https://url.spec.whatwg.org/#urlencoded-parsing
import type { FastifyInstance } from 'fastify';
import { BadForm } from '../errors.js';

/** Name-value pairs in the order they came, names repeated as they were. */
export type FormPairs = ReadonlyArray<readonly [string, string]>;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeComponent(raw: string): string {
  const plus = raw.replace(/\+/g, ' ');
  if (!plus.includes('%')) return plus;
  // Bytes, not code points: %C3%A9 is one character, a stray % is kept as it is.
  const bytes: number[] = [];
  for (let i = 0; i < plus.length; i++) {
    const char = plus.charCodeAt(i);
    if (char === 0x25 && /^[0-9A-Fa-f]{2}$/.test(plus.slice(i + 1, i + 3))) {
      bytes.push(parseInt(plus.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (char < 0x80) {
      bytes.push(char);
    } else {
      bytes.push(...Buffer.from(plus[i]!, 'utf8'));
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw new BadForm('a percent-escape does not decode to UTF-8');
  }
}

export function parseForm(body: Buffer): FormPairs {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new BadForm('the body is not UTF-8');
  }
  const pairs: Array<[string, string]> = [];
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    pairs.push([decodeComponent(name), decodeComponent(value)]);
  }
  return pairs;
}

/**
 * Lets Fastify accept form bodies, as raw Buffers up to `limit` bytes (a
 * larger one is answered 413 by Fastify before it is read in full); the route
 * parses them with parseForm, so a bad one gets its 400 from the route.
 */
export function acceptFormBodies(app: FastifyInstance, limit: number): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: limit }, (_request, body, done) => {
    done(null, body);
  });
}
