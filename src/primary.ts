#!/usr/bin/env node
// Entry point: `node dist/primary.js`. The same file runs as the cluster
// primary and, forked by it, as each worker. Each role imports only its own
// code: a large run has dozens of workers, and every module a worker loads
// for nothing is paid for in each of them.
import cluster from 'node:cluster';
import { loadConfig } from './config/config.js';
import { createLogger } from './logger.js';
import { RedisAccessError } from './errors.js';

if (cluster.isPrimary) {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    createLogger('info', { role: 'primary' }).fatal({ err }, (err as Error).message);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, { role: 'primary' });
  import('./cluster/primary.js')
    .then(({ runPrimary }) => runPrimary(config, logger))
    .catch((err: unknown) => {
      if (err instanceof RedisAccessError) {
        // One line that says what to fix; a stack trace would only bury it.
        // EX_CONFIG tells pm2 (stop_exit_codes) and systemd not to restart.
        logger.fatal({ code: err.code, variable: err.variable, reason: err.reason }, err.message);
        process.exit(err.exitCode);
      }
      logger.fatal({ err }, (err as Error).message);
      process.exit(1);
    });
} else {
  import('./cluster/worker.js')
    .then(({ runWorker }) => runWorker())
    .catch((err: unknown) => {
      createLogger('info', { role: 'worker' }).fatal({ err }, (err as Error).message);
      process.exit(1);
    });
}
