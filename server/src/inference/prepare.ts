import type { PrepareView } from '@vista3d/models';
import { errorView, HttpError } from '../http/errors.ts';
import type { LoadedImage } from '../images/imageSource.ts';

export interface PrepareLimits {
  /** Prepares loading at once, in all (beyond: 503). */
  maxOutstanding: number;
  /** Prepares loading at once that one client asked for (beyond: 429). */
  maxPerClient: number;
  /** How long an ended prepare is remembered (a repeated ask for a ready image does nothing meanwhile). */
  keepMs: number;
  /** Ended prepares remembered at most (the oldest are forgotten first). */
  maxKept: number;
}

export const DEFAULT_PREPARE_LIMITS: PrepareLimits = { maxOutstanding: 8, maxPerClient: 4, keepMs: 60_000, maxKept: 256 };

/** How a prepare does its work: load the image (bounded by the caller's load limiter), then build its state. */
export interface PrepareWork {
  load(signal: AbortSignal): Promise<LoadedImage>;
  prepare(image: LoadedImage): Promise<void> | void;
}

interface Entry {
  image: string;
  state: PrepareView['state'];
  error?: { status: number; detail: string };
  /** Who asked and has not taken it back: a DELETE removes its client, and the last one cancels the prepare. */
  clients: Set<string>;
  /** Jobs waiting on this prepare's load instead of loading the image themselves. */
  joined: number;
  abort: AbortController;
  loaded: Promise<LoadedImage>;
  endedAt?: number;
}

const view = (e: Entry): PrepareView => ({ image: e.image, state: e.state, ...(e.error ? { error: e.error } : {}) });

/**
 * Images being read into the server's caches ahead of their first prompt (`POST /v1/vista3d/prepare`), in the
 * background: at most one prepare per image (`image` as given) at a time, a bounded number loading (in all and per
 * client), cancellable. A job that asks for an image while its prepare is loading takes the prepare's image
 * (`join`) instead of loading it again.
 */
export class PrepareRegistry {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly limits: PrepareLimits = DEFAULT_PREPARE_LIMITS) {}

  /**
   * Starts preparing `image` for `client`, or joins the prepare already loading it (or remembers that it is
   * ready); throws 503 / 429 when too many are loading. Returns at once: the work runs in the background.
   */
  start(client: string, image: string, work: PrepareWork): PrepareView {
    this.prune();
    const known = this.entries.get(image);
    if (known && (known.state === 'loading' || known.state === 'ready')) {
      known.clients.add(client);
      return view(known);
    }
    const loading = [...this.entries.values()].filter((e) => e.state === 'loading');
    const retry = { 'Retry-After': '10' };
    if (loading.length >= this.limits.maxOutstanding) throw new HttpError(503, 'too_many_prepares', `the server is already preparing ${loading.length} images, its limit; retry later`, retry);
    const mine = loading.filter((e) => e.clients.has(client)).length;
    if (mine >= this.limits.maxPerClient) throw new HttpError(429, 'too_many_prepares_for_client', `you have ${mine} images being prepared, the limit per client; wait for them or cancel some (DELETE /v1/vista3d/prepare?image=…)`, retry);
    const abort = new AbortController();
    const loaded = work.load(abort.signal);
    const e: Entry = { image, state: 'loading', clients: new Set([client]), joined: 0, abort, loaded };
    this.entries.delete(image);
    this.entries.set(image, e);
    loaded
      .then(async (img) => {
        if (e.state !== 'loading') return; // cancelled while jobs kept the load going
        await work.prepare(img);
        if (e.state === 'loading') e.state = 'ready';
      })
      .catch((err) => {
        if (e.state !== 'loading') return;
        if (abort.signal.aborted) e.state = 'cancelled';
        else {
          e.state = 'failed';
          e.error = errorView(err);
        }
      })
      .finally(() => {
        e.endedAt = Date.now();
      });
    return view(e);
  }

  /** The prepare of `image`, if `client` asked for it. */
  get(image: string, client: string): PrepareView | undefined {
    this.prune();
    const e = this.entries.get(image);
    return e && e.clients.has(client) ? view(e) : undefined;
  }

  /**
   * Takes back `client`'s ask: the last one cancels a prepare still loading (its load stops unless a job is
   * waiting on it) and forgets an ended one. Undefined when `client` had not asked.
   */
  cancel(image: string, client: string): PrepareView | undefined {
    const e = this.entries.get(image);
    if (!e || !e.clients.delete(client)) return undefined;
    if (e.clients.size) return view(e);
    if (e.state === 'loading') {
      e.state = 'cancelled';
      e.endedAt = Date.now();
      if (!e.joined) e.abort.abort();
    }
    const v = view(e);
    if (e.state !== 'cancelled' || !e.joined) this.entries.delete(image);
    return v;
  }

  /**
   * The image a prepare is loading, for a job that asks for the same `image` meanwhile: it waits for that load
   * instead of starting its own (it leaves when `signal` aborts). Undefined when no prepare is loading it.
   */
  join(image: string, signal?: AbortSignal): Promise<LoadedImage> | undefined {
    const e = this.entries.get(image);
    if (!e || !(e.state === 'loading' || (e.state === 'cancelled' && e.joined > 0))) return undefined;
    e.joined++;
    const leave = () => {
      if (--e.joined === 0 && e.state === 'cancelled') {
        e.abort.abort();
        if (this.entries.get(image) === e) this.entries.delete(image);
      }
    };
    return new Promise<LoadedImage>((resolve, reject) => {
      const onAbort = () => reject(new HttpError(499, 'cancelled', 'the client went away while its image was loading'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      e.loaded.then(resolve, reject).finally(() => signal?.removeEventListener('abort', onAbort));
    }).finally(leave);
  }

  /** Stops every load (shutdown). */
  close(): void {
    for (const e of this.entries.values()) {
      if (e.state === 'loading') e.state = 'cancelled';
      e.abort.abort();
    }
    this.entries.clear();
  }

  private prune(): void {
    const now = Date.now();
    const ended = [...this.entries.values()].filter((e) => e.endedAt !== undefined && e.state !== 'loading' && !e.joined);
    let over = ended.length - this.limits.maxKept;
    for (const e of ended) {
      if (over-- > 0 || now - e.endedAt! > this.limits.keepMs) this.entries.delete(e.image);
    }
  }
}
