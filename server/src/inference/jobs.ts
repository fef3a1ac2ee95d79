import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobEnded, readNifti, regionDims, regionSubVolume, regionToVolume, writeNifti, writeVolumeBytes, type JobView, type LabelRegion, type SegmentTimings, type Vec3, type Volume } from '@vista3d/models';
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import { writeFileAtomic } from '@vista3d/models/node';
import { zipSync } from 'fflate';
import { errorView, HttpError } from '../http/errors.ts';
import type { EngineRun } from './engine.ts';

/** What a job hands the registry when it ends well: the result as its region of the input's grid. */
export interface JobOutput {
  /** `<stem>_seg.<ext>`, as the NIM names the full-grid file. */
  fileName: string;
  /** How the full-grid file is encoded (after the input: NRRD for NRRD, else NIfTI; gzipped unless `.nii`). */
  format: 'nifti' | 'nrrd';
  /** The input's grid (LPS mm, i fastest): where the region lies, and the full file's geometry. */
  geometry: Omit<Volume, 'data'>;
  region: LabelRegion;
  /** What the image reader assumed (geometry fallbacks, NaN voxels): shown in the job's view. */
  warnings?: string[];
  /** How long each stage took (recorded in /v1/metrics by whoever ran it). */
  timings?: SegmentTimings;
}

const gzipAsync = promisify(gzip);
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/**
 * The full-grid `<stem>_seg.<ext>` file of a result (NRRD for NRRD inputs, else NIfTI, gzipped unless `.nii`), or
 * the NIM's zip holding it: built from the region, never kept. A gzipped NIfTI is compressed on zlib's thread pool
 * (run-length strategy, as `writeNifti` does) and the steps give the event loop a turn in between: encoding a
 * 512×512×250 result would otherwise hold the thread for about 0.4 s, and with it a radiologist's click.
 */
export async function encodeResult(out: Pick<JobOutput, 'fileName' | 'format' | 'geometry' | 'region'>, as: 'file' | 'zip'): Promise<Uint8Array> {
  const gz = !/\.nii$/i.test(out.fileName);
  const full = regionToVolume(out.region, out.geometry);
  await nextTurn();
  let file: Uint8Array;
  if (out.format === 'nifti' && gz) {
    const raw = writeNifti(full, { gzip: false });
    await nextTurn();
    const packed = await gzipAsync(raw, { level: 6, strategy: constants.Z_RLE });
    file = new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength);
  } else file = writeVolumeBytes(full, out.format, { gzip: gz });
  if (as === 'file') return file;
  await nextTurn();
  return zipSync({ [out.fileName]: [file, { level: 0 }] });
}

/**
 * What the registry keeps of a finished job: the region's NIfTI on disk (the viewer's answer, byte for byte) and
 * what it takes to rebuild the full-grid file from it on demand — never a label volume in memory.
 */
export interface StoredResult {
  fileName: string;
  format: 'nifti' | 'nrrd';
  geometry: Omit<Volume, 'data'>;
  /** The stored box [lo, hi) on the input's grid (never empty: an empty region is kept as one `outside` voxel). */
  lo: Vec3;
  hi: Vec3;
  outside: number;
  /** Uncompressed NIfTI-1 of the box (regionSubVolume), on disk. */
  path: string;
  bytes: number;
}

