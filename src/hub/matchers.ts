// Topic matchers (spec: "Matcher Types"): `exact`, `urlpattern`, and the
// wildcard `*`, which matches every topic whatever its matcher type. The same
// matchers select what a subscriber listens to (query parameters) and what a
// token grants (authorization details), so both are parsed here.
import { hasForbiddenCharacters } from './topic-rules.js';

export type MatcherType = 'exact' | 'urlpattern';
export const MATCHER_TYPES: readonly MatcherType[] = ['exact', 'urlpattern'];

export type Matcher =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact'; readonly topic: string }
  | { readonly kind: 'urlpattern'; readonly source: string; readonly pattern: URLPattern };

export const ANY: Matcher = Object.freeze({ kind: 'any' });

export class MatcherError extends Error {}

export interface MatcherLimits {
  /** Longest matcher value, in characters. */
  maxLength: number;
  /** The hub's URL: relative patterns and topics are resolved against it. */
  base: string;
}

/**
 * Why a URL pattern is refused before it is ever run. URLPattern compiles to
 * a backtracking regular expression, and Node offers no linear-time engine for
 * it, so the cost is bounded by the pattern's shape instead (spec: "URL-Pattern
 * Denial of Service" allows an implementation-defined cost limit):
 * - no custom regular expressions (`:id(\\d+)`), whose cost is anyone's guess;
 * - no `{...}` groups and no `+` repeats, which multiply the ways to split a topic;
 * - at most one variable part (`:name` or `*`) between two slashes, and at most
 *   one `*` in all. A named part cannot cross a slash, so each one has one
 *   place to go; the single `*` adds one linear factor.
 * Measured here: `https://e.com/:a-:b-:c-:d-:e-:f-:g-:h` took 1.1 s against one
 * 54-character topic; what these rules allow stays linear in the topic's length.
 */
function refuseCostlyShape(source: string, pattern: URLPattern): void {
  if (pattern.hasRegExpGroups) throw new MatcherError('custom regular expressions are not accepted in URL patterns');
  if (/[{}+]/.test(source.replace(/\\./g, ''))) throw new MatcherError('URL patterns may not use {} groups or + repeats');
  const bare = source.replace(/\\./g, '');
  if ((bare.match(/\*/g) ?? []).length > 1) throw new MatcherError('a URL pattern may hold at most one *');
  for (const piece of bare.split('/')) {
    const variables = (piece.match(/:[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*|\*/gu) ?? []).length;
    if (variables > 1) throw new MatcherError('a URL pattern may hold at most one :name or * between two slashes');
  }
}

/** Parses one matcher value of `type`; throws MatcherError with the reason when it cannot be used. */
export function parseMatcher(value: string, type: MatcherType, limits: MatcherLimits): Matcher {
  if (value === '*') return ANY;
  if (value.length === 0) throw new MatcherError('a matcher may not be empty');
  if (value.length > limits.maxLength) throw new MatcherError(`a matcher may be at most ${limits.maxLength} characters`);
  if (hasForbiddenCharacters(value)) throw new MatcherError('a matcher may not contain control or format characters');
  if (type === 'exact') return { kind: 'exact', topic: value };
  let pattern: URLPattern;
  try {
    pattern = new URLPattern(value, limits.base);
  } catch (err) {
    throw new MatcherError(`not a URL pattern: ${(err as Error).message}`);
  }
  refuseCostlyShape(value, pattern);
  return { kind: 'urlpattern', source: value, pattern };
}

/**
 * A 0.x topic selector: an exact topic, `*`, or a level-1 URI template
 * (RFC 6570, `https://example.com/books/{id}`), which is the URL pattern with
 * `:id` in its place. Wider templates ({+path}, {?q}) are refused.
 */
export function parseLegacySelector(value: string, limits: MatcherLimits): Matcher {
  if (!value.includes('{')) return parseMatcher(value, 'exact', limits);
  if (!/^[^{}]*(\{[A-Za-z_][A-Za-z0-9_]*\}[^{}]*)+$/.test(value)) throw new MatcherError('only simple URI templates ({name}) are supported');
  return parseMatcher(value.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1'), 'urlpattern', limits);
}

/** Whether a URL pattern matches `topic`; a topic that is no URL reference matches no pattern (spec: URL Pattern). */
export function patternMatches(pattern: URLPattern, topic: string, base: string): boolean {
  try {
    return pattern.test(topic, base);
  } catch {
    return false;
  }
}

export function matcherMatches(matcher: Matcher, topic: string, base: string): boolean {
  switch (matcher.kind) {
    case 'any':
      return true;
    case 'exact':
      return matcher.topic === topic;
    case 'urlpattern':
      return patternMatches(matcher.pattern, topic, base);
  }
}

/** Whether any of `matchers` matches any of `topics`. */
export function anyMatches(matchers: readonly Matcher[], topics: readonly string[], base: string): boolean {
  for (const matcher of matchers) {
    for (const topic of topics) if (matcherMatches(matcher, topic, base)) return true;
  }
  return false;
}

/** A key that is equal for equal matchers, so that each distinct pattern is stored and tested once. */
export function matcherKey(matcher: Matcher): string {
  return matcher.kind === 'any' ? '*' : matcher.kind === 'exact' ? `e:${matcher.topic}` : `u:${matcher.source}`;
}
