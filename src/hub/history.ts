// The hub's history: one Redis Stream that every worker on every host appends
// to and reads from. Its entry ids (`<ms>-<seq>`, given by Redis) put every
// update of the cluster in one order, and a subscriber's last event id is a
// place in it. https://redis.io/docs/latest/develop/data-types/streams/
import type { Redis } from 'ioredis';
import { compareEntryIds, fromStreamEntry, toStreamFields, type StoredUpdate, type Update } from './update.js';

type RawEntry = [string, string[]];

/** Entries read per round trip when replaying or searching. */
const PAGE = 1_000;

/** Where a replay starts: after `afterEntryId` (exclusive), or the whole history. */
export type ReplayStart =
  | { kind: 'after'; entryId: string }
  | { kind: 'earliest'; reason: 'asked' | 'unknown' | 'trimmed' };

export class History {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly size: number,
    /** Replicas that must hold an update before it is acknowledged (WAIT); 0 acknowledges at once. */
    private readonly replicas: number,
    private readonly waitTimeoutMs: number,
  ) {}

  /** Stores `update` and resolves with its entry id once Redis (and `replicas` replicas) hold it. */
  async append(update: Update): Promise<string> {
    // MAXLEN ~ trims whole macro-nodes only: cheap, and the history holds at
    // least `size` updates.
    const entryId = await this.redis.xadd(this.key, 'MAXLEN', '~', String(this.size), '*', ...toStreamFields(update));
    if (entryId === null) throw new Error('XADD returned no id');
    if (this.replicas > 0) {
      const acknowledged = await this.redis.wait(this.replicas, this.waitTimeoutMs);
      if (acknowledged < this.replicas) throw new ReplicationError(acknowledged, this.replicas);
    }
    return entryId;
  }

  /** The newest entry's id, or '0-0' for an empty history. */
  async lastEntryId(): Promise<string> {
    const last = (await this.redis.xrevrange(this.key, '+', '-', 'COUNT', 1)) as RawEntry[];
    return last[0]?.[0] ?? '0-0';
  }

  async length(): Promise<number> {
    return this.redis.xlen(this.key);
  }

  /**
   * Where to replay from for a client's last event id. A generated id names
   * its entry; a publisher's id is searched for, oldest first (spec:
   * Reconnection: a reused id resolves to the earliest update bearing it).
   */
  async resolve(lastEventId: string, entryIdOfEventId: (id: string) => string | undefined): Promise<ReplayStart> {
    if (lastEventId === 'earliest') return { kind: 'earliest', reason: 'asked' };
    const entryId = entryIdOfEventId(lastEventId);
    if (entryId !== undefined) {
      const found = (await this.redis.xrange(this.key, entryId, entryId)) as RawEntry[];
      if (found.length === 1) return { kind: 'after', entryId };
      // Not there: trimmed away if it is older than the oldest entry kept.
      const first = (await this.redis.xrange(this.key, '-', '+', 'COUNT', 1)) as RawEntry[];
      const trimmed = first[0] !== undefined && compareEntryIds(entryId, first[0][0]) < 0;
      return { kind: 'earliest', reason: trimmed ? 'trimmed' : 'unknown' };
    }
    let from = '-';
    for (;;) {
      const page = (await this.redis.xrange(this.key, from, '+', 'COUNT', PAGE)) as RawEntry[];
      for (const [id, fields] of page) {
        for (let i = 0; i + 1 < fields.length; i += 2) {
          if (fields[i] === 'id' && fields[i + 1] === lastEventId) return { kind: 'after', entryId: id };
        }
      }
      if (page.length < PAGE) return { kind: 'earliest', reason: 'unknown' };
      from = `(${page[page.length - 1]![0]}`;
    }
  }

  /** Every update after `afterEntryId` ('-' for all), up to the newest, in order, a page per round trip. */
  async *readAfter(afterEntryId: string): AsyncGenerator<StoredUpdate[]> {
    let from = afterEntryId === '-' ? '-' : `(${afterEntryId}`;
    for (;;) {
      const page = (await this.redis.xrange(this.key, from, '+', 'COUNT', PAGE)) as RawEntry[];
      const updates: StoredUpdate[] = [];
      for (const [id, fields] of page) {
        const update = fromStreamEntry(id, fields);
        if (update !== undefined) updates.push(update);
      }
      if (updates.length > 0) yield updates;
      if (page.length < PAGE) return;
      from = `(${page[page.length - 1]![0]}`;
    }
  }
}

export class ReplicationError extends Error {
  constructor(readonly acknowledged: number, readonly wanted: number) {
    super(`only ${acknowledged} of ${wanted} replicas acknowledged the update in time`);
    this.name = 'ReplicationError';
  }
}
