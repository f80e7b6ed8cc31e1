// An update as the hub keeps it: validated fields, stored in the history (a
// Redis Stream) and turned, once per worker, into the bytes every matching
// subscriber is sent.
import { isGeneratedId } from './topic-rules.js';

export interface Update {
  /** The canonical topic first, then the alternate topics. */
  readonly topics: readonly string[];
  readonly data: string;
  readonly private: boolean;
  /** The publisher's id; undefined when the hub generates one from the history's entry id. */
  readonly id: string | undefined;
  readonly type: string | undefined;
  readonly retry: number | undefined;
}

/** An update read back from the history, with its place in it. */
export interface StoredUpdate extends Update {
  /** The Redis Stream entry id, `<ms>-<seq>`: the order of the history. */
  readonly entryId: string;
}

/** The id subscribers see: the publisher's, or `#<entry id>` (a fragment, which a publisher's id may never be). */
export function eventIdOf(update: StoredUpdate): string {
  return update.id ?? `#${update.entryId}`;
}

/** The entry id inside a generated event id, or undefined for a publisher's id. */
export function entryIdOfEventId(eventId: string): string | undefined {
  if (!isGeneratedId(eventId)) return undefined;
  const entryId = eventId.slice(1);
  return /^\d{1,20}-\d{1,20}$/.test(entryId) ? entryId : undefined;
}

/** Field-value pairs for XADD. Absent optional fields are left out. */
export function toStreamFields(update: Update): string[] {
  const fields = ['topics', JSON.stringify(update.topics), 'data', update.data];
  if (update.private) fields.push('private', '1');
  if (update.id !== undefined) fields.push('id', update.id);
  if (update.type !== undefined) fields.push('type', update.type);
  if (update.retry !== undefined) fields.push('retry', String(update.retry));
  return fields;
}

/** An entry as XRANGE/XREAD return it; undefined for one this hub did not write. */
export function fromStreamEntry(entryId: string, fields: readonly string[]): StoredUpdate | undefined {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  let topics: unknown;
  try {
    topics = JSON.parse(map.get('topics') ?? 'null');
  } catch {
    return undefined;
  }
  if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === 'string')) return undefined;
  const retry = map.get('retry');
  return {
    entryId,
    topics: topics as string[],
    data: map.get('data') ?? '',
    private: map.get('private') === '1',
    id: map.get('id'),
    type: map.get('type'),
    retry: retry === undefined ? undefined : Number(retry),
  };
}

/** Orders two stream entry ids (`<ms>-<seq>`): negative, zero or positive. */
export function compareEntryIds(a: string, b: string): number {
  const dashA = a.indexOf('-');
  const dashB = b.indexOf('-');
  const msA = BigInt(a.slice(0, dashA));
  const msB = BigInt(b.slice(0, dashB));
  if (msA !== msB) return msA < msB ? -1 : 1;
  const seqA = BigInt(a.slice(dashA + 1));
  const seqB = BigInt(b.slice(dashB + 1));
  return seqA === seqB ? 0 : seqA < seqB ? -1 : 1;
}
