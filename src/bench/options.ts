// The benchmark's flags, read once and validated.
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { integer } from '../loadgen/options.js';
import { ENGINES, type Engine } from '../loadgen/engine.js';

export interface BenchOptions {
  connections: number;
  holdSeconds: number;
  settleSeconds: number;
  rate: number;
  heartbeatMs: number;
  workers: number | undefined;
  quick: boolean;
  tune: boolean;
  outDir: string;
  sources: string;
  port: number;
  maxPending: number;
  connectTimeoutMs: number;
  /** Also measure a bare node:net loop, alternating, `repeat` runs each. */
  compare: boolean;
  repeat: number;
  /** Run inside a network namespace with its own established hash; undefined: decide by size. */
  netns: boolean | undefined;
  /** The load generator's engine; undefined: the C engine where it was built, else Node. */
  engine: Engine | undefined;
  /** The C engine's read batching period (its --batch-ms). */
  batchMs: number;
  /** The server's TICK_PHASE and ACCEPT_PATH; undefined: the server's defaults. */
  tickPhase: 'spread' | 'aligned' | undefined;
  acceptPath: 'reuseport' | 'round-robin' | undefined;
  /** Measure through HAProxy across this many app hosts (scripts/hosts.sh); undefined: one cluster, direct. */
  hosts: number | undefined;
  /** With --hosts 1: the load host reaches the app host without HAProxy (a server host and a load host). */
  direct: boolean;
  /** Updates published a second through the hub's HTTP API over the hold; 0: none (heartbeats only). */
  publishRate: number;
  /** With publishing: the clients subscribe over this many topics (1: a broadcast). */
  topics: number;
  /** With publishing: each update's data, in bytes. */
  payloadBytes: number;
  /** --compare nchan,floor: the same clients and publishing against these too, one run each. */
  compareWith: FanOutReference[];
}

export const FAN_OUT_REFERENCES = ['nchan', 'floor'] as const;
export type FanOutReference = (typeof FAN_OUT_REFERENCES)[number];
const REFERENCE_LIST = /^(nchan|floor)(,(nchan|floor))*$/;

/**
 * `--compare` alone is the bare-loop comparison of heartbeats; followed by a
 * list of fan-out references (`--compare nchan,floor`, or `--compare=...`) it
 * is the fan-out comparison. parseArgs has no flag with an optional value, so
 * the list form is renamed before it parses.
 */
function splitCompare(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--compare=')) out.push('--compare-with', arg.slice('--compare='.length));
    else if (arg === '--compare' && REFERENCE_LIST.test(argv[i + 1] ?? '')) out.push('--compare-with', argv[++i]!);
    else out.push(arg);
  }
  return out;
}

