// Shutdown as a small state machine (after close-with-grace): the first
// SIGTERM or SIGINT drains; a second signal, or the drain outlasting its bound,
// exits 1. The bound is armed before the drain starts, so a drain that hangs
// cannot keep the process alive.
import type { Logger } from '../logger.js';

export interface ShutdownOptions {
  logger: Logger;
  timeoutMs: number;
  drain(signal: NodeJS.Signals): Promise<void>;
  /** Runs before an exit 1: kill whatever would otherwise be orphaned. */
  abort(): void;
}

const REPEAT_WINDOW_MS = 500;

export function installShutdown(options: ShutdownOptions): void {
  const { logger } = options;
  let drainingSince: number | undefined;

  const fail = (message: string, fields: Record<string, unknown>): void => {
    logger.error(fields, message);
    options.abort();
    process.exit(1);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (drainingSince !== undefined) {
      // Tools such as `timeout` signal the child and then its process group,
      // so one request to stop can arrive twice in the same instant. Only a
      // signal that comes later is someone asking again, harder.
      if (Date.now() - drainingSince < REPEAT_WINDOW_MS) return;
      return fail('second signal while draining; exiting now', { signal });
    }
    drainingSince = Date.now();
    logger.info({ signal, timeoutMs: options.timeoutMs }, 'draining');
    const bound = setTimeout(() => fail('drain took too long; exiting', { timeoutMs: options.timeoutMs }), options.timeoutMs);
    options.drain(signal).then(
      () => {
        clearTimeout(bound);
        logger.info('drained; exiting');
        process.exit(0);
      },
      (err: unknown) => fail('drain failed', { err }),
    );
  };

  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
