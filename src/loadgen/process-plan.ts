// How a run is split over client processes. Each held connection is a file
// descriptor, and the per-process open-file limit (20,000 on the project's
// machines, and not raisable there) caps what one process can hold; so the
// coordinator forks as many processes as that limit requires and gives each
// an even share of the connections, the rate and the in-flight bound.
import { ConfigError } from '../errors.js';
import type { LoadgenOptions } from './options.js';

/** Descriptors a client process keeps for itself: stdio, the IPC channel, libuv's own. */
export const RESERVED_FDS = 100;

export interface ProcessShare {
  readonly index: number;
  readonly connections: number;
  /** The run-wide number of this process's first connection: it picks the source addresses. */
  readonly firstConnection: number;
  readonly rate: number;
  readonly maxPending: number;
}

export function planProcesses(options: LoadgenOptions, openFileLimit: number): ProcessShare[] {
  const ceiling = Math.max(1, openFileLimit - RESERVED_FDS);
  const { connections } = options;
  const perProcess = options.maxPerProcess ?? ceiling;
  if (perProcess > ceiling) {
    throw new ConfigError(
      '--max-per-process',
      String(perProcess),
      `at most ${ceiling}: the open-file limit is ${openFileLimit} per process (see /proc/self/limits)`,
    );
  }
  const needed = Math.ceil(connections / perProcess);
  const count = Math.min(connections, options.processes ?? needed);
  if (options.processes !== undefined && options.processes < needed) {
    throw new ConfigError(
      '--processes',
      String(options.processes),
      `at least ${needed}: each process holds at most ${perProcess} connections`,
    );
  }
  const shares: ProcessShare[] = [];
  const base = Math.floor(connections / count);
  const extra = connections % count;
  let first = 0;
  for (let index = 0; index < count; index++) {
    const share = base + (index < extra ? 1 : 0);
    shares.push(
      Object.freeze({
        index,
        connections: share,
        firstConnection: first,
        rate: options.rate / count,
        maxPending: Math.max(1, Math.ceil(options.maxPending / count)),
      }),
    );
    first += share;
  }
  return shares;
}
