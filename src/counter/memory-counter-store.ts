// The counter store's rules without Redis, for unit tests of the code above
// the seam. Several instances may share one `MemoryCounterState`, as several
// hosts share one Redis.
import type { ClusterCount, CounterStore, GoneHost } from './counter-store.js';

const DEAD = -1;

export class MemoryCounterState {
  total = 0;
  readonly hosts = new Map<string, { workers: Map<string, number>; leaseUntil: number; reportedAt: number }>();
  /** Host id -> the run whose reports count (Redis: <prefix>run:<hostId>). */
  readonly runs = new Map<string, string>();
  /** Newest first, at most 20, as in Redis. */
  readonly gone: GoneHost[] = [];
}

export class MemoryCounterStore implements CounterStore {
  constructor(
    private readonly state: MemoryCounterState,
    private readonly hostId: string,
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
    private readonly runId = 'run-1',
  ) {}

  private host() {
    let host = this.state.hosts.get(this.hostId);
    if (host === undefined) {
      host = { workers: new Map(), leaseUntil: 0, reportedAt: 0 };
      this.state.hosts.set(this.hostId, host);
    }
    return host;
  }

  async claimHost(): Promise<number> {
    if (this.state.runs.get(this.hostId) === this.runId) return 0;
    return this.clearHost();
  }

  /** The clean slate of claim.lua: the host's earlier share leaves the total, and this run holds it. */
  private clearHost(): number {
    // As in Redis, a claim alone does not make a host one of those with a share: its first report does.
    const host = this.state.hosts.get(this.hostId);
    let sum = 0;
    for (const held of host?.workers.values() ?? []) sum += Math.max(0, held);
    host?.workers.clear();
    this.state.total -= sum;
    this.state.runs.set(this.hostId, this.runId);
    return sum;
  }

  async report(workerId: string, held: number): Promise<void> {
    const run = this.state.runs.get(this.hostId);
    if (run !== this.runId) {
      if (run !== undefined) return;
      this.clearHost();
    }
    const host = this.host();
    const old = host.workers.get(workerId) ?? 0;
    if (old === DEAD) return;
    host.workers.set(workerId, held);
    host.reportedAt = this.now();
    host.leaseUntil = host.reportedAt + this.leaseMs;
    this.state.total += held - old;
  }

  async removeWorker(workerId: string): Promise<number> {
    const host = this.host();
    const old = Math.max(0, host.workers.get(workerId) ?? 0);
    host.workers.set(workerId, DEAD);
    this.state.total -= old;
    return old;
  }

  async forgetWorker(workerId: string): Promise<boolean> {
    const host = this.state.hosts.get(this.hostId);
    return host?.workers.get(workerId) === DEAD && host.workers.delete(workerId);
  }

  async removeHost(): Promise<number> {
    return this.remove(this.hostId, 'stopped');
  }

  async reapExpiredHosts(): Promise<string[]> {
    const expired = [...this.state.hosts].filter(([, host]) => host.leaseUntil <= this.now()).map(([id]) => id);
    for (const id of expired) this.remove(id, 'lease expired');
    return expired;
  }

  async read(): Promise<ClusterCount> {
    const now = this.now();
    const perHost = [...this.state.hosts]
      .map(([id, host]) => {
        const live = [...host.workers.values()].filter((held) => held !== DEAD);
        return {
          id,
          connections: live.reduce((sum, held) => sum + held, 0),
          workers: live.length,
          leaseAgeMs: host.leaseUntil > now ? now - host.reportedAt : null,
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
    return { connections: this.state.total, hosts: this.state.hosts.size, perHost, gone: [...this.state.gone] };
  }

  private remove(hostId: string, cause: string): number {
    const host = this.state.hosts.get(hostId);
    if (host === undefined) return 0;
    let sum = 0;
    for (const held of host.workers.values()) sum += Math.max(0, held);
    this.state.hosts.delete(hostId);
    this.state.runs.delete(hostId);
    this.state.total -= sum;
    this.state.gone.unshift({ id: hostId, cause, connections: sum, at: this.now() });
    this.state.gone.length = Math.min(this.state.gone.length, 20);
    return sum;
  }
}
