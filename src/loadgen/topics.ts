// The topics a run's clients subscribe to with --topics T: connection i
// (numbered over the whole run) subscribes to topic i mod T, named
// `https://bench.test/t/<n>`, through the Mercure `match` query parameter. The
// benchmark publishes to the same names.

export const TOPIC_PREFIX = 'https://bench.test/t/';

export function topicName(index: number): string {
  return `${TOPIC_PREFIX}${index}`;
}

/**
 * The request target for `path` (which may carry a query already) with a
 * `match` parameter whose value ends where the topic number goes: the target
 * and the index of that point.
 */
export function topicTarget(path: string): { target: string; topicAt: number } {
  const target = `${path}${path.includes('?') ? '&' : '?'}match=${encodeURIComponent(TOPIC_PREFIX)}`;
  return { target, topicAt: target.length };
}
