/**
 * NIM_HTTP_MAX_WORKERS worker processes on this machine, one device each (a GPU through CUDA_VISIBLE_DEVICES, or
 * a share of the CPU threads), behind the Engine interface. A run goes to the worker that already holds its image
 * (its series cache, per-image state and features: affinity), else to the least loaded one; each worker's own
 * device queue orders its work. A worker that dies is restarted; what it held is sent again once, to a live worker.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ModelManifest, PrepareView } from '@vista3d/models';
import type { Config } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import { remoteModelView, type Engine, type EngineLoad, type EngineRun, type ModelView, type RunOptions, type RunRequest } from '../inference/engine.ts';
import type { JobOutput } from '../inference/jobs.ts';
import type { QueueLoad } from '../inference/queue.ts';
import type { Logger } from '../logger.ts';
import { recordTimings, type Metrics } from '../metrics.ts';
import { fromWire, type FromWorker, type PrepareCall, type ToWorker } from './protocol.ts';

const WORKER_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Images whose worker is remembered (least recently used forgotten first). */
const AFFINITY_ENTRIES = 4096;
/** A run is sent at most this many times (its worker died under it once: it is sent again, once). */
const MAX_ATTEMPTS = 2;
/** A worker that keeps dying is restarted after this long at most (doubling from 0.5 s). */
const MAX_RESTART_DELAY_MS = 30_000;

interface Outstanding {
  id: string;
  req: RunRequest;
  attempts: number;
  /** Asked to run (before: only a place taken). */
  started?: boolean;
  worker?: Slot;
  position?: number;
  opts: RunOptions;
  resolve(out: JobOutput): void;
  reject(e: unknown): void;
}

interface Slot {
  name: string;
  index: number;
  proc?: ChildProcess;
  ready: boolean;
  device?: string;
  load: QueueLoad;
  /** Runs sent to it and not ended. */
  runs: Set<Outstanding>;
  calls: Map<string, { resolve(v: PrepareView | undefined): void; reject(e: unknown): void }>;
  restarts: number;
}

const emptyLoad = (): QueueLoad => ({ interactive: { waiting: 0, running: 0 }, batch: { waiting: 0, running: 0 } });

/** The environment each worker gets: its device (a GPU id, or its share of the CPU threads) and its name. */
export function workerEnv(config: Config, index: number, count: number, frontEndUrl: string): NodeJS.ProcessEnv {
  // the front end's own configuration (not only its process environment: tests configure in-process)
  const env: NodeJS.ProcessEnv = { ...process.env, ...config.env, NIM_HTTP_MAX_WORKERS: '1', VISTA3D_WORKER_NAME: `w${index}`, VISTA3D_FRONTEND_URL: frontEndUrl };
  if (config.workerDeviceIds.length) env.CUDA_VISIBLE_DEVICES = config.workerDeviceIds[index % config.workerDeviceIds.length];
  else if (!config.threads) env.THREADS = String(Math.max(1, Math.floor(availableParallelism() / count)));
  return env;
}

