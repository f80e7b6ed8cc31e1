// The primary's side of the count, above the counter store: it claims the
// host when a run starts, removes the share of workers that died (retrying
// while Redis is away), reaps hosts whose lease expired (only once our own
// connection has been up for a whole lease), and reads the count for the
// status feed once a second without ever freezing it. Kept out of the
// primary so that each rule is tested on its own with MemoryCounterStore.
import type { Logger } from '../logger.js';
import type { ClusterCount, CounterStore } from './counter-store.js';

/**
 * How long a dead worker's tombstone is kept. It guards against a report the
 * worker sent just before it died and Redis read just after the removal: that
 * is a matter of milliseconds (a dead process sends nothing more), so this
 * is ample, and it keeps the host's hash from growing with every worker a
 * rolling restart replaces.
 */
export const TOMBSTONE_KEEP_MS = 30_000;

export interface CountKeeperOptions {
  store: CounterStore;
  logger: Logger;
  leaseMs: number;
  /** REDIS_COMMAND_TIMEOUT_MS: how long a count read stays good to repeat while the next read is still out. */
  commandTimeoutMs: number;
  /** Whether the store's connection is up; while it is not, the tick does not even try. */
  isUp(): boolean;
  /** Every tick's outcome with Redis, for the hung-Redis watch. */
  onOutcome?(err?: unknown): void;
  /** A monotonic clock in ms; tests pass a fake one. */
  now?(): number;
}

export class CountKeeper {
  private readonly store: CounterStore;
  private readonly logger: Logger;
  private readonly now: () => number;
  private claimed = false;
  /** Dead workers whose share could not be removed yet (Redis was down); retried every tick. */
  private readonly dead = new Set<string>();
  /** Removed workers, by when: their tombstones are forgotten after TOMBSTONE_KEEP_MS. */
  private readonly tombstones = new Map<string, number>();
  private readyAt: number;
  private reading = false;
  private lastRead: { count: ClusterCount; at: number } | undefined;

  constructor(private readonly options: CountKeeperOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.now = options.now ?? (() => performance.now());
    this.readyAt = this.now();
  }

  /** True once this run holds its host: its workers' reports count. */
  get hostClaimed(): boolean {
    return this.claimed;
  }

  /**
   * Start-up: this run takes its host over, clearing what an earlier run with
   * the same HOST_ID left (see lua/claim.lua). Until it succeeds the workers'
   * reports are ignored, so each tick tries again. Never rejects.
   */
  async claim(): Promise<void> {
    if (this.claimed) return;
    try {
      const removed = await this.store.claimHost();
      this.claimed = true;
      if (removed > 0) this.logger.warn({ removed }, 'removed the share an earlier run of this host left');
    } catch (err) {
      this.logger.debug({ err }, 'could not claim this host yet; retrying every second');
    }
  }

  /**
   * The store's connection is (again) ready. While Redis is unreachable, or a
   * Sentinel failover is under way, no host can renew its lease, so a lease
   * that ran out then says nothing about its host. Reaping waits until our
   * own connection has been up for a whole lease: by then every live host has
   * reported again. (Without this, a failover longer than LEASE_MS removed
   * every host's share for a second.)
   */
  connectionReady(): void {
    this.readyAt = this.now();
  }

  /** A worker left without reporting its share as 0 (a crash), or left the host's workers (retired): its share goes. */
  workerGone(workerId: number | string): void {
    this.dead.add(String(workerId));
    this.removeDead();
  }

  /** Workers whose share is still to be removed. */
  get pendingDead(): number {
    return this.dead.size;
  }

  /**
   * One status tick: the count to show, or null when there is none. One read
   * at a time goes to Redis, and the other ticks do not wait for it: a Redis
   * that has stopped answering holds that read for up to the command timeout,
   * and the feed must not freeze with it. Meanwhile the ticks repeat the last
   * count read while it is younger than that timeout (a slow answer is not an
   * outage), then say there is none. Never rejects.
   */
  async tick(): Promise<ClusterCount | null> {
    if (this.reading) {
      const last = this.lastRead;
      return last !== undefined && this.now() - last.at < this.options.commandTimeoutMs ? last.count : null;
    }
    if (!this.options.isUp()) return null;
    this.reading = true;
    try {
      await this.claim();
      this.removeDead();
      this.forgetTombstones();
      if (this.now() - this.readyAt >= this.options.leaseMs) {
        const reaped = await this.store.reapExpiredHosts();
        if (reaped.length > 0) this.logger.warn({ hosts: reaped }, 'removed the share of hosts whose lease expired');
      }
      const count = await this.store.read();
      this.lastRead = { count, at: this.now() };
      this.options.onOutcome?.();
      return count;
    } catch (err) {
      this.options.onOutcome?.(err);
      return null;
    } finally {
      this.reading = false;
    }
  }

  /** Workers whose tombstone is still to be forgotten. */
  get pendingTombstones(): number {
    return this.tombstones.size;
  }

  private forgetTombstones(): void {
    const now = this.now();
    for (const [id, at] of this.tombstones) {
      if (now - at < TOMBSTONE_KEEP_MS) continue;
      // An ACL user without HDEL (a README line from before) keeps the tombstones, as before; retried each tick.
      this.store.forgetWorker(id).then(
        () => this.tombstones.delete(id),
        () => undefined,
      );
    }
  }

  private removeDead(): void {
    // Before the claim, a removal would be wiped by it, and a late report of
    // the dead worker would then count again.
    if (!this.claimed) return;
    for (const id of this.dead) {
      this.store.removeWorker(id).then(
        (removed) => {
          if (this.dead.delete(id)) this.tombstones.set(id, this.now());
          this.logger.info({ worker: Number(id), removed }, "removed a dead worker's share of the count");
        },
        () => undefined,
      );
    }
  }
}
