// A host tuned for a million sockets, made for one benchmark run: a network
// namespace with an established-connection hash table of its own, sized for
// the run, removed afterwards.
//
// Why: the kernel finds the socket of every arriving TCP segment in the
// established hash (__inet_lookup_established). Its size is fixed at boot
// (`thash_entries=` on the kernel command line; 262,144 buckets on the 24 GiB
// machine the project is measured on). A million connections with both ends on
// one machine are two million sockets, chains of about eight, and at 900,000
// held that lookup was the largest single cost on the machine (16-20 % of both
// cores in `perf record -a -g`). Since Linux 6.1 a namespace created after
// `sysctl net.ipv4.tcp_child_ehash_entries=N` gets its own table of N buckets
// (https://docs.kernel.org/networking/ip-sysctl.html), so the benchmark makes
// one, runs Redis, the cluster and the load generator inside it over its own
// loopback, and the host's table is left as it was.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { INSIDE_VARIABLE, inheritedEnv } from '../config/bench-env.js';

const run = promisify(execFile);

const CHILD_EHASH = '/proc/sys/net/ipv4/tcp_child_ehash_entries';
const EHASH = '/proc/sys/net/ipv4/tcp_ehash_entries';
/** The kernel's ceiling for tcp_child_ehash_entries. */
const MAX_BUCKETS = 1 << 24;

/**
 * Buckets for N connections with both ends on this host: 2N sockets, and a
 * table at least twice that (chains under one on average), as a power of two
 * (the kernel rounds up to one anyway).
 */
export function bucketsFor(connections: number): number {
  const wanted = Math.max(1, 4 * connections);
  return Math.min(MAX_BUCKETS, 2 ** Math.ceil(Math.log2(wanted)));
}

/**
 * This network namespace's established-hash buckets. The kernel shows a
 * negative number in a namespace that shares the host's table; the size is
 * the same either way, and `own` says which.
 */
export function ehashBuckets(): { buckets: number; own: boolean } | null {
  try {
    const value = Number(readFileSync(EHASH, 'utf8').trim());
    return { buckets: Math.abs(value), own: value > 0 };
  } catch {
    return null;
  }
}

export class NetnsError extends Error {
  readonly code = 'MSSE_NETNS';
  constructor(reason: string) {
    super(`cannot make a network namespace for the benchmark: ${reason}; pass --no-netns to run on the host's loopback`);
    this.name = 'NetnsError';
  }
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

/** Every process in a namespace, by pid. */
export async function pidsIn(name: string): Promise<number[]> {
  const { stdout } = await run('ip', ['netns', 'pids', name]);
  return stdout.split(/\s+/).filter((p) => p !== '').map(Number);
}

/** Every process still inside the namespace, so that deleting it frees it. */
async function killInside(name: string): Promise<void> {
  for (const pid of await pidsIn(name).catch(() => [])) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Runs `argv` inside the namespace `name` (stdio inherited, `env` added) and
 * resolves with its exit code. Interrupted, the run inside gets the same
 * terminal signal and writes its report; a signal sent to this process alone
 * is passed on. The caller removes what it made once this resolves.
 */
export async function execInNetns(name: string, argv: readonly string[], env: Record<string, string>): Promise<number> {
  const child = spawn('ip', ['netns', 'exec', name, ...argv], { stdio: 'inherit', env: inheritedEnv(env) });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward).on('SIGTERM', forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
    });
  } finally {
    process.off('SIGINT', forward).off('SIGTERM', forward);
  }
}

/**
 * Makes the namespace, runs `argv` inside it (inheriting stdio), and removes
 * the namespace when the command ends, fails or is interrupted. Resolves with
 * the command's exit code.
 */
export async function runInNetns(argv: readonly string[], buckets: number, log: (line: string) => void): Promise<number> {
  if (process.getuid?.() !== 0) throw new NetnsError('it needs root (ip netns add, sysctl)');
  await run('ip', ['-V']).catch(() => {
    throw new NetnsError('`ip` (iproute2) is not installed: apt-get install iproute2');
  });
  let previous: string;
  try {
    previous = readFileSync(CHILD_EHASH, 'utf8').trim();
  } catch {
    throw new NetnsError(`this kernel has no ${CHILD_EHASH} (Linux 6.1 or later has)`);
  }
  const name = `msse-bench-${process.pid}`;
  // The size applies to namespaces created while it is set; the host's own
  // default goes back at once, whatever happens next.
  await run('sysctl', ['-q', '-w', `net.ipv4.tcp_child_ehash_entries=${buckets}`]);
  try {
    await ip('netns', 'add', name);
  } finally {
    await run('sysctl', ['-q', '-w', `net.ipv4.tcp_child_ehash_entries=${previous}`]);
  }
  const remove = async (): Promise<void> => {
    await killInside(name);
    await ip('netns', 'del', name).catch(() => undefined);
  };
  // The namespace goes once the run inside has exited, however it ended.
  try {
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    log(`network namespace ${name}: its own established hash of ${buckets.toLocaleString('en-US')} buckets, loopback up`);
    return await execInNetns(name, argv, { [INSIDE_VARIABLE]: name });
  } finally {
    await remove();
    log(`network namespace ${name} removed`);
  }
}
