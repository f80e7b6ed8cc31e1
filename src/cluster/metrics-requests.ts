// A worker's GET /metrics asks the primary, which owns the cluster's registry,
// and waits for the answer carrying the same id; an answer that does not come
// in time resolves to undefined, and a late one is dropped.
import type { PrimaryMessage } from './messages.js';

export class MetricsRequests {
  private readonly waiting = new Map<number, (text: string | undefined) => void>();
  private lastId = 0;

  constructor(
    private readonly sendRequest: (id: number) => void,
    private readonly timeoutMs: number,
  ) {}

  ask(): Promise<string | undefined> {
    return new Promise((resolve) => {
      const id = ++this.lastId;
      const timer = setTimeout(() => this.settle(id, undefined), this.timeoutMs);
      this.waiting.set(id, (text) => {
        clearTimeout(timer);
        resolve(text);
      });
      this.sendRequest(id);
    });
  }

  /** The primary's answer to request `id`. */
  settle(id: number, text: string | undefined): void {
    const resolve = this.waiting.get(id);
    if (resolve === undefined) return;
    this.waiting.delete(id);
    resolve(text);
  }
}

/**
 * The primary's side: renders the text and answers request `id`. A rendering
 * that fails is answered without text, so that the scrape gets its 503 at
 * once, and is handed to `onError`: left unhandled, the rejection would end
 * the primary, and every stream with it.
 */
export async function answerMetricsRequest(
  id: number,
  render: () => Promise<string>,
  reply: (message: PrimaryMessage) => void,
  onError: (err: unknown) => void,
): Promise<void> {
  let text: string | undefined;
  try {
    text = await render();
  } catch (err) {
    onError(err);
  }
  reply(text === undefined ? { type: 'metrics', id } : { type: 'metrics', id, text });
}
