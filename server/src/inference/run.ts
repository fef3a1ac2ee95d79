import { join } from 'node:path';
import type { Progress, Prompts } from '@vista3d/models';
import { resolveInside, writeFileAtomic } from '@vista3d/models/node';
import type { Config } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import type { InferenceRequest } from '../http/schemas.ts';
import type { ImageSource } from '../images/imageSource.ts';
import type { Metrics } from '../metrics.ts';
import type { InferenceOutput, InferenceService } from './service.ts';

/** Everything checked before any image is fetched: prompts (names), the output folder. */
export interface PreparedInference {
  image: string;
  prompts: Prompts | undefined;
  outDir: string | null;
}

export async function prepareInference(body: InferenceRequest, service: InferenceService, config: Config): Promise<PreparedInference> {
  const prompts = body.prompts && { classes: body.prompts.classes, points: body.prompts.points, pointLabels: body.prompts.point_labels };
  // Prompt names are checked before the download; point bounds once the image's dims are known.
  service.checkPrompts(prompts, [Infinity, Infinity, Infinity]);
  let outDir: string | null = null;
  if (body.local_working_dir !== undefined) {
    if (!config.outputRoots.length) throw new HttpError(403, 'local_working_dir_disabled', 'local_working_dir is disabled on this server (set OUTPUT_ROOTS)');
    outDir = await resolveInside(body.local_working_dir, config.outputRoots);
    if (!outDir) throw new HttpError(403, 'path_not_allowed', `local_working_dir ${JSON.stringify(body.local_working_dir)} does not exist or is outside the allowed output folders`);
  }
  return { image: body.image, prompts, outDir };
}

/** Loads the image, checks the prompts against it, segments (queued), writes local_working_dir's copy. */
export async function runInference(
  p: PreparedInference,
  deps: { service: InferenceService; images: ImageSource; metrics: Metrics },
  opts: { signal?: AbortSignal; onProgress?: (p: Progress | { stage: 'load' | 'queued'; done: number; total: number }) => void } = {},
): Promise<InferenceOutput> {
  const t0 = performance.now();
  opts.onProgress?.({ stage: 'load', done: 0, total: 1 });
  const image = await deps.images.load(p.image, opts.signal);
  deps.metrics.stageSeconds.observe({ stage: 'load' }, (performance.now() - t0) / 1000);
  deps.service.checkPrompts(p.prompts, image.volume.dims);
  opts.onProgress?.({ stage: 'queued', done: 0, total: 1 });
  const out = await deps.service.segment(image, p.prompts, opts);
  if (p.outDir) await writeFileAtomic(join(p.outDir, out.fileName), out.file);
  return out;
}