export class PoolEngine implements Engine {
  private readonly slots: Slot[];
  private readonly runs = new Map<string, Outstanding>();
  /** Which worker holds each image (as the request named it). */
  private readonly affinity = new Map<string, Slot>();
  private manifest?: ModelManifest;
  private closing = false;
  readonly model: ModelView;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    count: number,
    private readonly frontEndUrl: string,
  ) {
    this.slots = Array.from({ length: count }, (_, index) => ({ name: `w${index}`, index, ready: false, load: emptyLoad(), runs: new Set(), calls: new Map(), restarts: 0 }));
    this.model = remoteModelView(
      () => this.manifest!,
      () => this.slots.map((s) => `${s.name}: ${s.device ?? 'starting'}`).join(', '),
    );
  }

  /** Starts `count` workers and resolves once every one has loaded the model (rejects if one cannot). */
  static async start(config: Config, log: Logger, metrics: Metrics, count: number, frontEndUrl: string): Promise<PoolEngine> {
    const pool = new PoolEngine(config, log, metrics, count, frontEndUrl);
    await Promise.all(pool.slots.map((s) => pool.spawn(s)));
    return pool;
  }

  private spawn(slot: Slot): Promise<void> {
    return new Promise((resolve, reject) => {
      const proc = fork(WORKER_MAIN, [], {
        execArgv: ['--import', 'tsx'],
        serialization: 'advanced',
        env: workerEnv(this.config, slot.index, this.slots.length, this.frontEndUrl),
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      slot.proc = proc;
      proc.on('message', (m: FromWorker) => {
        if (m.t === 'ready') {
          this.manifest ??= m.manifest;
          slot.device = m.device;
          slot.ready = true;
          slot.restarts = 0;
          this.log.info('worker ready', { worker: slot.name, pid: proc.pid, device: m.device });
          resolve();
          this.drain();
        } else this.onMessage(slot, m);
      });
      proc.on('exit', (code, signal) => {
        const wasReady = slot.ready;
        slot.ready = false;
        slot.proc = undefined;
        slot.load = emptyLoad();
        if (!wasReady) reject(new Error(`worker ${slot.name} stopped before it was ready (${signal ?? `exit code ${code}`})`));
        this.onExit(slot, signal ?? `exit code ${code}`);
      });
    });
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (m.t === 'load') return void (slot.load = m.load);
    if (m.t === 'reply' || (m.t === 'failed' && slot.calls.has(m.id))) {
      const call = slot.calls.get(m.id);
      slot.calls.delete(m.id);
      return m.t === 'reply' ? call?.resolve(m.view) : call?.reject(fromWire(m.error));
    }
    if (m.t === 'ready') return;
    const run = this.runs.get(m.id);
    if (!run || run.worker !== slot) return;
    if (m.t === 'progress') {
      run.position = m.p.stage === 'queued' ? m.position : undefined;
      return run.opts.onProgress?.(m.p);
    }
    this.end(run);
    if (m.t === 'done') {
      if (m.out.timings) recordTimings(this.metrics, m.out.timings);
      run.resolve(m.out);
    } else run.reject(fromWire(m.error));
  }

  /** What the dead worker held goes again to a live one (once); the worker itself is restarted. */
  private onExit(slot: Slot, why: string): void {
    for (const [image, s] of this.affinity) if (s === slot) this.affinity.delete(image);
    for (const call of slot.calls.values()) call.reject(new HttpError(503, 'worker_lost', `the inference worker ${slot.name} stopped (${why}); retry`, { 'Retry-After': '5' }));
    slot.calls.clear();
    const lost = [...slot.runs];
    slot.runs.clear();
    for (const run of lost) {
      run.worker = undefined;
      run.position = undefined;
      if (run.attempts >= MAX_ATTEMPTS) {
        this.runs.delete(run.id);
        run.reject(new HttpError(503, 'worker_lost', `the inference worker running this job stopped (${why}), also on its retry; the job was not finished`, { 'Retry-After': '5' }));
      }
    }
    if (this.closing) return;
    this.log.error('worker stopped; restarting it', { worker: slot.name, why, resent: lost.filter((r) => this.runs.has(r.id)).length });
    const delay = Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** slot.restarts++);
    setTimeout(() => {
      if (!this.closing) this.spawn(slot).catch((e) => this.log.error('worker restart failed', { worker: slot.name, error: String(e) }));
    }, delay).unref();
    this.drain();
  }

  /** Sends every run that has no worker to one (affinity, else least loaded), when one is ready. */
  private drain(): void {
    for (const run of this.runs.values()) {
      if (run.worker || !run.started) continue; // sent, or only a place taken
      const held = this.affinity.get(run.req.prepared.image);
      const slot = this.pick(run.req.prepared.image);
      if (!slot) return;
      this.metrics.workerRuns.inc({ worker: slot.name, reason: run.attempts ? 'retry' : held === slot ? 'affinity' : 'least_loaded' });
      this.send(slot, run);
    }
  }

  private send(slot: Slot, run: Outstanding): void {
    run.worker = slot;
    run.attempts++;
    slot.runs.add(run);
    this.affinity.delete(run.req.prepared.image);
    this.affinity.set(run.req.prepared.image, slot);
    this.trimAffinity();
    this.post(slot, { t: 'run', id: run.id, req: run.req });
  }

  private post(slot: Slot, m: ToWorker): void {
    slot.proc?.send(m);
  }

  private end(run: Outstanding): void {
    run.worker?.runs.delete(run);
    this.runs.delete(run.id);
  }

  private trimAffinity(): void {
    while (this.affinity.size > AFFINITY_ENTRIES) this.affinity.delete(this.affinity.keys().next().value!);
  }

  /** The worker that holds `image` if it is up, else the ready worker with the fewest runs. */
  private pick(image: string): Slot | undefined {
    const held = this.affinity.get(image);
    if (held?.ready) return held;
    let best: Slot | undefined;
    for (const s of this.slots) if (s.ready && (!best || s.runs.size < best.runs.size)) best = s;
    return best;
  }

  admit(req: RunRequest): EngineRun {
    // every worker's own queue holds QUEUE_DEPTH besides its running job: the pool holds that many per worker
    const limit = (this.config.queueDepth + 1) * this.slots.length;
    if (this.runs.size >= limit) {
      throw new HttpError(503, 'overloaded', `the server is busy: ${this.runs.size} requests are already running or waiting on ${this.slots.length} workers; retry later`, { 'Retry-After': '10' });
    }
    const id = randomUUID();
    let resolve!: (out: JobOutput) => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<JobOutput>((res, rej) => ((resolve = res), (reject = rej)));
    const run: Outstanding = { id, req, attempts: 0, opts: {}, resolve, reject };
    this.runs.set(id, run);
    return {
      position: () => run.position,
      release: () => {
        if (!run.started) this.runs.delete(id);
      },
      run: (opts = {}) => {
        if (run.started || !this.runs.has(id)) return Promise.reject(new Error('this place was already used or given back'));
        run.started = true;
        run.opts = opts;
        if (opts.signal?.aborted) {
          this.end(run);
          return Promise.reject(new HttpError(499, 'cancelled', 'the client went away before its turn'));
        }
        opts.signal?.addEventListener(
          'abort',
          () => {
            if (run.worker) this.post(run.worker, { t: 'cancel', id });
            else if (this.runs.has(id)) {
              this.end(run);
              reject(new HttpError(499, 'cancelled', 'the client went away while its job waited for a worker'));
            }
          },
          { once: true },
        );
        this.drain();
        return done;
      },
    };
  }

  private call(m: PrepareCall, client: string, image: string): Promise<PrepareView | undefined> {
    const slot = m === 'prepare' ? this.pick(image) : this.affinity.get(image);
    if (!slot?.ready) {
      if (m !== 'prepare') return Promise.resolve(undefined);
      return Promise.reject(new HttpError(503, 'worker_lost', 'no inference worker is running; retry', { 'Retry-After': '5' }));
    }
    if (m === 'prepare') {
      this.affinity.delete(image);
      this.affinity.set(image, slot);
      this.trimAffinity();
    }
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      slot.calls.set(id, { resolve, reject });
      this.post(slot, { t: m, id, client, image });
    });
  }

  async prepare(client: string, image: string): Promise<PrepareView> {
    return (await this.call('prepare', client, image))!;
  }
  getPrepare(image: string, client: string): Promise<PrepareView | undefined> {
    return this.call('getPrepare', client, image);
  }
  cancelPrepare(image: string, client: string): Promise<PrepareView | undefined> {
    return this.call('cancelPrepare', client, image);
  }

  load(): EngineLoad {
    return Object.fromEntries(this.slots.map((s) => [s.name, s.load]));
  }

  /** The index of the worker that holds `image` (was last sent a run or prepare of it), if any. */
  holder(image: string): number | undefined {
    return this.affinity.get(image)?.index;
  }

  /** The workers' process ids (tests kill them). */
  get pids(): (number | undefined)[] {
    return this.slots.map((s) => s.proc?.pid);
  }

  async idle(): Promise<void> {
    while (this.runs.size) await new Promise((r) => setTimeout(r, 20));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.proc || s.proc.exitCode !== null) return resolve();
            s.proc.once('exit', () => resolve());
            s.proc.kill('SIGTERM');
            setTimeout(() => s.proc?.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  }
}
