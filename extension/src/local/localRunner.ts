import type { Progress, Prompts, Volume } from '@vista3d/models';
import type { LoadedModel, LoadRequest, SegmentOutcome, WorkerReply, WorkerRequest } from './protocol.ts';

/** What the runner needs of a Worker (tests and other hosts may pass their own). */
export interface WorkerLike {
  postMessage(message: WorkerRequest, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<WorkerReply>) => void) | null;
  onerror: ((e: ErrorEvent) => void) | null;
  terminate(): void;
}

/** A run in the worker that ended without a result because it was cancelled. */
export class LocalCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'LocalCancelled';
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (p: Progress) => void;
}

/**
 * The viewer's side of the inference worker: the server jobs' interface in the browser — load the model, start a
 * prompt with progress, cancel it, get its result region. One worker, started on first use; the image last sent is
 * held there, so the next prompt on it sends no voxels.
 */
export class LocalRunner {
  private worker: WorkerLike | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private heldImage: string | null = null;

  constructor(private readonly start: () => WorkerLike) {}

  private ensure(): WorkerLike {
    if (this.worker) return this.worker;
    const w = this.start();
    w.onmessage = (e) => {
      const m = e.data;
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.type === 'progress') return p.onProgress?.(m.progress);
      this.pending.delete(m.id);
      if (m.type === 'ok') p.resolve(m.value);
      else if (m.type === 'cancelled') p.reject(new LocalCancelled());
      else p.reject(Object.assign(new Error(m.message), { needVolume: m.needVolume }));
    };
    w.onerror = (e) => {
      const err = new Error(`The in-browser VISTA3D worker failed: ${e.message || 'it could not start'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.worker?.terminate();
      this.worker = null;
      this.heldImage = null;
    };
    this.worker = w;
    return w;
  }

  private call<T>(make: (id: number) => WorkerRequest, onProgress?: (p: Progress) => void, transfer: Transferable[] = []): { id: number; done: Promise<T> } {
    const w = this.ensure();
    const id = this.nextId++;
    const done = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress }));
    w.postMessage(make(id), transfer);
    return { id, done };
  }

  load(opts: Omit<LoadRequest, 'type' | 'id'>): Promise<LoadedModel> {
    if (opts.reload) this.heldImage = null;
    return this.call<LoadedModel>((id) => ({ type: 'load', id, ...opts })).done;
  }

  /**
   * Segments the image `imageKey` names; `volume()` is asked for its voxels only when the worker does not hold
   * them. `started` hears the run's id (for cancel) before it begins.
   */
  async segment(imageKey: string, volume: () => Promise<Volume>, prompts: Prompts, onProgress: (p: Progress) => void, started: (id: number) => void): Promise<SegmentOutcome> {
    for (let attempt = 0; ; attempt++) {
      const v = this.heldImage === imageKey ? undefined : await volume();
      const run = this.call<SegmentOutcome>((id) => ({ type: 'segment', id, imageKey, volume: v, prompts }), onProgress, v ? [v.data.buffer as ArrayBuffer] : []);
      started(run.id);
      if (v) this.heldImage = imageKey;
      try {
        return await run.done;
      } catch (e) {
        if (!(e as { needVolume?: boolean }).needVolume || attempt > 0) throw e;
        this.heldImage = null;
      }
    }
  }

  cancel(id: number): void {
    this.worker?.postMessage({ type: 'cancel', id });
  }

  dispose(): void {
    this.worker?.terminate();
    this.worker = null;
    this.heldImage = null;
    for (const p of this.pending.values()) p.reject(new LocalCancelled());
    this.pending.clear();
  }
}
