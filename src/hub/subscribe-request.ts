// A subscription's query (spec: Subscription): its topic matchers and the
// last event id it resumes from. Parsed matcher lists are shared between
// subscribers that sent the same query (a dashboard's thousands of viewers
// usually do), so each holds a reference instead of its own copy.
import { MercureBadRequest } from '../errors.js';
import type { FormPairs } from '../http/form-body.js';
import { MatcherError, parseLegacySelector, parseMatcher, type Matcher, type MatcherLimits, type MatcherType } from './matchers.js';

export interface SubscribeRequest {
  readonly matchers: readonly Matcher[];
  /** `last_event_id` from the query; the Last-Event-ID header, when sent, wins over it. */
  readonly lastEventId: string | undefined;
}

export interface SubscribeLimits extends MatcherLimits {
  maxMatchers: number;
  /** Accept 0.x's `topic` parameter (an exact topic, `*`, or a level-1 URI template). */
  legacyTopicParameter: boolean;
}

const PARAMETERS: Readonly<Record<string, MatcherType>> = { match: 'exact', match_exact: 'exact', match_urlpattern: 'urlpattern' };

export function parseSubscribeRequest(pairs: FormPairs, limits: SubscribeLimits): SubscribeRequest {
  const matchers: Matcher[] = [];
  const seen = new Set<string>();
  let lastEventId: string | undefined;
  for (const [name, value] of pairs) {
    if (name === 'last_event_id') {
      lastEventId ??= value;
      continue;
    }
    const type = PARAMETERS[name];
    const legacy = name === 'topic' && limits.legacyTopicParameter;
    if (type === undefined && !legacy) {
      // The whole `match` prefix is reserved: a misspelt matcher type fails loudly.
      if (/^match/i.test(name)) throw new MercureBadRequest(`unknown matcher parameter ${JSON.stringify(name)}: use match, match_exact or match_urlpattern`);
      continue;
    }
    // Identical matchers would only be tested twice.
    const key = `${legacy ? 'topic' : type}\n${value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (matchers.length === limits.maxMatchers) throw new MercureBadRequest(`more than ${limits.maxMatchers} topic matchers`);
    try {
      matchers.push(legacy ? parseLegacySelector(value, limits) : parseMatcher(value, type!, limits));
    } catch (err) {
      if (err instanceof MatcherError) throw new MercureBadRequest(`${name}=${JSON.stringify(value.slice(0, 100))}: ${err.message}`);
      throw err;
    }
  }
  if (matchers.length === 0) throw new MercureBadRequest('missing "match": a subscription needs at least one topic matcher');
  return { matchers, lastEventId };
}

/** Shares parsed matcher lists between identical queries, up to `size` distinct ones (oldest forgotten first). */
export class MatcherCache {
  private readonly entries = new Map<string, SubscribeRequest>();
  constructor(private readonly size: number) {}

  get(query: string, parse: () => SubscribeRequest): SubscribeRequest {
    const cached = this.entries.get(query);
    if (cached !== undefined) return cached;
    const parsed = parse();
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(query, parsed);
    return parsed;
  }
}
