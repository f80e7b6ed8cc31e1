// Where the cluster-wide connection count lives. The product uses Redis
// (redis-counter-store.ts); memory-counter-store.ts implements the same rules
// in-process for unit tests of the logic above this seam.

export interface ClusterCount {
  connections: number;
  hosts: number;
}

export interface CounterStore {
  /** Sets this worker's absolute count and renews the host's lease. Idempotent. */
  report(workerId: string, held: number): Promise<void>;
  /** Removes exactly one dead worker's share; later reports from it are ignored. Returns the share removed. */
  removeWorker(workerId: string): Promise<number>;
  /** Removes this host's whole share (clean shutdown). Returns the share removed. */
  removeHost(): Promise<number>;
  /** Removes the share of every host whose lease has expired. Returns the ids removed. */
  reapExpiredHosts(): Promise<string[]>;
  read(): Promise<ClusterCount>;
}
