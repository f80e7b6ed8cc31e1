// The counter store's rules without Redis, for unit tests of the code above
// the seam. Several instances may share one `MemoryCounterState`, as several
// hosts share one Redis.
import type { ClusterCount, CounterStore } from './counter-store.js';

const DEAD = -1;

export class MemoryCounterState {
  total = 0;
  readonly hosts = new Map<string, { workers: Map<string, number>; leaseUntil: number }>();
}

export class MemoryCounterStore implements CounterStore {
  constructor(
    private readonly state: MemoryCounterState,
    private readonly hostId: string,
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private host() {
    let host = this.state.hosts.get(this.hostId);
    if (host === undefined) {
      host = { workers: new Map(), leaseUntil: 0 };
      this.state.hosts.set(this.hostId, host);
    }
    return host;
  }

  async report(workerId: string, held: number): Promise<void> {
    const host = this.host();
    const old = host.workers.get(workerId) ?? 0;
    if (old === DEAD) return;
    host.workers.set(workerId, held);
    host.leaseUntil = this.now() + this.leaseMs;
    this.state.total += held - old;
  }

  async removeWorker(workerId: string): Promise<number> {
    const host = this.host();
    const old = Math.max(0, host.workers.get(workerId) ?? 0);
    host.workers.set(workerId, DEAD);
    this.state.total -= old;
    return old;
  }

  async removeHost(): Promise<number> {
    return this.remove(this.hostId);
  }

  async reapExpiredHosts(): Promise<string[]> {
    const expired = [...this.state.hosts].filter(([, host]) => host.leaseUntil <= this.now()).map(([id]) => id);
    for (const id of expired) this.remove(id);
    return expired;
  }

  async read(): Promise<ClusterCount> {
    return { connections: this.state.total, hosts: this.state.hosts.size };
  }

  private remove(hostId: string): number {
    const host = this.state.hosts.get(hostId);
    if (host === undefined) return 0;
    let sum = 0;
    for (const held of host.workers.values()) sum += Math.max(0, held);
    this.state.hosts.delete(hostId);
    this.state.total -= sum;
    return sum;
  }
}
