#!/usr/bin/env node
// Entry point: `node dist/primary.js`. The same file runs as the cluster
// primary and, forked by it, as each worker.
import cluster from 'node:cluster';
import { loadConfig } from './config/config.js';
import { createLogger } from './logger.js';
import { runPrimary } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';

if (cluster.isPrimary) {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    createLogger('info', { role: 'primary' }).fatal({ err }, (err as Error).message);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, { role: 'primary' });
  runPrimary(config, logger).catch((err: unknown) => {
    logger.fatal({ err }, (err as Error).message);
    process.exit(1);
  });
} else {
  runWorker().catch((err: unknown) => {
    createLogger('info', { role: 'worker' }).fatal({ err }, (err as Error).message);
    process.exit(1);
  });
}
