// `npm run bench -- --hosts N`: the benchmark through HAProxy across N app
// hosts, on the network scripts/hosts.sh makes (see the README's "Several
// hosts"). This file makes the network for one run and runs the benchmark
// again inside its load host, where HAProxy and the hosts can be reached; the
// network goes when the run ends, fails or is interrupted.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { HOSTS_VARIABLE, INSIDE_VARIABLE, benchHostsJson, inheritedEnv } from '../config/bench-env.js';
import { NetnsError, execInNetns } from './netns-host.js';

const run = promisify(execFile);
const HOSTS_SH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/hosts.sh');

const PREFIX = 'msse-bench';
// HAProxy needs two descriptors a stream, and room besides.
const STREAMS_PER_LB_PROCESS = 8_000;

/** What `scripts/hosts.sh status` prints. */
export interface HostsNetwork {
  lb: string;
  redis: string;
  hosts: string[];
  lbHost: string;
  redisHost: string;
  loadHost: string;
  apps: string[];
  stats: string;
  sentinels: string[];
  sentinelMaster: string;
  sources: string;
  state: string;
}

export function hostsNetwork(): HostsNetwork | undefined {
  const raw = benchHostsJson();
  return raw === undefined ? undefined : (JSON.parse(raw) as HostsNetwork);
}

export interface HostsPlan {
  hosts: number;
  workersPerHost: number;
  connections: number;
  heartbeatMs: number;
  /** No HAProxy in the path (--direct): one HAProxy process is still started, and left idle. */
  direct: boolean;
  /** Established-hash buckets of each host's own (see scripts/tune-os.sh): every host holds at most N sockets. */
  ehashBuckets: number;
  env: Record<string, string>;
}

/**
 * Brings the network up, runs `argv` in its load host (stdio inherited), and
 * takes it down again. Resolves with the command's exit code.
 */
export async function runOnHosts(argv: readonly string[], plan: HostsPlan, log: (line: string) => void): Promise<number> {
  if (process.getuid?.() !== 0) throw new NetnsError('--hosts needs root (it makes network namespaces)');
  const lbProcesses = plan.direct ? 1 : Math.max(1, Math.ceil(plan.connections / STREAMS_PER_LB_PROCESS));
  const env = inheritedEnv({
    ...plan.env,
    MSSE_HOSTS_PREFIX: PREFIX,
    MSSE_HOSTS_STATE: `/run/million-sse-bench-hosts-${process.pid}`,
    MSSE_HOSTS_WORKERS: String(plan.workersPerHost),
    MSSE_HOSTS_LB_PROCESSES: String(lbProcesses),
    MSSE_HOSTS_EHASH: String(plan.ehashBuckets),
    HEARTBEAT_MS: String(plan.heartbeatMs),
    LOG_LEVEL: 'warn',
  });
  const hostsSh = (...args: string[]) => run(HOSTS_SH, args, { env, timeout: 180_000 });
  let network: HostsNetwork;
  const route = plan.direct
    ? `one app host of ${plan.workersPerHost} workers reached directly (no HAProxy in the path)`
    : `${plan.hosts} app hosts of ${plan.workersPerHost} workers, ${lbProcesses} HAProxy process${lbProcesses === 1 ? '' : 'es'}`;
  log(`hosts: ${route}, Redis with a replica and three Sentinels; each host's established hash ${plan.ehashBuckets} buckets`);
  try {
    const { stdout } = await hostsSh('up', String(plan.hosts));
    network = JSON.parse(stdout.trim().split('\n').at(-1)!) as HostsNetwork;
  } catch (err) {
    throw new NetnsError(`scripts/hosts.sh up failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
  }
  log(`hosts: HAProxy at ${network.lb}, app hosts ${network.apps.join(', ')}; the benchmark runs in ${network.loadHost}`);
  try {
    return await execInNetns(network.loadHost, argv, { [INSIDE_VARIABLE]: network.loadHost, [HOSTS_VARIABLE]: JSON.stringify(network) });
  } finally {
    await hostsSh('down').catch((err: Error) => log(`hosts: down failed: ${err.message}`));
    log('hosts: network removed');
  }
}
