// The primary validates the configuration once and hands workers the result,
// so every worker runs with the same values (the same host id, the Redis the
// primary found or started) and none of them parses the environment again.
import type { Config } from './config.js';

const VARIABLE = 'MILLION_SSE_WORKER_CONFIG';

export function workerEnv(config: Config): Record<string, string> {
  return { [VARIABLE]: JSON.stringify(config) };
}

export function workerConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw = env[VARIABLE];
  if (raw === undefined) throw new Error(`${VARIABLE} is not set: start the server with the primary (node dist/primary.js)`);
  return Object.freeze(JSON.parse(raw) as Config);
}
