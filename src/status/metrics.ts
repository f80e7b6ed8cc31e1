// The cluster's Prometheus metrics. The primary owns the one registry and sets
// it from the same per-second aggregate that feeds /status_watcher, and renders
// the text when a worker asks for it, so GET /metrics on whichever worker the
// connection lands on answers for the whole cluster. (prom-client's
// AggregatorRegistry would instead ask every worker over IPC on every scrape.)
// Names follow https://prometheus.io/docs/practices/naming/ : base units
// (seconds, bytes) and `_total` on counters.
import { Counter, Gauge, Registry } from 'prom-client';
import { zeroTotals, type StatusSnapshot, type Totals } from './status-snapshot.js';

const COUNTERS: ReadonlyArray<[keyof Totals, string, string]> = [
  ['opened', 'msse_connections_opened_total', 'SSE connections opened since the primary started.'],
  ['closed', 'msse_connections_closed_total', 'SSE connections closed since the primary started, dropped ones included.'],
  ['heartbeats', 'msse_heartbeats_total', 'Heartbeats written to SSE connections since the primary started.'],
  ['dropped', 'msse_dropped_clients_total', 'Slow clients dropped because their unsent bytes passed MAX_UNSENT_BYTES.'],
  ['pings', 'msse_ping_requests_total', 'GET /ping requests answered since the primary started.'],
  ['published', 'msse_mercure_updates_published_total', 'Mercure updates stored in the history by this host since the primary started.'],
  ['deliveries', 'msse_mercure_deliveries_total', 'Mercure updates written to subscribers on this host since the primary started.'],
  ['hubDropped', 'msse_mercure_dropped_subscribers_total', 'Mercure subscribers dropped for not reading their updates (more than MAX_UNSENT_BYTES unsent).'],
];

export class ClusterMetrics {
  readonly registry = new Registry();
  private readonly counters = new Map<keyof Totals, Counter>();
  // What each counter has been given so far; the next update adds the difference.
  private readonly given: Totals = zeroTotals();
  private latest: { snapshot: StatusSnapshot; totals: Totals } | undefined;

  private readonly connections = this.gauge(
    'msse_connections',
    "Open SSE connections across the cluster: the shared count in Redis, or this host's own count while Redis is unreachable.",
  );
  private readonly hostConnections = this.gauge('msse_host_connections', "This host's open SSE connections, summed from its workers.");
  private readonly workers = this.gauge('msse_workers', 'Workers reporting to this primary.');
  // Every host's share, as Redis has it: the same on whichever host is scraped.
  private readonly clusterHostConnections = this.gauge('msse_cluster_host_connections', "Each host's share of the count in Redis.", ['host']);
  private readonly clusterHostWorkers = this.gauge('msse_cluster_host_workers', 'Workers with a share of the count, on each host.', ['host']);
  private readonly clusterHostLeaseAge = this.gauge('msse_cluster_host_lease_age_seconds', "Time since each host's last report; past LEASE_MS its share is removed.", ['host']);
  private readonly hostsGone = this.gauge('msse_cluster_hosts_gone', 'Hosts that left lately (at most 20), whether they stopped or their lease expired.');
  private readonly redisUp = this.gauge('msse_redis_up', '1 if the primary reached Redis in the last second, else 0.');
  private readonly rss = this.gauge('msse_resident_memory_bytes', 'Resident memory of the whole cluster on this host: the primary and every worker.');
  private readonly workerConnections = this.gauge('msse_worker_connections', 'Open SSE connections held by each worker.', ['worker']);
  private readonly workerRss = this.gauge('msse_worker_resident_memory_bytes', 'Resident memory of each worker.', ['worker']);
  private readonly workerHeap = this.gauge('msse_worker_heap_used_bytes', 'V8 heap in use in each worker.', ['worker']);
  private readonly workerHeapLive = this.gauge('msse_worker_heap_live_bytes', "V8 heap in use right after each worker's last major GC (0 before the first): growth here, not in the heap in use, is a leak.", ['worker']);
  private readonly loopDelay = this.gauge('msse_event_loop_delay_seconds', "Mean event-loop delay of each worker over the last second.", ['worker']);
  private readonly loopDelayP99 = this.gauge('msse_event_loop_delay_p99_seconds', "p99 event-loop delay of each worker over the last second (the worst of its heartbeat-timer ticks).", ['worker']);
  private readonly subscribers = this.gauge('msse_mercure_subscribers', 'Mercure subscribers held on this host (also counted in msse_host_connections).');
  private readonly historyLength = this.gauge('msse_mercure_history_length', 'Updates in the Mercure history (one Redis Stream for the whole cluster).');
  private readonly fanOut = this.gauge('msse_mercure_fan_out_seconds', "Longest time over the last second from an update's publication to the last socket each worker wrote it to.", ['worker']);
  private readonly gcPause = this.gauge('msse_worker_gc_pause_seconds', 'Time each worker spent in garbage-collection pauses over the last second, by kind (major: mark-compact; all: every kind).', ['worker', 'kind']);