export const BENCH_USAGE = `Usage: npm run bench -- --connections N [flags]

Starts Redis and the cluster, opens N connections with the load generator,
holds them, samples memory, CPU, /ping latency and heartbeat gaps, and writes
bench/results/<date>-<N>.json and .md, and a line in bench/results/index.md.

  --connections N     connections to hold (default 20000; --quick: 3000)
  --hold S            seconds to hold and measure (default 60; --quick: 12)
  --settle S          seconds between the end of the ramp and the start of the
                      hold, left out of the figures (default 15; --quick: 2):
                      the ramp's garbage is collected and every stream has had
                      its first heartbeat
  --rate R            connections opened per second (default 5000)
  --heartbeat-ms MS   the server's HEARTBEAT_MS (default 15000; --quick: 2000)
  --workers N         server workers (default: enough that none is planned past
                      85 % of its open-file limit)
  --sources LIST      load generator source addresses (default 127.0.1.1-127.0.1.100)
  --max-pending N     connection attempts in flight over all load generator
                      processes (default 2000). The ramp is bounded by attempts
                      in flight / set-up latency; more in flight than the
                      server's primary can hold in open files floods it
  --connect-timeout-ms MS
                      the load generator's limit from attempt to response head
                      (default 10000); a CPU-bound ramp at hundreds of
                      thousands of connections needs more
  --port P            server port (default 5252)
  --compare           also measure a bare node:net SSE loop (one process) in
                      alternating runs, and report the CPU and memory ratios;
                      needs N under one process's open-file limit
  --repeat K          runs of each with --compare (default 3)
  --compare nchan,floor
                      with --publish-rate: the same clients and publishing,
                      one run each, against nginx with the nchan module
                      (Debian's nginx-light and libnginx-mod-nchan) and a bare
                      node:net floor fed by one Redis channel, as many
                      processes as the cluster's workers; reports each one's
                      fan-out figures and million-sse's ratios to them
  --netns, --no-netns run everything (Redis, the cluster, the load generator,
                      the probes) inside a network namespace made for the run,
                      with an established-connection hash of at least twice the
                      sockets (4 x N buckets), removed afterwards; root only.
                      Default: on when the host's hash has fewer buckets than
                      that (net.ipv4.tcp_ehash_entries), off with --quick
  --engine node|c     the load generator's engine (default: c where npm run
                      build compiled it, else node)
  --batch-ms MS       the C engine's read batching period (default 100): each
                      client process sleeps MS, then reads everything ready, so
                      heartbeats do not wake it; gaps are then exact to +-MS
  --tick-phase spread|aligned
                      the server's TICK_PHASE (default: the server's, spread)
  --accept-path reuseport|round-robin
                      the server's ACCEPT_PATH (default: the server's choice)
  --hosts N           measure through HAProxy across N app hosts, each running
                      the cluster, with Redis behind Sentinel: the network of
                      scripts/hosts.sh, made for the run and removed after it;
                      root only. Server CPU and memory then count every app
                      host, Redis and HAProxy
  --direct            with --hosts 1: no HAProxy in the path; the load host
                      opens the streams on the app host itself (a server host
                      and a load host, each a namespace with its own
                      established hash, joined over veth)
  --publish-rate R    publish R updates a second through the hub's HTTP API
                      (POST /.well-known/mercure, with a token signed for the
                      run) over the hold; the clients subscribe through
                      Mercure and the result gains the fan-out: publish
                      latency and failures, deliveries a second, delivery
                      latency, the time until the last subscriber has a
                      broadcast, missing and duplicate updates (default 0: no
                      publishing, heartbeats only)
  --topics T          with --publish-rate: the clients spread over T topics
                      and the updates round-robin over them (default 1: a
                      broadcast to every client)
  --payload B         with --publish-rate: bytes of data per update
                      (default 100)
  --quick             a few thousand connections, a short hold: a smoke test
  --no-tune           do not apply scripts/tune-os.sh (the default with --quick)
  --out DIR           results folder (default bench/results)
  -h, --help          this text
`;

