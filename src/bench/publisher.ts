// The benchmark's publisher: sends updates at a paced rate, round-robin over
// the run's topics, for a bounded time, through one of three ways in:
//  - million-sse: the hub's HTTP API (POST /.well-known/mercure, form-encoded
//    topic, id and data, with a Bearer token);
//  - nchan: its publisher location (POST /pub?match=<topic>, the data as the body);
//  - the floor: one Redis PUBLISH on the floor's channel (fan-out-floor-server.ts).
//
// Each update is what the load generator reads as one (docs/loadgen.md,
// "Reading updates"): its data starts with the publish time in ms since the
// epoch, taken just before the request is sent, then n, numbering that
// topic's updates from 1, padded to the payload size; its id is
// `bench-t<topic>-<n>` (a server that numbers its own ids, such as nchan,
// still has n in the data), so the clients can count duplicates and gaps per
// topic.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { Redis } from 'ioredis';
import { Histogram, type Percentiles } from '../loadgen/histogram.js';
import { topicName } from '../loadgen/topics.js';

const TICK_MS = 10;
// Requests in flight at once; past it an update due is not sent and counts as BACKLOG.
const MAX_IN_FLIGHT = 256;
const REQUEST_TIMEOUT_MS = 10_000;
const ISSUER = 'https://bench.test/publisher';
export const BENCH_AUDIENCE = 'https://bench.test/.well-known/mercure';

/** A fresh publisher key, and the hub settings that accept tokens signed with it. */
export function publisherKey(): { secret: string; env: Record<string, string> } {
  const secret = randomBytes(32).toString('hex');
  return {
    secret,
    env: { MERCURE_PUBLISHER_JWT_KEY: secret, MERCURE_TRUSTED_ISSUERS: ISSUER, MERCURE_RESOURCE_IDENTIFIER: BENCH_AUDIENCE },
  };
}

/** An access token (RFC 9068, typ at+jwt) granting publish on every topic, for an hour past the run's length. */
export function publisherToken(secret: string, validSeconds: number): Promise<string> {
  return new SignJWT({ authorization_details: [{ type: 'https://mercure.rocks/authorization-detail', actions: ['publish'], topics: [{ match: '*' }] }] })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(BENCH_AUDIENCE)
    .setExpirationTime(Math.floor(Date.now() / 1000) + validSeconds + 3600)
    .sign(new TextEncoder().encode(secret));
}

export interface PublishFigures {
  attempted: number;
  ok: number;
  failed: { total: number; byReason: Record<string, number> };
  latencyMs: Percentiles;
  /** Updates accepted by the hub, per topic index. */
  okPerTopic: number[];
  seconds: number;
}

/** Sends one update; resolves with undefined when it was accepted, else with the cause of the failure. */
export type Send = (topic: string, id: string, data: string) => Promise<string | undefined>;

/** How a target takes updates. */
export type PublishRoute = { kind: 'hub'; url: string; secret: string } | { kind: 'nchan'; url: string } | { kind: 'redis'; port: number; channel: string };

/** One POST, bounded by REQUEST_TIMEOUT_MS: undefined on a 2xx answer, else the cause. */
function post(agent: http.Agent, url: URL, headers: Record<string, string>, body: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    // A request can fail on the request and on the response: one outcome each.
    let settled = false;
    const settle = (failure: string | undefined): void => {
      if (settled) return;
      settled = true;
      resolve(failure);
    };
    const request = http.request(
      url,
      { method: 'POST', agent, timeout: REQUEST_TIMEOUT_MS, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        response.once('end', () => settle(status >= 200 && status < 300 ? undefined : `HTTP_${status}`));
        response.once('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
      },
    );
    request.once('timeout', () => request.destroy(Object.assign(new Error('publish timed out'), { code: 'TIMEOUT' })));
    request.once('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
    request.end(body);
  });
}

