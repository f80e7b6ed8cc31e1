// Each worker's own read of the history: a blocking XREAD from the last entry
// it has seen. Every update published on any worker of any host reaches every
// worker this way, in the history's order, and a worker that loses Redis (a
// restart, a Sentinel failover) carries on from the last entry it handed on,
// so it misses nothing the history still holds.
//
// It has a connection of its own: a blocked XREAD holds its connection, and
// the counter's client fails any command that takes longer than
// REDIS_COMMAND_TIMEOUT_MS.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { loggableRedisError } from '../counter/redis-client.js';
import { fromStreamEntry, type StoredUpdate } from './update.js';

/** How long one XREAD waits for news; the client's own timeout is this plus REDIS_COMMAND_TIMEOUT_MS. */
export const BLOCK_MS = 5_000;
const BATCH = 1_000;
const RETRY_MS = 250;

type XReadReply = Array<[string, Array<[string, string[]]>]> | null;

export class UpdateSource {
  private running = false;
  private failing = false;
  private stopped: Promise<void> | undefined;
  /** The last entry handed on. */
  lastEntryId: string;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly onUpdates: (updates: StoredUpdate[]) => void,
    private readonly logger: Logger,
    startAfter: string,
  ) {
    this.lastEntryId = startAfter;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.redis.disconnect();
    await this.stopped;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let reply: XReadReply;
      try {
        reply = (await this.redis.xread('COUNT', BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', this.key, this.lastEntryId)) as XReadReply;
      } catch (err) {
        if (!this.running) return;
        if (!this.failing) {
          this.failing = true;
          // Never the raw error: a refused AUTH carries the password in its command's arguments.
          this.logger.warn({ err: loggableRedisError(err as Error), after: this.lastEntryId }, 'reading the update history failed; retrying from the last update seen');
        }
        // A command that timed out leaves a connection that may be frozen:
        // start a fresh one (with Sentinel, that asks the Sentinels again).
        if ((err as Error).message.includes('timed out')) this.redis.disconnect(true);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      if (this.failing) {
        this.failing = false;
        this.logger.info({ after: this.lastEntryId }, 'reading the update history again');
      }
      const entries = reply?.[0]?.[1];
      if (entries === undefined || entries.length === 0) continue;
      const updates: StoredUpdate[] = [];
      for (const [entryId, fields] of entries) {
        const update = fromStreamEntry(entryId, fields);
        if (update !== undefined) updates.push(update);
      }
      this.lastEntryId = entries[entries.length - 1]![0];
      if (updates.length > 0) this.onUpdates(updates);
    }
  }
}
