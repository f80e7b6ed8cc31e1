// /.well-known/mercure : the Mercure hub's endpoint (spec: Subscription,
// Publication). GET subscribes: an SSE stream like GET /'s, held and counted
// by the same registry, that also carries the updates its matchers select.
// POST publishes. OPTIONS answers browsers' CORS preflights.
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  Draining,
  Full,
  MercureBadRequest,
  MercureForbidden,
  MercureUnauthorized,
  MercureUnavailable,
  MercureUnsupportedMediaType,
} from '../../errors.js';
import { openingFrame } from '../../connections/sse-frames.js';
import { STREAM_ROUTE_OPTIONS, openStream } from '../open-stream.js';
import { acceptFormBodies, parseForm } from '../form-body.js';
import { Cors } from '../cors.js';
import { HUB_PATH } from '../../hub/topic-rules.js';
import { TokenError, TokenVerifier, presentedToken, type Grants } from '../../hub/authorization.js';
import { matcherMatches } from '../../hub/matchers.js';
import { parsePublishRequest } from '../../hub/publish-request.js';
import { MatcherCache, parseSubscribeRequest } from '../../hub/subscribe-request.js';
import { TooManyPublishes } from '../../hub/hub.js';
import { ReplicationError } from '../../hub/history.js';
import { loggableRedisError } from '../../counter/redis-client.js';
import type { WorkerState } from '../worker-state.js';

const LEGACY_COOKIE = 'mercureAuthorization';
const METADATA_PATH = `/.well-known/oauth-protected-resource${HUB_PATH}`;
const MATCHER_CACHE_SIZE = 10_000;

type Role = 'publish' | 'subscribe';

