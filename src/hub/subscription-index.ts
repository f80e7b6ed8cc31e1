// Which subscribers of one worker listen to which topics. Exact matchers are
// looked up by topic; each distinct URL pattern is kept once with the set of
// its subscribers, so an update tests every distinct pattern once, however
// many subscribers share it (DESIGN: "Fan-out").
import type { Subscriber } from './subscriber.js';
import { patternMatches } from './matchers.js';

interface PatternEntry {
  readonly pattern: URLPattern;
  readonly subscribers: Set<Subscriber>;
}

export class SubscriptionIndex {
  private readonly exact = new Map<string, Set<Subscriber>>();
  private readonly patterns = new Map<string, PatternEntry>();
  private readonly everything = new Set<Subscriber>();
  private count = 0;

  constructor(private readonly base: string) {}

  get size(): number {
    return this.count;
  }

  get distinctPatterns(): number {
    return this.patterns.size;
  }

  add(subscriber: Subscriber): void {
    for (const matcher of subscriber.matchers) {
      if (matcher.kind === 'any') this.everything.add(subscriber);
      else if (matcher.kind === 'exact') {
        let set = this.exact.get(matcher.topic);
        if (set === undefined) this.exact.set(matcher.topic, (set = new Set()));
        set.add(subscriber);
      } else {
        let entry = this.patterns.get(matcher.source);
        if (entry === undefined) this.patterns.set(matcher.source, (entry = { pattern: matcher.pattern, subscribers: new Set() }));
        entry.subscribers.add(subscriber);
      }
    }
    this.count++;
  }

  remove(subscriber: Subscriber): void {
    for (const matcher of subscriber.matchers) {
      if (matcher.kind === 'any') this.everything.delete(subscriber);
      else if (matcher.kind === 'exact') {
        const set = this.exact.get(matcher.topic);
        if (set !== undefined && set.delete(subscriber) && set.size === 0) this.exact.delete(matcher.topic);
      } else {
        const entry = this.patterns.get(matcher.source);
        if (entry !== undefined && entry.subscribers.delete(subscriber) && entry.subscribers.size === 0) {
          this.patterns.delete(matcher.source);
        }
      }
    }
    this.count--;
  }

  /** Every subscriber that listens to at least one of `topics`, each once, in no particular order. */
  select(topics: readonly string[]): Subscriber[] {
    // The common case, one topic and exact matchers only, needs no union.
    if (topics.length === 1 && this.patterns.size === 0 && this.everything.size === 0) {
      const set = this.exact.get(topics[0]!);
      return set === undefined ? [] : [...set];
    }
    const chosen = new Set<Subscriber>(this.everything);
    for (const topic of topics) {
      const set = this.exact.get(topic);
      if (set !== undefined) for (const subscriber of set) chosen.add(subscriber);
    }
    for (const entry of this.patterns.values()) {
      for (const topic of topics) {
        if (patternMatches(entry.pattern, topic, this.base)) {
          for (const subscriber of entry.subscribers) chosen.add(subscriber);
          break;
        }
      }
    }
    return [...chosen];
  }
}