export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: splitCompare(argv),
    strict: true,
    options: {
      connections: { type: 'string' },
      hold: { type: 'string' },
      settle: { type: 'string' },
      rate: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      workers: { type: 'string' },
      sources: { type: 'string' },
      'max-pending': { type: 'string' },
      'connect-timeout-ms': { type: 'string' },
      port: { type: 'string' },
      quick: { type: 'boolean' },
      compare: { type: 'boolean' },
      'compare-with': { type: 'string' },
      repeat: { type: 'string' },
      'no-tune': { type: 'boolean' },
      netns: { type: 'boolean' },
      'no-netns': { type: 'boolean' },
      engine: { type: 'string' },
      'batch-ms': { type: 'string' },
      'tick-phase': { type: 'string' },
      'accept-path': { type: 'string' },
      hosts: { type: 'string' },
      direct: { type: 'boolean' },
      'publish-rate': { type: 'string' },
      topics: { type: 'string' },
      payload: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const quick = values.quick === true;
  if (values.netns === true && values['no-netns'] === true) throw new ConfigError('--netns', 'with --no-netns', 'one of the two');
  const engine = oneOf('--engine', values.engine, ENGINES);
  const tickPhase = oneOf('--tick-phase', values['tick-phase'], ['spread', 'aligned'] as const);
  const acceptPath = oneOf('--accept-path', values['accept-path'], ['reuseport', 'round-robin'] as const);
  const hosts = values.hosts === undefined ? undefined : integer('--hosts', values.hosts, 1, 1, 20);
  if (hosts !== undefined && values.compare === true) throw new ConfigError('--hosts', values.hosts!, 'without --compare (the bare loop is one process on one host)');
  if (hosts !== undefined && values.netns === true) throw new ConfigError('--hosts', values.hosts!, 'without --netns (every host is a namespace of its own already)');
  if (values.direct === true && hosts !== 1) throw new ConfigError('--direct', values.hosts ?? '(no --hosts)', 'with --hosts 1 (the load generator opens every stream on one URL)');
  const publishRate = integer('--publish-rate', values['publish-rate'], 0, 0, 100_000);
  if (publishRate === 0 && (values.topics !== undefined || values.payload !== undefined)) {
    throw new ConfigError(values.topics !== undefined ? '--topics' : '--payload', values.topics ?? values.payload!, 'with --publish-rate (nothing is published without it)');
  }
  // The bare loop has no hub to publish to, and a --hosts network no route for the benchmark's publisher yet.
  if (publishRate > 0 && values.compare === true) throw new ConfigError('--publish-rate', values['publish-rate']!, 'without --compare (the bare loop has no hub)');
  if (publishRate > 0 && hosts !== undefined) throw new ConfigError('--publish-rate', values['publish-rate']!, 'without --hosts');
  const compareWith = values['compare-with'] === undefined ? [] : [...new Set(values['compare-with'].split(','))] as FanOutReference[];
  if (compareWith.length > 0 && !REFERENCE_LIST.test(values['compare-with']!)) throw new ConfigError('--compare', values['compare-with']!, FAN_OUT_REFERENCES.join(' or ') + ', comma-separated');
  if (compareWith.length > 0 && publishRate === 0) throw new ConfigError('--compare', values['compare-with']!, 'with --publish-rate (the fan-out is what is compared)');
  if (compareWith.length > 0 && values.compare === true) throw new ConfigError('--compare', values['compare-with']!, 'one --compare: the bare loop\'s (alone) or the fan-out\'s (with a list)');
  return {
    quick,
    publishRate,
    compareWith,
    topics: integer('--topics', values.topics, 1, 1, 10_000_000),
    // Room for the publish time (ms since the epoch with three decimals) and a space.
    payloadBytes: integer('--payload', values.payload, 100, 20, 1_000_000),
    connections: integer('--connections', values.connections, quick ? 3_000 : 20_000, 1, 10_000_000),
    holdSeconds: integer('--hold', values.hold, quick ? 12 : 60, 1, 86_400),
    settleSeconds: integer('--settle', values.settle, quick ? 2 : 15, 0, 3_600),
    rate: integer('--rate', values.rate, 5_000, 1, 1_000_000),
    heartbeatMs: integer('--heartbeat-ms', values['heartbeat-ms'], quick ? 2_000 : 15_000, 100, 3_600_000),
    workers: values.workers === undefined ? undefined : integer('--workers', values.workers, 1, 1, 1_024),
    sources: values.sources ?? '127.0.1.1-127.0.1.100',
    port: integer('--port', values.port, 5252, 1, 65_535),
    tune: !quick && values['no-tune'] !== true,
    outDir: values.out ?? 'bench/results',
    maxPending: integer('--max-pending', values['max-pending'], 2_000, 1, 1_000_000),
    connectTimeoutMs: integer('--connect-timeout-ms', values['connect-timeout-ms'], 10_000, 100, 600_000),
    compare: values.compare === true,
    repeat: integer('--repeat', values.repeat, 3, 1, 100),
    netns: values.netns === true ? true : values['no-netns'] === true || quick ? false : undefined,
    engine,
    batchMs: integer('--batch-ms', values['batch-ms'], 100, 0, 1_000),
    tickPhase,
    acceptPath,
    hosts,
    direct: values.direct === true,
  };
}

function oneOf<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(flag, raw, allowed.join(' or '));
  return raw as T;
}
