import { setTimeout as sleep } from 'node:timers/promises';

/** Polls until `check` is true; fails with what it was waiting for (a function: read at the time of failure, with the last values seen). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string | (() => string | Promise<string>) } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : await what()}`);
    await sleep(intervalMs);
  }
}

export { freePort } from '../../src/bench/server-under-test.js';
