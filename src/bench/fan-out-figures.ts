// The fan-out's figures: what the publisher sent set against what the load
// generator's clients read (docs/loadgen.md, "Reading updates").
import type { Report as LoadgenReport } from '../loadgen/report.js';
import type { Percentiles } from '../loadgen/histogram.js';
import { median } from '../stats/median.js';
import type { BenchOptions } from './options.js';
import type { PublishFigures } from './publisher.js';

export interface FanOut {
  topics: number;
  publishRate: number;
  payloadBytes: number;
  /** The publisher's requests: accepted, failed by cause, and the time to the hub's answer. */
  publish: { attempted: number; ok: number; failed: { total: number; byReason: Record<string, number> }; latencyMs: Percentiles; seconds: number };
  /** Deliveries due: each accepted update times the clients subscribed to its topic. */
  expected: number;
  received: number;
  duplicates: number;
  outOfOrder: number;
  /** Due and not received: expected less received less duplicates (never below 0). */
  missing: number;
  deliveriesPerSec: number;
  /** From each update's publish time to a client's read of it. */
  deliveryMs: Percentiles;
  /**
   * A broadcast (one topic): per update, the time until the last client had
   * it; the median and the worst over the updates, and how many updates
   * reached every client. Null with several topics.
   */
  lastSubscriber: { updates: number; reachedAll: number; medianMs: number | null; maxMs: number | null } | null;
}

/** Clients of a run of `connections` on topic `topic` of `topics`: client i subscribes to topic i mod topics. */
export function subscribersOf(topic: number, topics: number, connections: number): number {
  return topic >= connections ? 0 : Math.floor((connections - 1 - topic) / topics) + 1;
}

export function fanOutFigures(options: BenchOptions, report: LoadgenReport, published: PublishFigures): FanOut {
  const { topics, connections } = options;
  const expected = published.okPerTopic.reduce((sum, ok, topic) => sum + ok * subscribersOf(topic, topics, connections), 0);
  const u = report.updates;
  const everyone = subscribersOf(0, topics, connections);
  const latest = u.arrivals.map(([, , ms]) => ms);
  return {
    topics,
    publishRate: options.publishRate,
    payloadBytes: options.payloadBytes,
    publish: { attempted: published.attempted, ok: published.ok, failed: published.failed, latencyMs: published.latencyMs, seconds: published.seconds },
    expected,
    received: u.updates,
    duplicates: u.duplicates,
    outOfOrder: u.outOfOrder,
    missing: Math.max(0, expected - (u.updates - u.duplicates)),
    deliveriesPerSec: published.seconds > 0 ? Math.round(u.updates / published.seconds) : 0,
    deliveryMs: u.deliveryMs,
    lastSubscriber:
      topics !== 1
        ? null
        : {
            updates: u.arrivals.length,
            reachedAll: u.arrivals.filter(([, count]) => count >= everyone).length,
            medianMs: latest.length === 0 ? null : Math.round(median(latest) * 10) / 10,
            maxMs: latest.length === 0 ? null : Math.round(Math.max(...latest) * 10) / 10,
          },
  };
}

/** One target's fan-out in a --compare nchan,floor run. */
export interface FanOutSide {
  target: string;
  fanOut: FanOut;
  /** The 1/s /ping prober's p99 during the fan-out; null where the target has no /ping (the floor). */
  pingP99Ms: number | null;
  gapP99Ms: number | null;
  serverCpuSeconds: number;
}

export interface FanOutComparison {
  sides: FanOutSide[];
  /** million-sse's figure over each reference's: under 1 is faster. Null where either is missing. */
  ratios: Record<string, { lastSubscriberMedian: number | null; deliveryP50: number | null; deliveryP99: number | null }>;
}

function ratio(ours: number | null | undefined, theirs: number | null | undefined): number | null {
  if (ours === null || ours === undefined || theirs === null || theirs === undefined || theirs <= 0) return null;
  return Math.round((ours / theirs) * 100) / 100;
}

export function compareFanOuts(sides: FanOutSide[]): FanOutComparison {
  const ours = sides[0]!.fanOut;
  const ratios: FanOutComparison['ratios'] = {};
  for (const side of sides.slice(1)) {
    ratios[side.target] = {
      lastSubscriberMedian: ratio(ours.lastSubscriber?.medianMs, side.fanOut.lastSubscriber?.medianMs),
      deliveryP50: ratio(ours.deliveryMs.p50, side.fanOut.deliveryMs.p50),
      deliveryP99: ratio(ours.deliveryMs.p99, side.fanOut.deliveryMs.p99),
    };
  }
  return { sides, ratios };
}