/** A sender for `route`, and how to close what it opened. */
export async function senderFor(route: PublishRoute, validSeconds: number): Promise<{ send: Send; close(): void }> {
  if (route.kind === 'redis') {
    const redis = new Redis({ port: route.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: REQUEST_TIMEOUT_MS });
    await redis.connect();
    // The floor's message: the topic, a newline, and the whole SSE frame it writes as it is.
    const send: Send = (topic, id, data) =>
      redis.publish(route.channel, `${topic}\nid: ${id}\ndata: ${data}\n\n`).then(
        () => undefined,
        (err: NodeJS.ErrnoException) => err.code ?? err.message,
      );
    return { send, close: () => redis.disconnect() };
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const close = (): void => agent.destroy();
  if (route.kind === 'nchan') {
    const base = new URL(route.url);
    const send: Send = (topic, _id, data) => {
      const url = new URL(base);
      url.searchParams.set('match', topic);
      return post(agent, url, { 'content-type': 'text/plain' }, data);
    };
    return { send, close };
  }
  const token = await publisherToken(route.secret, validSeconds);
  const url = new URL(route.url);
  const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token}` };
  const send: Send = (topic, id, data) =>
    post(agent, url, headers, new URLSearchParams([['topic', topic], ['id', id], ['data', data]]).toString());
  return { send, close };
}

export interface PublisherOptions {
  send: Send;
  /** Updates per second over all topics. */
  rate: number;
  topics: number;
  payloadBytes: number;
}

export class Publisher {
  private readonly latency = new Histogram();
  private readonly sequence: number[];
  private readonly okPerTopic: number[];
  private readonly failures: Record<string, number> = {};
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private stoppedAt = 0;
  private attempted = 0;
  private ok = 0;
  private due = 0;

  constructor(private readonly options: PublisherOptions) {
    this.sequence = new Array<number>(options.topics).fill(0);
    this.okPerTopic = new Array<number>(options.topics).fill(0);
  }

  /** Updates sent so far, answered or not. */
  get sent(): number {
    return this.attempted - (this.failures.BACKLOG ?? 0);
  }

  start(): void {
    this.started = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.tick();
  }

  /** Stops publishing, waits for the requests in flight (each bounded by its timeout), and gives the figures. */
  async stop(): Promise<PublishFigures> {
    clearInterval(this.timer);
    this.stoppedAt = performance.now();
    await Promise.all([...this.inFlight]);
    const failedTotal = Object.values(this.failures).reduce((a, b) => a + b, 0);
    return {
      attempted: this.attempted,
      ok: this.ok,
      failed: { total: failedTotal, byReason: { ...this.failures } },
      latencyMs: this.latency.summary(),
      okPerTopic: [...this.okPerTopic],
      seconds: Math.round((this.stoppedAt - this.started) / 100) / 10,
    };
  }

  private tick(): void {
    // Due by the clock since the start, so a late tick catches up instead of lowering the rate.
    const target = Math.floor(((performance.now() - this.started) * this.options.rate) / 1_000) + 1;
    while (this.due < target) {
      this.due++;
      if (this.inFlight.size >= MAX_IN_FLIGHT) {
        this.fail('BACKLOG');
        continue;
      }
      this.publishOne();
    }
  }

  private fail(reason: string): void {
    this.failures[reason] = (this.failures[reason] ?? 0) + 1;
  }

  private publishOne(): void {
    const topic = this.attempted % this.options.topics;
    this.attempted++;
    const n = ++this.sequence[topic]!;
    const sentAt = performance.now();
    const time = (performance.timeOrigin + sentAt).toFixed(3);
    const head = `${time} ${n} `;
    const data = `${head}${'x'.repeat(Math.max(0, this.options.payloadBytes - head.length))}`;
    const done = this.options.send(topicName(topic), `bench-t${topic}-${n}`, data).then((failure) => {
      if (failure !== undefined) return this.fail(failure);
      this.ok++;
      this.okPerTopic[topic]!++;
      this.latency.record(performance.now() - sentAt);
    });
    this.inFlight.add(done);
    void done.then(() => this.inFlight.delete(done));
  }
}
