import { HttpError } from '../http/errors.ts';

/**
 * A place in the device's queue, taken before any work (download, decode) is done for a request: a full queue
 * answers 503 at once instead of after a download. `run` waits for the device and this place's turn (first
 * admitted, first served among those ready to run); `release` gives the place back (idempotent).
 */
export interface Admission {
  /**
   * Runs `fn` on the device when this place's turn comes. `fn` calls `yieldTurn` between units of its work (the
   * pipeline's windows): batch work gives the device up there while interactive work waits, and resumes after it.
   */
  run<T>(fn: (yieldTurn: () => Promise<void>) => Promise<T>, signal?: AbortSignal): Promise<T>;
  release(): void;
  /** 1 for the next to run, 2 after it…, while this place waits for the device; undefined once it runs (or before it asked). */
  position(): number | undefined;
}

/** Interactive work (the viewer's prompts) goes before batch work (NIM endpoint calls). */
export type Priority = 'interactive' | 'batch';

/** Who waits and how urgently: the device serves the most urgent first, and within it each client in turn. */
export interface AdmitOptions {
  priority?: Priority;
  /** API key, user or address: one client's burst cannot starve another's prompts. */
  client?: string;
}

/** How the device picks the next job: by priority and client (with batch work yielding), or first come first served. */
export type QueuePolicy = 'priority' | 'fifo';

/** Jobs waiting and running, per priority: what /v1/metrics shows and what a scheduler routes by. */
export type QueueLoad = Record<Priority, { waiting: number; running: number }>;

interface Pending {
  start?: () => void;
  priority: Priority;
  client: string;
  seq: number;
  /** Gave the device up at a yield, to resume before other batch work. */
  yielded?: boolean;
}

const cancelled = (what: string) => new HttpError(499, 'cancelled', `the client went away ${what}`);

/**
 * One job at a time (per device). At most `depth` requests are admitted besides the running one — loading their
 * image or waiting for the device; beyond that, 503 with Retry-After. The device takes interactive work before
 * batch work, and within each the clients in turn (AdmitOptions); a running batch job yields to waiting
 * interactive work at its next yield (between windows), so a click waits at most one window of it. A request
 * whose signal aborts while waiting leaves the queue; a running job sees the signal itself.
 */
export class JobQueue {
  /** The job on the device. */
  private current: Pending | undefined;
  /** Admitted, not yet running, in admission order; `start` is set once the request asked to run. */
  private readonly pending: Pending[] = [];
  private seq = 0;
  /** When each client was last served (a counter): the one served longest ago goes first within a priority. */
  private readonly lastServed = new Map<string, number>();
  private served = 0;
  constructor(
    private readonly depth: number,
    private readonly onDepthChange: (waiting: number, running: number, load: QueueLoad) => void = () => undefined,
    private readonly retryAfterSeconds = 10,
    private readonly policy: QueuePolicy = 'priority',
  ) {}

  private get running(): boolean {
    return this.current !== undefined;
  }

  get size(): { waiting: number; running: number } {
    return { waiting: this.pending.length, running: this.running ? 1 : 0 };
  }

  /** Waiting and running per priority (a yielded batch job counts as waiting). */
  get load(): QueueLoad {
    const load: QueueLoad = { interactive: { waiting: 0, running: 0 }, batch: { waiting: 0, running: 0 } };
    for (const e of this.pending) load[e.priority].waiting++;
    if (this.current) load[this.current.priority].running++;
    return load;
  }

