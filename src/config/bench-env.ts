// What the benchmark takes from its environment, read here as the server's
// Config is: the markers a run leaves for the copy of itself that it starts
// inside a network namespace, and the environment its children inherit.
// Everything else the benchmark needs comes from its command line.

type Env = Record<string, string | undefined>;

/** Set in the environment of the benchmark re-run inside the namespace, so it does not make another. */
export const INSIDE_VARIABLE = 'MILLION_SSE_BENCH_NETNS';
/** Set, as the network's JSON, in the environment of the benchmark run inside the load host. */
export const HOSTS_VARIABLE = 'MILLION_SSE_BENCH_HOSTS';

/** The namespace an outer run started this one in (--netns, --hosts); undefined on the host itself. */
export function benchNamespace(env: Env = process.env): string | undefined {
  return env[INSIDE_VARIABLE];
}

/** The --hosts network an outer run set up, as the JSON it left; undefined outside it. */
export function benchHostsJson(env: Env = process.env): string | undefined {
  return env[HOSTS_VARIABLE];
}

/**
 * The environment of a child the benchmark starts (the server, redis, a
 * script): this process's own, with `extra` over it.
 */
export function inheritedEnv(extra: Record<string, string> = {}): Env {
  return { ...process.env, ...extra };
}
