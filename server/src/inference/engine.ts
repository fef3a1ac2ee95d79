/**
 * Where inference runs, as the HTTP layer sees it: one interface, three placements.
 * - `LocalEngine`: in this process, on its one device (the default, and what every worker process runs).
 * - `PoolEngine` (workers/pool.ts): NIM_HTTP_MAX_WORKERS worker processes on this machine, one device each.
 * - with REDIS_URL, jobs go through Redis to workers anywhere (workers/redis.ts).
 * Each takes a place synchronously (a full queue is a 503 before any download), then loads, checks and segments.
 */
import { LabelSet, resolvePrompts, type ModelManifest, type PrepareView, type Prompts } from '@vista3d/models';
import type { ImageSource } from '../images/imageSource.ts';
import type { Metrics } from '../metrics.ts';
import type { JobOutput } from './jobs.ts';
import type { PrepareRegistry } from './prepare.ts';
import { Limiter, type Priority, type QueueLoad } from './queue.ts';
import { runInference, type PreparedInference } from './run.ts';
import type { InferenceService } from './service.ts';

/** What a run is: the checked request, how urgent, for whom. Plain data (it crosses processes and machines). */
export interface RunRequest {
  prepared: PreparedInference;
  priority: Priority;
  client: string;
}

/** A stage and how far it is (windows done / total while inferring), as jobs report it. */
export interface RunProgress {
  stage: string;
  done: number;
  total: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
}

/** A place taken for one run. */
export interface EngineRun {
  /** 1 for the next to run…, while it waits for its device; undefined otherwise. */
  position(): number | undefined;
  /** Gives the place back if the run never started (idempotent). */
  release(): void;
  run(opts?: RunOptions): Promise<JobOutput>;
  /** The request as data, where the run happens elsewhere (a Redis job store sends it to a worker itself). */
  readonly request?: RunRequest;
}

/** What the front end knows of the model without running it: /info and the prompt checks. */
export interface ModelView {
  manifest: ModelManifest;
  labels: LabelSet;
  /** The device(s) inference runs on, e.g. `cpu`, `cuda:0, cuda:1`. */
  device: string;
  /** Throws PromptError when the prompts do not fit the model or the image's dims. */
  checkPrompts(prompts: Prompts | undefined, dims: readonly number[]): void;
}

/**
 * The model view of a front end whose workers loaded the model: the manifest they reported (once one has), its
 * labels, the prompt checks against it, and the devices as `device()` says them now.
 */
export function remoteModelView(manifest: () => ModelManifest, device: () => string): ModelView {
  let labels: LabelSet | undefined;
  return {
    get manifest() {
      return manifest();
    },
    get labels() {
      return (labels ??= new LabelSet(manifest()));
    },
    get device() {
      return device();
    },
    checkPrompts(prompts, dims) {
      resolvePrompts(prompts, manifest(), this.labels, dims);
    },
  };
}

/** Jobs waiting and running per priority, on each worker (`local` for the in-process engine). */
export type EngineLoad = Record<string, QueueLoad>;

export interface Engine {
  readonly model: ModelView;
  /** Takes a place for `req` or throws 503 (synchronously: before the caller does any work). */
  admit(req: RunRequest): EngineRun;
  /** Starts loading `image` into the state of the device that will run its prompts (POST /v1/vista3d/prepare). */
  prepare(client: string, image: string): Promise<PrepareView>;
  getPrepare(image: string, client: string): Promise<PrepareView | undefined>;
  cancelPrepare(image: string, client: string): Promise<PrepareView | undefined>;
  load(): EngineLoad;
  /** Resolves when nothing runs or waits (graceful shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** The result a job keeps from a run of the local service. */
function jobOutput(out: Awaited<ReturnType<typeof runInference>>): JobOutput {
  return { fileName: out.fileName, format: out.input.format, geometry: out.input.geometry, region: out.result.region, warnings: out.warnings, timings: out.result.timings };
}

/** Inference in this process, on the service's device. */
export class LocalEngine implements Engine {
  readonly model: ModelView;
  /** Prepares take at most all but one of the service's load slots, so that a prompt never waits behind them. */
  private readonly prepareGate: Limiter;
  constructor(
    readonly service: InferenceService,
    private readonly images: ImageSource,
    private readonly metrics: Metrics,
    readonly prepares: PrepareRegistry,
  ) {
    const p = service.pipeline;
    this.model = { manifest: p.manifest, labels: p.labels, device: p.device, checkPrompts: (prompts, dims) => service.checkPrompts(prompts, dims) };
    this.prepareGate = new Limiter(Math.max(1, service.loads.limit - 1));
  }

  admit(req: RunRequest): EngineRun {
    const a = this.service.queue.admit({ priority: req.priority, client: req.client });
    return {
      position: a.position,
      release: a.release,
      run: async (opts = {}) => jobOutput(await runInference(req.prepared, { service: this.service, images: this.images, metrics: this.metrics, prepares: this.prepares }, a, { ...opts, priority: req.priority })),
    };
  }

  async prepare(client: string, image: string): Promise<PrepareView> {
    const s = this.service;
    return this.prepares.start(client, image, {
      // one of the service's bounded loads (never the last free one: a prompt's load goes first), shared with a job
      // that asks for the same image meanwhile (prepares.join hands it this load; the series loader downloads a
      // series once for all who wait on it)
      load: (signal) => this.prepareGate.run(() => s.loads.run(() => this.images.load(image, signal), signal, 'interactive'), signal),
      prepare: (img) => {
        s.checkWork(img.volume, { classes: [] });
        return s.prepare(img.volume);
      },
    });
  }

  async getPrepare(image: string, client: string): Promise<PrepareView | undefined> {
    return this.prepares.get(image, client);
  }

  async cancelPrepare(image: string, client: string): Promise<PrepareView | undefined> {
    return this.prepares.cancel(image, client);
  }

  load(): EngineLoad {
    return { local: this.service.queue.load };
  }

  idle(): Promise<void> {
    return this.service.queue.idle();
  }

  async close(): Promise<void> {
    this.prepares.close();
    await this.service.pipeline.dispose();
  }
}
