// Where the cluster-wide connection count lives. The product uses Redis
// (redis-counter-store.ts); memory-counter-store.ts implements the same rules
// in-process for unit tests of the logic above this seam.

export interface ClusterCount {
  connections: number;
  hosts: number;
  /** Each host with a share, by id. */
  perHost: HostShare[];
  /** The hosts that left lately (at most 20), newest first. */
  gone: GoneHost[];
}

export interface HostShare {
  id: string;
  connections: number;
  /** Workers with a share (a dead or retired worker's is no longer one). */
  workers: number;
  /** Since the host's last report; a host whose lease runs out is reaped. Null when its lease has already expired. */
  leaseAgeMs: number | null;
}

export interface GoneHost {
  id: string;
  /** `stopped` (it drained and removed its share) or `lease expired` (it died; another host reaped it). */
  cause: string;
  /** Its share when it went. */
  connections: number;
  /** When, in ms since the epoch. */
  at: number;
}

export interface CounterStore {
  /**
   * Makes this run the one whose reports count for its host, and removes
   * whatever an earlier run under the same host id left. A primary calls it
   * before its workers' reports can count. Idempotent. Returns the share removed.
   */
  claimHost(): Promise<number>;
  /** Sets this worker's absolute count and renews the host's lease; ignored unless this run holds the host. Idempotent. */
  report(workerId: string, held: number): Promise<void>;
  /** Removes exactly one dead worker's share; later reports from it are ignored. Returns the share removed. */
  removeWorker(workerId: string): Promise<number>;
  /** Forgets a dead worker's tombstone, once no late report of it can arrive. Returns whether there was one. */
  forgetWorker(workerId: string): Promise<boolean>;
  /** Removes this host's whole share (clean shutdown). Returns the share removed. */
  removeHost(): Promise<number>;
  /** Removes the share of every host whose lease has expired. Returns the ids removed. */
  reapExpiredHosts(): Promise<string[]>;
  read(): Promise<ClusterCount>;
}
