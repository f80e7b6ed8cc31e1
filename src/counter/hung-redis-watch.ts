// A Redis that takes connections but answers nothing: stopped (SIGSTOP, a VM
// paused), stuck on its disk, or a master that Sentinel has already replaced
// but cannot tell, because it cannot run the CLIENT KILL that would send us
// to the new one. The connection stays open and 'ready', so neither ioredis's
// reconnect nor its error events ever fire. The client's commandTimeout turns
// each wait into an error; this counts them, and after a few in a row drops
// the connection and makes it again, which asks the Sentinels afresh.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/** ioredis rejects a command that outlived commandTimeout with exactly this message. */
const isCommandTimeout = (err: unknown): boolean => err instanceof Error && err.message === 'Command timed out';

export class HungRedisWatch {
  private inARow = 0;

  /** `after`: timeouts in a row before reconnecting; each caller sends about one command a second. */
  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly shown: string,
    private readonly after = 3,
  ) {}

  /** Each once-a-second command's outcome: undefined when it was answered. */
  outcome(err?: unknown): void {
    if (!isCommandTimeout(err)) {
      this.inARow = 0;
      return;
    }
    if (++this.inARow < this.after) return;
    this.inARow = 0;
    this.logger.warn({ redis: this.shown, timeouts: this.after }, 'redis answered none of the last commands in time; reconnecting');
    this.redis.disconnect(true);
  }
}
