import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobView } from '@vista3d/models';
import { writeFileAtomic } from '@vista3d/models/node';
import { zipSync } from 'fflate';
import { HttpError, toHttpError } from '../http/errors.ts';
import type { InferenceOutput } from './service.ts';

/** What the registry keeps of a finished job: the result file on disk, never the label volume in memory. */
export interface StoredResult {
  fileName: string;
  path: string;
  bytes: number;
}

export interface Job extends Omit<JobView, 'file_name'> {
  /** Who started it (API key, user, or address): jobs are bounded per client, and only its client sees it. */
  client: string;
  result?: StoredResult;
  abort: AbortController;
  finishedAt?: number;
  fetchedAt?: number;
}

export interface JobLimits {
  /** Jobs kept at once (running, queued, finished and not expired). */
  maxJobs: number;
  maxPerClient: number;
  /** A finished job expires this long after it ended… */
  ttlMs: number;
  /** …or this long after its result was first fetched, whichever comes first. */
  fetchedTtlMs: number;
  /** Bytes of results on disk at once; beyond, new jobs are refused until results expire. */
  storeBytes: number;
  /** Longest a job may run, queueing and loading included (REQUEST_TIMEOUT_MS, as for the NIM endpoint). */
  timeoutMs: number;
  /** Where results are written; null: a fresh folder under the OS temp dir, removed on close. */
  resultDir: string | null;
}

/**
 * Inference jobs that a browser can watch (progress: windows done / total), cancel and fetch, for the viewer.
 * Bounded in count (in all and per client), in time (as the NIM endpoint) and in result bytes (on disk, written
 * atomically): when full, new jobs are refused (503/429) — a result is never dropped before it expires.
 */
export class JobRegistry {
  private readonly jobs = new Map<string, Job>();
  private readonly dir: string;
  private readonly ownDir: boolean;
  private stored = 0;
  constructor(private readonly limits: JobLimits) {
    this.ownDir = !limits.resultDir;
    this.dir = limits.resultDir ?? mkdtempSync(join(tmpdir(), 'vista3d-results-'));
    mkdirSync(this.dir, { recursive: true });
  }

  get resultBytes(): number {
    return this.stored;
  }
  get size(): number {
    return this.jobs.size;
  }

  /**
   * Starts `work` as a job of `client`, or throws 503 (registry or result store full) / 429 (this client's share
   * used) before any work. `work` gets the job's signal (cancel, timeout) and a progress callback.
   */
  start(client: string, work: (signal: AbortSignal, progress: (stage: string, done: number, total: number) => void) => Promise<InferenceOutput>): Job {
    this.prune();
    const retry = { 'Retry-After': '30' };
    if (this.jobs.size >= this.limits.maxJobs) throw new HttpError(503, 'too_many_jobs', `the server holds ${this.jobs.size} jobs, its limit (MAX_JOBS); retry when results have been fetched or have expired`, retry);
    if (this.stored >= this.limits.storeBytes) throw new HttpError(503, 'result_store_full', `the server's result store is full (${this.stored} of ${this.limits.storeBytes} bytes, RESULT_STORE_BYTES); retry later`, retry);
    const mine = [...this.jobs.values()].filter((j) => j.client === client).length;
    if (mine >= this.limits.maxPerClient) throw new HttpError(429, 'too_many_jobs_for_client', `you hold ${mine} jobs, the limit per client (MAX_JOBS_PER_CLIENT); fetch or cancel some first`, retry);
    const job: Job = { id: randomUUID(), client, state: 'queued', stage: 'queued', done: 0, total: 0, abort: new AbortController() };
    this.jobs.set(job.id, job);
    const timeout = AbortSignal.timeout(this.limits.timeoutMs);
    const signal = AbortSignal.any([job.abort.signal, timeout]);
    work(signal, (stage, done, total) => {
      if (job.state === 'queued' && stage !== 'queued' && stage !== 'load') job.state = 'running';
      job.stage = stage;
      job.done = done;
      job.total = total;
    })
      .then(async (out) => {
        const path = join(this.dir, `${job.id}.result`);
        await writeFileAtomic(path, out.file);
        this.stored += out.file.byteLength;
        job.result = { fileName: out.fileName, path, bytes: out.file.byteLength };
        job.state = 'done';
        job.stage = 'done';
      })
      .catch((e) => {
        const h = toHttpError(e);
        if (timeout.aborted && !job.abort.signal.aborted) {
          job.state = 'failed';
          job.error = { status: 504, detail: `the job took longer than ${this.limits.timeoutMs} ms (REQUEST_TIMEOUT_MS)` };
        } else {
          job.state = job.abort.signal.aborted ? 'cancelled' : 'failed';
          job.error = { status: h.status === 499 ? 409 : h.status, detail: h.status >= 500 && h.code === 'internal' ? 'internal server error' : h.message };
        }
      })
      .finally(() => {
        job.finishedAt = Date.now();
        // a job removed (cancelled and deleted) while it ran leaves no result behind
        if (!this.jobs.has(job.id)) void this.drop(job);
      });
    return job;
  }

  /** The job, if it exists and belongs to `client`; others' jobs are as absent (no probing of ids). */
  get(id: string, client: string): Job | undefined {
    this.prune();
    const j = this.jobs.get(id);
    return j && j.client === client ? j : undefined;
  }

  /** The result file's bytes, or the NIM's zip of it; marks the result fetched (it expires sooner then). */
  async read(job: Job, as: 'file' | 'zip'): Promise<Uint8Array> {
    if (!job.result) throw new Error(`job ${job.id} has no result`);
    const file = new Uint8Array(await readFile(job.result.path));
    job.fetchedAt ??= Date.now();
    return as === 'file' ? file : zipSync({ [job.result.fileName]: [file, { level: 0 }] });
  }

  /** Cancels a queued or running job; removes a finished one (its result is deleted). */
  cancel(id: string, client: string): Job | undefined {
    const job = this.get(id, client);
    if (!job) return undefined;
    if (job.state === 'queued' || job.state === 'running') job.abort.abort();
    else {
      this.jobs.delete(id);
      void this.drop(job);
    }
    return job;
  }

  /** Cancels everything and removes the results (shutdown). */
  close(): void {
    for (const j of this.jobs.values()) j.abort.abort();
    this.jobs.clear();
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private expired(j: Job, now: number): boolean {
    if (!j.finishedAt) return false;
    return now - j.finishedAt > this.limits.ttlMs || (j.fetchedAt !== undefined && now - j.fetchedAt > this.limits.fetchedTtlMs);
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, j] of this.jobs) {
      if (!this.expired(j, now)) continue;
      this.jobs.delete(id);
      void this.drop(j);
    }
  }

  private async drop(j: Job): Promise<void> {
    if (!j.result) return;
    const r = j.result;
    j.result = undefined;
    this.stored -= r.bytes;
    await unlink(r.path).catch(() => undefined);
  }
}

/** The public view of a job (no result bytes, no client). */
export function describeJob(j: Job): JobView {
  return { id: j.id, state: j.state, stage: j.stage, done: j.done, total: j.total, ...(j.error ? { error: j.error } : {}), ...(j.result ? { file_name: j.result.fileName } : {}) };
}
