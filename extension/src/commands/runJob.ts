import { jobEnded, MAX_RESULT_WAIT_S, type JobView } from '@vista3d/models';
import { ApiError, type InferenceBody, type RegionResult } from '../api/client.ts';
import type { JobState } from '../state/store.ts';
import type { CommandContext } from './context.ts';

const isAbort = (e: unknown) => (e as { name?: string })?.name === 'AbortError';

/**
 * Starts an inference job on the server and follows it into the store (stage, windows done / total) until it
 * ends; returns its result region, or null when it was cancelled (or superseded by a newer job). Two requests run
 * side by side: the job's event stream (progress as it happens; polled every `pollMs` when the stream fails) and
 * the result, asked for with ?wait so that it arrives in the round trip that ends the job.
 */
export async function runJob(ctx: CommandContext, kind: JobState['kind'], body: InferenceBody, pollMs = 200): Promise<RegionResult | null> {
  const { store, api } = ctx;
  ctx.running.stop?.(); // the job before this one is superseded: stop watching it
  store.set({ job: { kind, state: 'queued', stage: 'starting', done: 0, total: 0 }, error: null, notice: null });
  const job = await api.startJob(body);
  const watch = new AbortController();
  ctx.running.id = job.id;
  ctx.running.cancelled = false;
  ctx.running.stop = () => watch.abort();
  const current = () => ctx.running.id === job.id && !watch.signal.aborted;
  const show = (v: JobView) => {
    if (!current()) return;
    // 'done' only once the caller has written the result into the labelmap (finishJob)
    store.set({ job: v.state === 'done' ? { kind, state: 'running', stage: 'writing', done: v.total, total: v.total } : { kind, state: v.state, stage: v.stage, done: v.done, total: v.total, ...(v.queue_position ? { queuePosition: v.queue_position } : {}) } });
  };
  void followProgress(ctx, job.id, show, watch.signal, pollMs);
  try {
    const outcome = await awaitResult(ctx, job.id, watch.signal, pollMs);
    if (!current()) return null; // superseded
    if (outcome.kind === 'cancelled') {
      store.set({ job: { kind, state: 'cancelled', stage: outcome.view.stage, done: outcome.view.done, total: outcome.view.total }, notice: 'Cancelled.' });
      return null;
    }
    if (outcome.kind === 'failed') throw new Error(outcome.view.error?.detail ?? 'the job failed');
    const total = store.get().job?.total ?? 0;
    store.set({ job: { kind, state: 'running', stage: 'writing', done: total, total } });
    return outcome.result;
  } catch (e) {
    if (isAbort(e) && !current()) return null;
    throw e;
  } finally {
    watch.abort();
    if (ctx.running.id === job.id) {
      ctx.running.id = null;
      ctx.running.stop = undefined;
    }
  }
}

type Outcome = { kind: 'done'; result: RegionResult } | { kind: 'cancelled'; view: JobView } | { kind: 'failed'; view: JobView };

/**
 * The job's result, waited for on the server (MAX_RESULT_WAIT_S a request, again while the job runs); when a
 * request fails otherwise (too many open, the network), the job's state decides, polled every `pollMs`.
 */
async function awaitResult(ctx: CommandContext, id: string, signal: AbortSignal, pollMs: number): Promise<Outcome> {
  for (;;) {
    let waitedOut = false;
    try {
      return { kind: 'done', result: await ctx.api.resultRegion(id, { wait: MAX_RESULT_WAIT_S, signal }) };
    } catch (e) {
      if (signal.aborted || !(e instanceof ApiError)) throw e;
      waitedOut = e.status === 409;
    }
    const view = await ctx.api.job(id);
    if (view.state === 'cancelled') return { kind: 'cancelled', view };
    if (view.state === 'failed') return { kind: 'failed', view };
    if (!waitedOut) await ctx.sleep(pollMs);
    if (signal.aborted) throw new DOMException('superseded', 'AbortError');
  }
}

/** Progress into the store from the job's event stream; when it fails, by polling the job every `pollMs`. */
async function followProgress(ctx: CommandContext, id: string, show: (v: JobView) => void, signal: AbortSignal, pollMs: number): Promise<void> {
  try {
    show(await ctx.api.events(id, show, signal));
    return;
  } catch (e) {
    if (signal.aborted) return;
    ctx.log(`VISTA3D: no event stream for job ${id} (${(e as Error).message}); polling every ${pollMs} ms`);
  }
  try {
    while (!signal.aborted) {
      await ctx.sleep(pollMs);
      if (signal.aborted) return;
      const v = await ctx.api.job(id);
      show(v);
      if (jobEnded(v)) return;
    }
  } catch (e) {
    if (!signal.aborted) ctx.log(`VISTA3D: polling job ${id} failed: ${(e as Error).message}`);
  }
}

/** Marks the job done, after its result is on screen. */
export function finishJob(ctx: CommandContext): void {
  const job = ctx.store.get().job;
  if (job) ctx.store.set({ job: { ...job, state: 'done', stage: 'done' } });
}