  constructor() {
    for (const [key, name, help] of COUNTERS) {
      this.counters.set(key, new Counter({ name, help, registers: [this.registry] }));
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * @param totals the aggregator's `countedTotals`: unlike the snapshot's
   * totals they do not fall when a worker dies and takes its figures with it.
   */
  update(snapshot: StatusSnapshot, totals: Readonly<Totals>): void {
    // Kept, and applied when someone scrapes: most seconds nobody does, and
    // setting five labelled series per worker every second for dozens of
    // workers is work the primary does for nothing.
    this.latest = { snapshot, totals: { ...totals } };
  }

  render(): Promise<string> {
    if (this.latest !== undefined) this.apply(this.latest.snapshot, this.latest.totals);
    this.latest = undefined;
    return this.registry.metrics();
  }

  private apply(snapshot: StatusSnapshot, totals: Readonly<Totals>): void {
    this.connections.set(snapshot.connections ?? snapshot.host.connections);
    this.hostConnections.set(snapshot.host.connections);
    this.workers.set(snapshot.workers);
    this.redisUp.set(snapshot.redis === 'up' ? 1 : 0);
    this.rss.set(snapshot.host.rss);
    for (const [key, counter] of this.counters) {
      const added = totals[key] - this.given[key];
      if (added > 0) counter.inc(added);
      this.given[key] = totals[key];
    }
    // A gone host's series disappear; while Redis is down nothing is known of them.
    for (const gauge of [this.clusterHostConnections, this.clusterHostWorkers, this.clusterHostLeaseAge]) gauge.reset();
    for (const host of snapshot.perHost ?? []) {
      const labels = { host: host.id };
      this.clusterHostConnections.set(labels, host.connections);
      this.clusterHostWorkers.set(labels, host.workers);
      if (host.leaseAgeMs !== null) this.clusterHostLeaseAge.set(labels, host.leaseAgeMs / 1000);
    }
    if (snapshot.goneHosts !== null) this.hostsGone.set(snapshot.goneHosts.length);
    this.subscribers.set(snapshot.hub.subscribers);
    if (snapshot.hub.historyLength !== null) this.historyLength.set(snapshot.hub.historyLength);
    // A dead worker's series must disappear, not stay at its last value.
    for (const gauge of [this.workerConnections, this.workerRss, this.workerHeap, this.workerHeapLive, this.loopDelay, this.loopDelayP99, this.gcPause, this.fanOut]) gauge.reset();
    for (const worker of snapshot.perWorker) {
      const labels = { worker: String(worker.id) };
      this.workerConnections.set(labels, worker.connections);
      this.workerRss.set(labels, worker.rss);
      this.workerHeap.set(labels, worker.heapUsed);
      this.workerHeapLive.set(labels, worker.heapLive);
      this.loopDelay.set(labels, worker.eventLoopDelayMs / 1000);
      this.loopDelayP99.set(labels, worker.eventLoopDelayP99Ms / 1000);
      this.gcPause.set({ ...labels, kind: 'all' }, worker.gcPauseMs / 1000);
      this.gcPause.set({ ...labels, kind: 'major' }, worker.gcMajorPauseMs / 1000);
      this.fanOut.set(labels, worker.fanOutMs / 1000);
    }
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}
