import { Vista3dPipeline, outputNameFor, writeVolumeBytes, type Progress, type Prompts, type SegmentResult } from '@vista3d/models';
import { zipSync } from 'fflate';
import type { Metrics } from '../metrics.ts';
import type { LoadedImage } from '../images/imageSource.ts';
import { FeatureStore } from './featureCache.ts';
import { JobQueue } from './queue.ts';

/** The NIM's result: a zip holding one `<stem>_seg.<ext>` file on the input's grid. */
export interface InferenceOutput {
  fileName: string;
  file: Uint8Array;
  zip: Uint8Array;
  result: SegmentResult;
}

/**
 * Runs segmentations one at a time on the pipeline (the device), queueing the rest; encodes the result as the
 * NIM does. Knows no HTTP beyond the queue's errors.
 */
export class InferenceService {
  readonly queue: JobQueue;
  readonly features: FeatureStore;
  constructor(
    readonly pipeline: Vista3dPipeline,
    queueDepth: number,
    private readonly metrics?: Metrics,
    featureCacheBytes = 0,
  ) {
    this.features = new FeatureStore(featureCacheBytes, (hit) => metrics?.featureCache.inc({ result: hit ? 'hit' : 'miss' }));
    this.queue = new JobQueue(queueDepth, (w, r) => {
      metrics?.queueWaiting.set(w);
      metrics?.queueRunning.set(r);
    });
  }

  /** Validates prompts against the model and the image's dims (throws PromptError). */
  checkPrompts(prompts: Prompts | undefined, dims: readonly number[]): void {
    this.pipeline.resolvePrompts(prompts, dims);
  }

  async segment(image: LoadedImage, prompts: Prompts | undefined, opts: { signal?: AbortSignal; onProgress?: (p: Progress) => void } = {}): Promise<InferenceOutput> {
    return this.queue.run(async () => {
      const result = await this.pipeline.segment(image.volume, prompts, { ...opts, featureCache: this.features.for(image.volume) });
      const t0 = performance.now();
      const fileName = outputNameFor(image.name);
      const file = writeVolumeBytes(result.labels, image.format === 'nrrd' ? 'nrrd' : 'nifti', { gzip: !/\.nii$/i.test(fileName) });
      const zip = zipSync({ [fileName]: [file, { level: 0 }] });
      const m = this.metrics;
      if (m) {
        const t = result.timings;
        m.stageSeconds.observe({ stage: 'preprocess' }, t.preprocessMs / 1000);
        m.stageSeconds.observe({ stage: 'inference' }, t.inferenceMs / 1000);
        m.stageSeconds.observe({ stage: 'runtime' }, t.runtimeMs / 1000);
        m.stageSeconds.observe({ stage: 'postprocess' }, t.postprocessMs / 1000);
        m.stageSeconds.observe({ stage: 'encode' }, (performance.now() - t0) / 1000);
        m.windows.inc(t.windows);
      }
      return { fileName, file, zip, result };
    }, opts.signal);
  }
}
