import { randomUUID } from 'node:crypto';
import type { JobView } from '@vista3d/models';
import { toHttpError } from '../http/errors.ts';
import type { InferenceOutput } from './service.ts';

/**
 * Inference jobs that a browser can watch (progress: windows done / total) and cancel, for the viewer.
 * Bounded: at most `maxJobs` kept; finished jobs expire after `ttlMs`.
 */
export interface Job extends Omit<JobView, 'file_name'> {
  result?: InferenceOutput;
  abort: AbortController;
  finishedAt?: number;
}

export class JobRegistry {
  private readonly jobs = new Map<string, Job>();
  constructor(
    private readonly maxJobs = 64,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  /** Starts `work` as a job; `work` reports progress through the callback it is given. */
  start(work: (signal: AbortSignal, progress: (stage: string, done: number, total: number) => void) => Promise<InferenceOutput>): Job {
    this.prune();
    const job: Job = { id: randomUUID(), state: 'queued', stage: 'queued', done: 0, total: 0, abort: new AbortController() };
    this.jobs.set(job.id, job);
    work(job.abort.signal, (stage, done, total) => {
      if (job.state === 'queued' && stage !== 'queued' && stage !== 'load') job.state = 'running';
      job.stage = stage;
      job.done = done;
      job.total = total;
    }).then(
      (result) => {
        job.state = 'done';
        job.stage = 'done';
        job.result = result;
        job.finishedAt = Date.now();
      },
      (e) => {
        const h = toHttpError(e);
        job.state = job.abort.signal.aborted ? 'cancelled' : 'failed';
        job.error = { status: h.status === 499 ? 409 : h.status, detail: h.status >= 500 && h.code === 'internal' ? 'internal server error' : h.message };
        job.finishedAt = Date.now();
      },
    );
    return job;
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  cancel(id: string): Job | undefined {
    const job = this.jobs.get(id);
    if (job && (job.state === 'queued' || job.state === 'running')) job.abort.abort();
    return job;
  }

  /** Cancels everything (shutdown). */
  cancelAll(): void {
    for (const j of this.jobs.values()) j.abort.abort();
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, j] of this.jobs) if (j.finishedAt && now - j.finishedAt > this.ttlMs) this.jobs.delete(id);
    const finished = [...this.jobs.values()].filter((j) => j.finishedAt).sort((a, b) => a.finishedAt! - b.finishedAt!);
    while (this.jobs.size >= this.maxJobs && finished.length) this.jobs.delete(finished.shift()!.id);
  }
}

/** The public view of a job (no result bytes). */
export function describeJob(j: Job): JobView {
  return { id: j.id, state: j.state, stage: j.stage, done: j.done, total: j.total, ...(j.error ? { error: j.error } : {}), ...(j.result ? { file_name: j.result.fileName } : {}) };
}
