// Follows GET /status_watcher and keeps the latest event: the benchmark learns
// the workers' pids, the count in Redis and the heartbeats written from it.
import http from 'node:http';
import type { StatusSnapshot } from '../status/status-snapshot.js';

export class StatusFollower {
  latest: StatusSnapshot | undefined;
  private request: http.ClientRequest | undefined;
  private stopped = false;

  constructor(private readonly url: URL) {}

  start(): void {
    if (this.stopped) return;
    let buffer = '';
    this.request = http.get(this.url, (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith('data: ')) this.latest = JSON.parse(block.slice(6)) as StatusSnapshot;
        }
      });
      response.once('close', () => setTimeout(() => this.start(), 500));
    });
    this.request.once('error', () => setTimeout(() => this.start(), 500));
  }

  async waitFor(check: (s: StatusSnapshot) => boolean, timeoutMs: number, what: string): Promise<StatusSnapshot> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.latest !== undefined && check(this.latest)) return this.latest;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  stop(): void {
    this.stopped = true;
    this.request?.destroy();
  }
}
