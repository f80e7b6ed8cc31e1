// The primary validates the configuration once and hands workers the result,
// so every worker runs with the same values (the same host id, the Redis the
// primary found or started) and none of them parses the environment again.
// It goes over the cluster's IPC channel, not the environment: a process's
// environment is readable by its user in /proc/<pid>/environ for as long as it
// runs, and the configuration carries REDIS_URL's password, STATUS_TOKEN and
// the Mercure hub's keys.
import type { Config } from './config.js';

export interface WorkerConfig extends Config {
  /**
   * The id of the primary's run, shared by its workers: a restarted primary
   * starts a new run, and reports of an earlier run no longer count (see
   * counter/lua/claim.lua).
   */
  readonly runId: string;
}

/** Variables that may hold secrets. A worker reads none of the environment, so they are left out of its own. */
const SECRET_VARIABLES = ['REDIS_URL', 'STATUS_TOKEN', 'MERCURE_PUBLISHER_JWT_KEY', 'MERCURE_SUBSCRIBER_JWT_KEY'] as const;

/**
 * What a worker's environment differs by from the primary's: the secrets are
 * unset (cluster.fork merges this over process.env, and child_process leaves
 * out a variable whose value is undefined).
 */
export function workerEnv(): Record<string, undefined> {
  return Object.fromEntries(SECRET_VARIABLES.map((name) => [name, undefined]));
}