export function mercureRoutes(app: FastifyInstance, state: WorkerState): void {
  const { config, registry } = state;
  const mercure = config.mercure;
  const base = mercure.hubUrl;
  const limits = { maxLength: mercure.maxTopicLength, base };
  const verifierOptions = { legacyTokens: mercure.legacyTokens, trustedIssuers: mercure.trustedIssuers, limits, maxTopics: mercure.maxTopics };
  const verifiers: Record<Role, TokenVerifier | undefined> = {
    publish: mercure.publisherKey === undefined ? undefined : new TokenVerifier(mercure.publisherKey, verifierOptions),
    subscribe: mercure.subscriberKey === undefined ? undefined : new TokenVerifier(mercure.subscriberKey, verifierOptions),
  };
  const cookieNames = mercure.legacyTokens ? [mercure.cookieName, LEGACY_COOKIE] : [mercure.cookieName];
  const cors = new Cors(mercure.corsOrigins);
  const matcherCache = new MatcherCache(MATCHER_CACHE_SIZE);

  const resourceIdentifier = (request: FastifyRequest): string =>
    mercure.resourceIdentifier ?? `${request.protocol}://${request.host}${HUB_PATH}`;

  const metadataUrl = (request: FastifyRequest): string => `${request.protocol}://${request.host}${METADATA_PATH}`;

  /** RFC 6750 section 3: the challenge, with an error code for a token that was presented. */
  const challenge = (reply: FastifyReply, request: FastifyRequest, error?: 'invalid_token' | 'invalid_request' | 'insufficient_scope'): void => {
    const parts = [...(error === undefined ? [] : [`error="${error}"`]), `resource_metadata="${metadataUrl(request)}"`];
    reply.header('www-authenticate', `Bearer ${parts.join(', ')}`);
  };

  /**
   * The grants of the token the request presents, undefined when it
   * presents none. Throws the catalogue's error, with its challenge set.
   */
  const authenticate = async (request: FastifyRequest, reply: FastifyReply, role: Role): Promise<{ grants: Grants | undefined; fromCookie: boolean }> => {
    const { authorization, cookie } = request.headers;
    let token: string | undefined;
    try {
      // A hub with no key for this role reads no cookie: it could not check it, and a stale one must not lock a browser out.
      token = presentedToken(authorization, verifiers[role] === undefined ? undefined : cookie, cookieNames);
    } catch (err) {
      challenge(reply, request, 'invalid_request');
      throw new MercureBadRequest((err as Error).message);
    }
    if (token === undefined) return { grants: undefined, fromCookie: false };
    const verifier = verifiers[role];
    if (verifier === undefined) {
      challenge(reply, request, 'invalid_token');
      throw new MercureUnauthorized(`this hub has no ${role === 'publish' ? 'publisher' : 'subscriber'} key to check tokens with`);
    }
    try {
      return { grants: await verifier.verify(token, resourceIdentifier(request)), fromCookie: authorization === undefined };
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      request.log.debug({ reason: err.message, role }, 'token refused');
      challenge(reply, request, 'invalid_token');
      throw new MercureUnauthorized('the access token is not valid for this hub');
    }
  };

  /** Opens the stream of a subscriber already attached; one whose head cannot be written leaves the hub at once. */
  const openAttached = (request: FastifyRequest, reply: FastifyReply, socket: Socket): void => {
    try {
      openStream(request, reply, openingFrame(config.retryMs), registry);
    } catch (err) {
      state.hub?.detach(socket);
      throw err;
    }
  };

  app.get(HUB_PATH, STREAM_ROUTE_OPTIONS, async (request, reply) => {
    const hub = state.hub;
    if (hub === undefined) throw new MercureUnavailable('the hub is starting');
    if (state.draining) throw new Draining();
    if (registry.full) throw new Full(registry.maxConnections);
    const url = request.raw.url ?? '';
    const queryStart = url.indexOf('?');
    const query = queryStart === -1 ? '' : url.slice(queryStart + 1);
    const parsed = matcherCache.get(query, () =>
      parseSubscribeRequest(parseForm(Buffer.from(query, 'latin1')), { ...limits, maxMatchers: mercure.maxTopics, legacyTopicParameter: mercure.legacyTokens }),
    );
    const { grants } = await authenticate(request, reply, 'subscribe');
    if (grants === undefined && !mercure.anonymous) {
      challenge(reply, request);
      throw new MercureUnauthorized('this hub needs an access token to subscribe');
    }
    // The header wins over the query parameter (spec: Reconnection).
    const header = request.headers['last-event-id'];
    const lastEventId = typeof header === 'string' ? header : parsed.lastEventId;
    const socket = request.raw.socket;
    if (socket.destroyed) return undefined;
    const corsHeaders = cors.headersFor(request.headers.origin);
    if (corsHeaders !== undefined) reply.headers(corsHeaders);
    if (lastEventId === undefined) {
      hub.attach(socket, parsed.matchers, grants?.subscribe, grants?.expiresAt, false);
      openAttached(request, reply, socket);
      return undefined;
    }
    const subscriber = hub.attach(socket, parsed.matchers, grants?.subscribe, grants?.expiresAt, true);
    let start;
    try {
      start = await hub.resolve(lastEventId);
    } catch (err) {
      hub.detach(socket);
      request.log.warn({ err: loggableRedisError(err as Error) }, 'the history could not be read for a replay');
      throw new MercureUnavailable('the update history cannot be read right now; retry shortly');
    }
    // The id before the first update sent, or `earliest` when the requested one is not in the history.
    reply.header('mercure-last-event-id', start.kind === 'after' ? lastEventId : 'earliest');
    openAttached(request, reply, socket);
    await hub.replay(subscriber, start, lastEventId);
    return undefined;
  });

  acceptFormBodies(app, mercure.maxUpdateBytes);

  app.post(HUB_PATH, async (request, reply) => {
    const hub = state.hub;
    if (hub === undefined) throw new MercureUnavailable('the hub is starting');
    const corsHeaders = cors.headersFor(request.headers.origin);
    if (corsHeaders !== undefined) reply.headers(corsHeaders);
    const { grants, fromCookie } = await authenticate(request, reply, 'publish');
    if (grants === undefined && !mercure.publishWithoutToken) {
      challenge(reply, request);
      throw new MercureUnauthorized(
        verifiers.publish === undefined ? 'publishing is off: this hub has no MERCURE_PUBLISHER_JWT_KEY' : 'publishing needs an access token',
      );
    }
    // A cookie rides along with any page's request: a publish on one must
    // come from a page of an allowed origin, or of this hub (CSRF).
    if (fromCookie) {
      const origin = request.headers.origin ?? refererOrigin(request.headers.referer);
      if (origin === undefined || !(cors.allows(origin) || origin === `${request.protocol}://${request.host}`)) {
        challenge(reply, request, 'invalid_request');
        throw new MercureBadRequest('a publish authenticated by cookie must come from an allowed origin');
      }
    }
    if (!Buffer.isBuffer(request.body)) throw new MercureUnsupportedMediaType();
    const update = parsePublishRequest(parseForm(request.body), { maxTopics: mercure.maxTopics, maxTopicLength: mercure.maxTopicLength, base });
    // Every topic, canonical and alternate, must be granted (spec: Publishers).
    if (grants !== undefined && !update.topics.every((topic) => grants.publish.some((m) => matcherMatches(m, topic, base)))) {
      challenge(reply, request, 'insufficient_scope');
      throw new MercureForbidden('the access token does not grant publish on every topic of this update');
    }
    let id: string;
    try {
      id = await hub.publish(update);
    } catch (err) {
      if (err instanceof TooManyPublishes) throw new MercureUnavailable('too many publishes in flight on this worker; retry shortly');
      if (err instanceof ReplicationError) {
        request.log.warn({ err: loggableRedisError(err) }, 'an update was stored but not confirmed by enough replicas');
        throw new MercureUnavailable('the update reached the Redis master but not MERCURE_PUBLISH_REPLICAS replicas in time: it may still be delivered, and may be lost in a failover');
      }
      request.log.warn({ err: loggableRedisError(err as Error) }, 'an update could not be stored');
      throw new MercureUnavailable('the update history cannot be written right now; nothing was published');
    }
    return reply.code(200).type('text/plain; charset=utf-8').send(id);
  });

  app.options(HUB_PATH, (request, reply) => {
    const headers = cors.preflightHeadersFor(request.headers.origin);
    if (headers !== undefined) reply.headers(headers);
    return reply.code(204).send();
  });

  // RFC 9728 metadata, which the 401 challenges point to (spec: Discovery).
  app.get(METADATA_PATH, (request, reply) =>
    reply.send({
      resource: resourceIdentifier(request),
      bearer_methods_supported: ['header'],
      authorization_details_types_supported: ['https://mercure.rocks/authorization-detail'],
      mercure_cookie: mercure.cookieName,
      mercure_matcher_types_supported: ['exact', 'urlpattern'],
      mercure_subscriptions: false,
    }),
  );
}

function refererOrigin(referer: string | undefined): string | undefined {
  if (referer === undefined) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}