export interface Job extends Omit<JobView, 'file_name'> {
  /** Who started it (API key, user, or address): jobs are bounded per client, and only its client sees it. */
  client: string;
  result?: StoredResult;
  abort: AbortController;
  finishedAt?: number;
  /** Its place in the device's queue while it waits. */
  position?: () => number | undefined;
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

/** How often a watched job's place in the queue is looked at (a change is pushed to its event stream). */
const POSITION_POLL_MS = 250;

/** A region with at least one voxel: an empty one becomes voxel [0, 0, 0] holding `outside` (the same result). */
export function nonEmpty(r: LabelRegion): LabelRegion {
  return regionDims(r).every((d) => d > 0) ? r : { lo: [0, 0, 0], hi: [1, 1, 1], data: new Uint8Array([r.outside]), outside: r.outside };
}

/**
 * A result as the stores keep it: the region's uncompressed NIfTI (its own affine) and what describes it, without
 * where it is kept (`path`: a file here, a Redis key there).
 */
export function serializeRegion(out: JobOutput): { bytes: Uint8Array; meta: Omit<StoredResult, 'path'> } {
  const region = nonEmpty(out.region);
  const bytes = writeNifti(regionSubVolume(region, out.geometry), { gzip: false });
  const g = out.geometry;
  const geometry = { dims: [...g.dims] as Vec3, spacing: [...g.spacing] as Vec3, direction: [...g.direction] as Volume['direction'], origin: [...g.origin] as Vec3 };
  return { bytes, meta: { fileName: out.fileName, format: out.format, geometry, lo: [...region.lo] as Vec3, hi: [...region.hi] as Vec3, outside: region.outside, bytes: bytes.byteLength } };
}

/** The region a stored result's NIfTI holds (serializeRegion's inverse). */
export function storedRegion(r: Omit<StoredResult, 'path'>, bytes: Uint8Array): LabelRegion {
  return { lo: r.lo, hi: r.hi, data: readNifti(bytes).data as Uint8Array, outside: r.outside };
}

/** Resolves once `job` has ended (as `watch` tells it), or when `signal` aborts; never rejects. */
export function whenEnded(watch: JobStore['watch'], job: Job, signal: AbortSignal): Promise<void> {
  if (jobEnded(job) || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      unwatch();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const unwatch = watch(job, (j) => {
      if (jobEnded(j)) done();
    });
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Where the viewer's jobs live: in this process (JobRegistry) or in Redis, shared by every front end
 * (workers/redis.ts). The routes see only this.
 */
export interface JobStore {
  start(client: string, run: EngineRun): Job | Promise<Job>;
  get(id: string, client: string): Job | undefined | Promise<Job | undefined>;
  watch(job: Job, fn: (j: Job) => void): () => void;
  ended(job: Job, signal: AbortSignal): Promise<void>;
  read(job: Job, as: 'region' | 'file' | 'zip'): Promise<Uint8Array>;
  cancel(id: string, client: string): Job | undefined | Promise<Job | undefined>;
  close(): void;
}

/**
 * Inference jobs that a browser can watch (progress: windows done / total, as events or by polling), wait for,
 * cancel and fetch, for the viewer. Bounded in count (in all and per client), in time (as the NIM endpoint) and
 * in result bytes (on disk, written atomically): when full, new jobs are refused (503/429) — a result is never
 * dropped before it expires. A result is stored as its region (the box of the input's grid it changed); the
 * full-grid file and the NIM's zip are rebuilt from it when asked for.
 */
export class JobRegistry implements JobStore {
  private readonly jobs = new Map<string, Job>();
  private readonly watchers = new Map<string, Set<(j: Job) => void>>();
  private readonly dir: string;
  private readonly ownDir: boolean;
  private stored = 0;
  constructor(
    private readonly limits: JobLimits,
    /** Hears every job that failed on the server's side (5xx), with the error and its stack. */
    private readonly onInternalError: (jobId: string, error: unknown) => void = () => undefined,
  ) {
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
   * Starts `run` as a job of `client`, or throws 503 (registry or result store full) / 429 (this client's share
   * used) before any work. The run gets the job's signal (cancel, timeout) and reports its progress to the job.
   */
  start(client: string, run: EngineRun): Job {
    this.prune();
    const retry = { 'Retry-After': '30' };
    if (this.jobs.size >= this.limits.maxJobs) throw new HttpError(503, 'too_many_jobs', `the server holds ${this.jobs.size} jobs, its limit (MAX_JOBS); retry when results have been fetched or have expired`, retry);
    if (this.stored >= this.limits.storeBytes) throw new HttpError(503, 'result_store_full', `the server's result store is full (${this.stored} of ${this.limits.storeBytes} bytes, RESULT_STORE_BYTES); retry later`, retry);
    const mine = [...this.jobs.values()].filter((j) => j.client === client).length;
    if (mine >= this.limits.maxPerClient) throw new HttpError(429, 'too_many_jobs_for_client', `you hold ${mine} jobs, the limit per client (MAX_JOBS_PER_CLIENT); fetch or cancel some first`, retry);
    const job: Job = { id: randomUUID(), client, state: 'queued', stage: 'queued', done: 0, total: 0, abort: new AbortController(), position: run.position };
    this.jobs.set(job.id, job);
    const timeout = AbortSignal.timeout(this.limits.timeoutMs);
    const signal = AbortSignal.any([job.abort.signal, timeout]);
    run
      .run({
        signal,
        onProgress: ({ stage, done, total }) => {
          const state = job.state === 'queued' && stage !== 'queued' && stage !== 'load' ? 'running' : job.state;
          if (state === job.state && stage === job.stage && done === job.done && total === job.total) return;
          Object.assign(job, { state, stage, done, total });
          this.notify(job);
        },
      })
      .then(async (out) => {
        job.result = await this.store(job.id, out);
        if (out.warnings?.length) job.warnings = out.warnings;
        job.state = 'done';
        job.stage = 'done';
      })
      .catch((e) => {
        if (timeout.aborted && !job.abort.signal.aborted) {
          job.state = 'failed';
          job.error = { status: 504, detail: `the job took longer than ${this.limits.timeoutMs} ms (REQUEST_TIMEOUT_MS)` };
        } else {
          job.state = job.abort.signal.aborted ? 'cancelled' : 'failed';
          job.error = errorView(e);
          if (job.error.status >= 500) this.onInternalError(job.id, e);
        }
      })
      .finally(() => {
        job.finishedAt = Date.now();
        // a job removed (cancelled and deleted) while it ran leaves no result behind
        if (!this.jobs.has(job.id)) void this.drop(job);
        this.notify(job);
        this.watchers.delete(job.id);
      });
    return job;
  }

  private async store(id: string, out: JobOutput): Promise<StoredResult> {
    const { bytes, meta } = serializeRegion(out);
    const path = join(this.dir, `${id}.result`);
    await writeFileAtomic(path, bytes);
    this.stored += bytes.byteLength;
    return { ...meta, path };
  }

  /** The job, if it exists and belongs to `client`; others' jobs are as absent (no probing of ids). */
  get(id: string, client: string): Job | undefined {
    this.prune();
    const j = this.jobs.get(id);
    return j && j.client === client ? j : undefined;
  }

  /**
   * Calls `fn` with the job after each change of its view (state, stage, windows done / total) and once more when
   * it has ended; returns the unsubscribe. Nothing is called for a job that has already ended.
   */
  watch(job: Job, fn: (j: Job) => void): () => void {
    if (jobEnded(job)) return () => undefined;
    let set = this.watchers.get(job.id);
    if (!set) this.watchers.set(job.id, (set = new Set()));
    set.add(fn);
    // a waiting job's place in the queue changes without the job doing anything: look at it while it is watched
    let shown = job.position?.();
    const timer = setInterval(() => {
      if (jobEnded(job)) return clearInterval(timer);
      if (job.state !== 'queued') return;
      const now = job.position?.();
      if (now !== shown) fn(job);
      shown = now;
    }, POSITION_POLL_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      set.delete(fn);
    };
  }

  /** Resolves once the job has ended, or when `signal` aborts (whichever comes first); never rejects. */
  ended(job: Job, signal: AbortSignal): Promise<void> {
    return whenEnded((j, fn) => this.watch(j, fn), job, signal);
  }


  /**
   * The result as the client asked for it: `region` (the stored NIfTI of the box, uncompressed), `file` (the
   * full-grid file, rebuilt from the region) or `zip` (the NIM's zip of that file). Marks the result fetched (it
   * expires sooner then). 404 when it expired meanwhile.
   */
  async read(job: Job, as: 'region' | 'file' | 'zip'): Promise<Uint8Array> {
    const r = job.result;
    if (!r) throw new Error(`job ${job.id} has no result`);
    let region: Uint8Array;
    try {
      region = new Uint8Array(await readFile(r.path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new HttpError(404, 'job_not_found', `the result of job ${job.id} has expired`);
      throw e;
    }
    job.fetchedAt ??= Date.now();
    if (as === 'region') return region;
    return encodeResult({ ...r, region: storedRegion(r, region) }, as);
  }

  /** Cancels a queued or running job; removes a finished one (its result is deleted). */
  cancel(id: string, client: string): Job | undefined {
    const job = this.get(id, client);
    if (!job) return undefined;
    if (!jobEnded(job)) job.abort.abort();
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

  private notify(job: Job): void {
    for (const fn of [...(this.watchers.get(job.id) ?? [])]) fn(job);
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
  return { id: j.id, state: j.state, stage: j.stage, done: j.done, total: j.total, ...(j.error ? { error: j.error } : {}), ...(j.result ? { file_name: j.result.fileName } : {}), ...(j.warnings ? { warnings: j.warnings } : {}), ...queuePosition(j) };
}

/** Where a job waits for the device (1 = next), while it waits. */
function queuePosition(j: Job): { queue_position?: number } {
  const p = j.state === 'queued' ? j.position?.() : undefined;
  return p ? { queue_position: p } : {};
}
