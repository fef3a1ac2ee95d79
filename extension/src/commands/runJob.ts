import type { InferenceBody } from '../api/client.ts';
import type { JobState } from '../state/store.ts';
import type { CommandContext, LabelVolume } from './context.ts';

/**
 * Starts an inference job on the server and follows it into the store (stage, windows done / total) until it
 * ends; returns the result label map, or null when it was cancelled (or superseded by a newer job).
 */
export async function runJob(ctx: CommandContext, kind: JobState['kind'], body: InferenceBody, pollMs = 200): Promise<LabelVolume | null> {
  const { store, api } = ctx;
  store.set({ job: { kind, state: 'queued', stage: 'starting', done: 0, total: 0 }, error: null, notice: null });
  const job = await api.startJob(body);
  ctx.running.id = job.id;
  ctx.running.cancelled = false;
  let view = job;
  while (view.state === 'queued' || view.state === 'running') {
    await ctx.sleep(pollMs);
    if (ctx.running.id !== job.id) return null; // superseded
    view = await api.job(job.id);
    store.set({ job: { kind, state: view.state, stage: view.stage, done: view.done, total: view.total } });
  }
  if (ctx.running.id === job.id) ctx.running.id = null;
  if (view.state === 'cancelled') {
    store.set({ job: { kind, state: 'cancelled', stage: view.stage, done: view.done, total: view.total }, notice: 'Cancelled.' });
    return null;
  }
  if (view.state === 'failed') throw new Error(view.error?.detail ?? 'the job failed');
  const labels = await api.result(job.id);
  // 'done' only once the caller has written the result into the labelmap (finishJob)
  store.set({ job: { kind, state: 'running', stage: 'writing', done: view.total, total: view.total } });
  return labels;
}

/** Marks the job done, after its result is on screen. */
export function finishJob(ctx: CommandContext): void {
  const job = ctx.store.get().job;
  if (job) ctx.store.set({ job: { ...job, state: 'done', stage: 'done' } });
}