  /** Takes a place or throws 503 (synchronously: before the caller does any work). */
  admit(opts: AdmitOptions = {}): Admission {
    if (this.pending.length >= this.depth + (this.running ? 0 : 1)) {
      throw new HttpError(503, 'overloaded', `the server is busy: ${this.pending.length} requests are already waiting; retry later`, { 'Retry-After': String(this.retryAfterSeconds) });
    }
    const entry: Pending = { priority: opts.priority ?? 'batch', client: opts.client ?? '', seq: this.seq++ };
    this.pending.push(entry);
    this.report();
    let state: 'admitted' | 'running' | 'released' = 'admitted';
    const release = () => {
      if (state !== 'admitted') return;
      state = 'released';
      const i = this.pending.indexOf(entry);
      if (i >= 0) this.pending.splice(i, 1);
      this.report();
      this.next();
    };
    return {
      release,
      position: () => {
        if (state !== 'admitted' || !entry.start) return undefined;
        return this.ready().indexOf(entry) + 1 || undefined;
      },
      run: <T>(fn: (yieldTurn: () => Promise<void>) => Promise<T>, signal?: AbortSignal): Promise<T> => {
        if (state !== 'admitted') return Promise.reject(new Error(`admission already ${state}`));
        if (signal?.aborted) {
          release();
          return Promise.reject(cancelled('before its turn'));
        }
        // Between units of work: while interactive work waits, a batch job goes back to the queue (ahead of other
        // batch work) and continues when the device is free of it; its signal aborting meanwhile ends the wait.
        const yieldTurn = async (): Promise<void> => {
          if (this.current !== entry || !this.mustYield(entry)) return;
          this.current = undefined;
          entry.yielded = true;
          await new Promise<void>((resume, fail) => {
            const onAbort = () => {
              const i = this.pending.indexOf(entry);
              if (i >= 0) this.pending.splice(i, 1);
              this.report();
              fail(cancelled('while it had yielded the device'));
            };
            entry.start = () => {
              signal?.removeEventListener('abort', onAbort);
              this.current = entry;
              this.report();
              resume();
            };
            signal?.addEventListener('abort', onAbort, { once: true });
            this.pending.push(entry);
            this.report();
            this.next();
          });
        };
        return new Promise<T>((resolve, reject) => {
          const onAbort = () => {
            release();
            reject(cancelled('while waiting'));
          };
          entry.start = () => {
            signal?.removeEventListener('abort', onAbort);
            state = 'running';
            this.lastServed.set(entry.client, ++this.served);
            this.current = entry;
            this.report();
            fn(yieldTurn).then(resolve, reject).finally(() => {
              if (this.current === entry) this.current = undefined;
              this.report();
              this.next();
            });
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          this.next();
        });
      },
    };
  }

  /** admit() and run() in one: for work that needs no preparation. */
  run<T>(fn: (yieldTurn: () => Promise<void>) => Promise<T>, signal?: AbortSignal, opts: AdmitOptions = {}): Promise<T> {
    if (signal?.aborted) return Promise.reject(cancelled('before its turn'));
    let a: Admission;
    try {
      a = this.admit(opts);
    } catch (e) {
      return Promise.reject(e);
    }
    return a.run(fn, signal);
  }

  /**
   * The requests ready to run, in the order the device takes them: interactive before batch; within a priority,
   * the client served longest ago first (round robin across clients); within a client, first admitted first.
   */
  private ready(): Pending[] {
    const left = this.pending.filter((e) => e.start);
    if (this.policy === 'fifo') return left.sort((a, b) => a.seq - b.seq);
    // a batch job that yielded resumes before other batch work
    const rank = (e: Pending) => (e.priority === 'interactive' ? 0 : e.yielded ? 1 : 2);
    // as the device will take them: each pick makes its client the most recently served
    const served = new Map(this.lastServed);
    let clock = this.served;
    const order: Pending[] = [];
    while (left.length) {
      let best = 0;
      for (let i = 1; i < left.length; i++) {
        const a = left[i];
        const b = left[best];
        const d = rank(a) - rank(b) || (served.get(a.client) ?? 0) - (served.get(b.client) ?? 0) || a.seq - b.seq;
        if (d < 0) best = i;
      }
      const [e] = left.splice(best, 1);
      served.set(e.client, ++clock);
      order.push(e);
    }
    return order;
  }

  /** Whether the running job must give the device up now: it is batch work and interactive work is ready. */
  private mustYield(e: Pending): boolean {
    return this.policy === 'priority' && e.priority === 'batch' && this.pending.some((p) => p.start && p.priority === 'interactive');
  }

  /** Starts the request whose turn it is, when the device is free. */
  private next(): void {
    if (this.running) return;
    const [e] = this.ready();
    if (!e) return;
    this.pending.splice(this.pending.indexOf(e), 1);
    e.start!();
  }

  private report(): void {
    this.onDepthChange(this.pending.length, this.running ? 1 : 0, this.load);
  }

  /** Resolves when nothing runs, loads or waits. */
  async idle(): Promise<void> {
    while (this.running || this.pending.length) await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * At most `limit` tasks at once (image loads); the rest wait, interactive ones first, leaving when their signal
 * aborts. Batch tasks never take the last slot (when there are two or more): a click's image loads while NIM calls
 * download theirs.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: { go: () => void; priority: Priority }[] = [];
  constructor(readonly limit: number) {}

  get size(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  private room(priority: Priority): boolean {
    return this.active < (priority === 'batch' && this.limit > 1 ? this.limit - 1 : this.limit);
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal, priority: Priority = 'interactive'): Promise<T> {
    if (signal?.aborted) throw cancelled('before loading its image');
    if (this.room(priority) && !this.waiting.some((w) => w.priority === 'interactive' || priority === 'batch')) this.active++;
    else {
      await new Promise<void>((resolve, reject) => {
        const entry = {
          priority,
          go: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(cancelled('while waiting to load its image'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        // interactive waiters go before every batch waiter, each in order of arrival
        const at = priority === 'interactive' ? this.waiting.findIndex((w) => w.priority === 'batch') : -1;
        this.waiting.splice(at < 0 ? this.waiting.length : at, 0, entry);
      });
      // the slot was counted for this task by the one that handed it over (wake)
    }
    try {
      return await fn();
    } finally {
      this.active--;
      this.wake();
    }
  }

  /** Starts the waiters there is room for, in order (a batch waiter that may not take the last slot waits on). */
  private wake(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i];
      if (!this.room(w.priority)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.active++;
      w.go();
    }
  }
}
