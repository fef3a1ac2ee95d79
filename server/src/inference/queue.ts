import { HttpError } from '../http/errors.ts';

/**
 * One job at a time (per device), up to `depth` waiting behind it; beyond that, 503 with Retry-After.
 * A job whose signal aborts while waiting leaves the queue; a running job sees the signal itself.
 */
export class JobQueue {
  private running = false;
  private readonly waiting: { start: () => void; signal?: AbortSignal; onAbort: () => void }[] = [];

  constructor(
    private readonly depth: number,
    private readonly onDepthChange: (waiting: number, running: number) => void = () => undefined,
    private readonly retryAfterSeconds = 10,
  ) {}

  get size(): { waiting: number; running: number } {
    return { waiting: this.waiting.length, running: this.running ? 1 : 0 };
  }

  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(new HttpError(499, 'cancelled', 'the client went away'));
    if (this.running && this.waiting.length >= this.depth) {
      return Promise.reject(
        new HttpError(503, 'overloaded', `the server is busy: ${this.waiting.length} requests are already waiting; retry later`, { 'Retry-After': String(this.retryAfterSeconds) }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running = true;
        this.report();
        fn().then(resolve, reject).finally(() => {
          this.running = false;
          this.next();
        });
      };
      if (!this.running) return start();
      const entry = {
        start,
        signal,
        onAbort: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          this.report();
          reject(new HttpError(499, 'cancelled', 'the client went away while waiting'));
        },
      };
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      this.waiting.push(entry);
      this.report();
    });
  }

  private next(): void {
    const e = this.waiting.shift();
    this.report();
    if (!e) return;
    e.signal?.removeEventListener('abort', e.onAbort);
    e.start();
  }

  private report(): void {
    this.onDepthChange(this.waiting.length, this.running ? 1 : 0);
  }

  /** Resolves when nothing runs or waits. */
  async idle(): Promise<void> {
    while (this.running || this.waiting.length) await new Promise((r) => setTimeout(r, 20));
  }
}
