import { Vista3dPipeline, outputNameFor, type Progress, type Prompts, type SegmentResult, type Volume, type WorkLimits } from '@vista3d/models';
import { recordTimings, type Metrics } from '../metrics.ts';
import type { LoadedImage } from '../images/imageSource.ts';
import { ImageStateStore } from './featureCache.ts';
import { JobQueue, Limiter, type Admission, type QueuePolicy } from './queue.ts';

/** A segmentation of an image: the name of its `<stem>_seg.<ext>` file and the result (a region of the input's grid). */
export interface InferenceOutput {
  fileName: string;
  result: SegmentResult;
  /** What the image reader assumed (geometry fallbacks, NaN voxels). */
  warnings: string[];
}

export interface ServiceOptions {
  /** Requests admitted besides the running one (loading or waiting); beyond: 503. */
  queueDepth: number;
  /** `priority` (clicks first, batch yields between windows; default) or `fifo`. */
  queuePolicy?: QueuePolicy;
  /** Image loads at once. */
  maxConcurrentLoads?: number;
  /** What one request may cost (model-space voxels, windows); unbounded when absent. */
  work?: WorkLimits;
  featureCacheBytes?: number;
  /** Bytes of prepared model-space images kept (class prompts skip whole-volume pre-processing on a hit). */
  preparedCacheBytes?: number;
  /** Bound on a point prompt's windows (around the clicks, then neighbours where the structure reaches an edge). */
  maxPointWindows?: number;
}

/**
 * Runs segmentations one at a time on the pipeline (the device), queueing the rest; bounds image loads and the
 * work of each request; encodes the result as the NIM does. Knows no HTTP beyond the queue's errors.
 */
export class InferenceService {
  readonly queue: JobQueue;
  readonly loads: Limiter;
  readonly images: ImageStateStore;
  private readonly work: WorkLimits | undefined;
  private readonly maxPointWindows: number | undefined;
  constructor(
    readonly pipeline: Vista3dPipeline,
    options: ServiceOptions,
    private readonly metrics?: Metrics,
  ) {
    this.work = options.work;
    this.maxPointWindows = options.maxPointWindows;
    this.images = new ImageStateStore(
      { featureBytes: options.featureCacheBytes ?? 0, preparedBytes: options.preparedCacheBytes ?? 0 },
      {
        lookup: (cache, hit) => {
          if (cache === 'features') metrics?.featureCache.inc({ result: hit ? 'hit' : 'miss' });
          metrics?.cacheLookups.inc({ cache, result: hit ? 'hit' : 'miss' });
        },
        evict: (cache) => metrics?.cacheEvictions.inc({ cache }),
      },
    );
    this.loads = new Limiter(options.maxConcurrentLoads ?? 2);
    this.queue = new JobQueue(
      options.queueDepth,
      (w, r) => {
        metrics?.queueWaiting.set(w);
        metrics?.queueRunning.set(r);
      },
      10,
      options.queuePolicy,
    );
  }

  /** Validates prompts against the model and the image's dims (throws PromptError). */
  checkPrompts(prompts: Prompts | undefined, dims: readonly number[]): void {
    this.pipeline.resolvePrompts(prompts, dims);
  }

  /** Throws LimitExceededError when segmenting an image of this geometry would cost more than allowed. */
  checkWork(volume: Omit<Volume, 'data'>, prompts: Prompts | undefined): void {
    this.pipeline.planWork(volume, prompts, this.work, undefined, this.maxPointWindows);
  }

  /**
   * Builds an image's per-image state ahead of its first prompt (the viewer asks when it displays a series): its
   * content id and the model-space image class prompts run on. Point prompts need nothing more (they are local).
   */
  prepare(volume: Volume): void {
    this.pipeline.preprocessed(volume, this.images.for(volume));
  }

  /** Segments when `admission`'s turn comes on the device. */
  async segment(image: LoadedImage, prompts: Prompts | undefined, admission: Admission, opts: { signal?: AbortSignal; onProgress?: (p: Progress) => void } = {}): Promise<InferenceOutput> {
    return admission.run(async (yieldTurn) => {
      const result = await this.pipeline.segment(image.volume, prompts, { ...opts, between: yieldTurn, limits: this.work, maxPointWindows: this.maxPointWindows, imageCache: this.images.for(image.volume) });
      const fileName = outputNameFor(image.name);
      const m = this.metrics;
      if (m) recordTimings(m, result.timings);
      return { fileName, result, warnings: image.warnings };
    }, opts.signal);
  }
}
