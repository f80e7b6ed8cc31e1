// Times GET /ping like the original status page did (one a second), and finds
// the rate the loaded server sustains with a short burst.
import http from 'node:http';

function pingOnce(agent: http.Agent, url: URL): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.get(url, { agent, timeout: 10_000 }, (response) => {
      response.resume();
      response.once('end', () => (response.statusCode === 204 ? resolve(performance.now() - started) : reject(new Error(`status ${response.statusCode}`))));
    });
    request.once('timeout', () => request.destroy(new Error('ping timed out')));
    request.once('error', reject);
  });
}

/**
 * One probe a second, never two at once. A probe still in flight when the
 * next second comes skips that second (counted): queued behind it on the one
 * keep-alive socket, the later probes would time the queue, not the server,
 * and a server stalled for a few seconds would read as stalled for minutes.
 */
export class PingProber {
  readonly latenciesMs: number[] = [];
  failures = 0;
  /** Each failure's message and how often it came: a count alone says nothing about why. */
  readonly failureCauses: Record<string, number> = {};
  skipped = 0;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly url: URL) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.inFlight !== undefined) {
        this.skipped++;
        return;
      }
      this.inFlight = pingOnce(this.agent, this.url)
        .then(
          (ms) => void this.latenciesMs.push(ms),
          (err: Error) => {
            this.failures++;
            this.failureCauses[err.message] = (this.failureCauses[err.message] ?? 0) + 1;
          },
        )
        .finally(() => (this.inFlight = undefined));
    }, 1_000);
  }

  /**
   * Lets the probe in flight finish before closing the socket: destroying it
   * mid-answer would count the benchmark's own ending as a server failure (the
   * one failed probe in some quick runs). Idempotent; bounded by the probe's
   * own timeout.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
    this.agent.destroy();
  }
}

/** Requests per second answered by `concurrency` keep-alive loops over `seconds`. */
export async function pingBurst(url: URL, seconds: number, concurrency: number): Promise<{ rate: number; failures: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const deadline = performance.now() + seconds * 1_000;
  let done = 0;
  let failures = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      try {
        await pingOnce(agent, url);
        done++;
      } catch {
        failures++;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  agent.destroy();
  return { rate: Math.round(done / ((performance.now() - started) / 1_000)), failures };
}
