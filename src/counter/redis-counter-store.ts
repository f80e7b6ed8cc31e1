// The counter store on Redis. Keys (with the default COUNT_KEY=connections):
//   connections                    the cluster-wide total, an integer string (`redis-cli GET connections`)
//   connections:hosts              set of host ids that hold a share of the total
//   connections:host:<hostId>      hash: worker id -> that worker's count, "dead" once removed
//   connections:lease:<hostId>     the time of the host's last report; expires LEASE_MS after it
//   connections:run:<hostId>       the id of the primary's run whose reports count (see lua/claim.lua)
//   connections:gone               the last 20 hosts that left: id, cause, share, time
// Every change to the total goes through one Lua script that also records whose
// change it is, so any share can be taken out again exactly. See lua/*.lua.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { ClusterCount, CounterStore, GoneHost } from './counter-store.js';

// The scripts live beside the sources; this resolves from src/ and from dist/ alike.
const LUA_DIR = new URL('../../src/counter/lua/', import.meta.url);
const lua = (name: string): string => readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');

interface CounterCommands {
  msseReport(total: string, hash: string, lease: string, hosts: string, run: string, worker: string, held: number, leaseMs: number, hostId: string, runId: string): Promise<number>;
  msseClaim(total: string, hash: string, run: string, runId: string): Promise<number>;
  msseRemoveWorker(total: string, hash: string, worker: string): Promise<number>;
  msseForgetWorker(hash: string, worker: string): Promise<number>;
  msseRemoveHost(total: string, hash: string, lease: string, hosts: string, gone: string, run: string, hostId: string, cause: string): Promise<number>;
  msseReap(total: string, hosts: string, gone: string, prefix: string): Promise<(string | number)[]>;
  msseHosts(total: string, hosts: string, gone: string, prefix: string): Promise<[number, number, Array<[string, number, number, number]>, string[]]>;
}

function goneHost(entry: string): GoneHost {
  const [id = '', cause = '', connections = '0', at = '0'] = entry.split('\t');
  return { id, cause, connections: Number(connections), at: Number(at) };
}

export interface RedisCounterStoreOptions {
  countKey: string;
  hostId: string;
  leaseMs: number;
  /**
   * The id of this primary's run, the same in the primary and its workers: a
   * restarted primary starts a new run, and reports of an earlier one no
   * longer count (see lua/claim.lua).
   */
  runId: string;
}

export class RedisCounterStore implements CounterStore {
  private readonly redis: Redis & CounterCommands;
  private readonly total: string;
  private readonly prefix: string;
  private readonly hosts: string;
  private readonly hash: string;
  private readonly lease: string;
  private readonly gone: string;
  private readonly run: string;

  constructor(redis: Redis, private readonly options: RedisCounterStoreOptions) {
    // defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT, which is
    // what a restarted, empty Redis answers.
    redis.defineCommand('msseReport', { numberOfKeys: 5, lua: lua('report') });
    redis.defineCommand('msseClaim', { numberOfKeys: 3, lua: lua('claim') });
    redis.defineCommand('msseRemoveWorker', { numberOfKeys: 2, lua: lua('remove-worker') });
    redis.defineCommand('msseForgetWorker', { numberOfKeys: 1, lua: lua('forget-worker') });
    redis.defineCommand('msseRemoveHost', { numberOfKeys: 6, lua: lua('remove-host') });
    redis.defineCommand('msseReap', { numberOfKeys: 3, lua: lua('reap') });
    redis.defineCommand('msseHosts', { numberOfKeys: 3, lua: lua('hosts') });
    this.redis = redis as Redis & CounterCommands;
    this.total = options.countKey;
    this.prefix = `${options.countKey}:`;
    this.hosts = `${this.prefix}hosts`;
    this.hash = `${this.prefix}host:${options.hostId}`;
    this.lease = `${this.prefix}lease:${options.hostId}`;
    this.gone = `${this.prefix}gone`;
    this.run = `${this.prefix}run:${options.hostId}`;
  }

  async report(workerId: string, held: number): Promise<void> {
    await this.redis.msseReport(this.total, this.hash, this.lease, this.hosts, this.run, workerId, held, this.options.leaseMs, this.options.hostId, this.options.runId);
  }

  claimHost(): Promise<number> {
    return this.redis.msseClaim(this.total, this.hash, this.run, this.options.runId);
  }

  removeWorker(workerId: string): Promise<number> {
    return this.redis.msseRemoveWorker(this.total, this.hash, workerId);
  }

  async forgetWorker(workerId: string): Promise<boolean> {
    return (await this.redis.msseForgetWorker(this.hash, workerId)) === 1;
  }

  /** `remember: false` leaves no trace in the list of hosts gone (the start-up check's own host). */
  removeHost({ remember = true }: { remember?: boolean } = {}): Promise<number> {
    return this.redis.msseRemoveHost(this.total, this.hash, this.lease, this.hosts, this.gone, this.run, this.options.hostId, remember ? 'stopped' : '');
  }

  async reapExpiredHosts(): Promise<string[]> {
    const flat = await this.redis.msseReap(this.total, this.hosts, this.gone, this.prefix);
    return flat.filter((_, i) => i % 2 === 0).map(String);
  }

  async read(): Promise<ClusterCount> {
    const [total, now, hosts, gone] = await this.redis.msseHosts(this.total, this.hosts, this.gone, this.prefix);
    return {
      connections: total,
      hosts: hosts.length,
      perHost: hosts
        .map(([id, connections, workers, leasedAt]) => ({ id, connections, workers, leaseAgeMs: leasedAt < 0 ? null : Math.max(0, now - leasedAt) }))
        .sort((a, b) => a.id.localeCompare(b.id)),
      gone: gone.map(goneHost),
    };
  }
}
