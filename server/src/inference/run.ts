import { constants } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Progress, Prompts, Volume } from '@vista3d/models';
import { isInside, resolveInside, writeFileAtomic } from '@vista3d/models/node';
import type { Config } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import type { InferenceRequest } from '../http/schemas.ts';
import type { ImageSource, LoadedImage } from '../images/imageSource.ts';
import type { Metrics } from '../metrics.ts';
import { encodeResult } from './jobs.ts';
import type { PrepareRegistry } from './prepare.ts';
import type { Admission, Priority } from './queue.ts';
import type { InferenceOutput, InferenceService } from './service.ts';

/** Everything checked before any image is fetched: prompts (names), the output folder. */
export interface PreparedInference {
  image: string;
  prompts: Prompts | undefined;
  outDir: string | null;
}

/** Free bytes a local_working_dir must have beyond the result's own size (the result is at most one byte a voxel). */
const OUTPUT_HEADROOM_BYTES = 16 * 1024 ** 2;

/** Refuses an output folder that is not a writable folder or lacks `needBytes` free (507), before any inference. */
async function checkOutputDir(dir: string, shown: string, needBytes: number): Promise<void> {
  if (!(await stat(dir)).isDirectory()) throw new HttpError(400, 'local_working_dir_not_a_folder', `local_working_dir ${JSON.stringify(shown)} is not a folder`);
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw new HttpError(403, 'local_working_dir_read_only', `local_working_dir ${JSON.stringify(shown)} is not writable by the server`);
  }
  const fs = await statfs(dir).catch(() => null);
  if (fs && fs.bavail * fs.bsize < needBytes) {
    throw new HttpError(507, 'insufficient_storage', `local_working_dir ${JSON.stringify(shown)} has ${fs.bavail * fs.bsize} bytes free; the result needs up to ${needBytes}`);
  }
}

export async function prepareInference(body: InferenceRequest, model: Pick<InferenceService, 'checkPrompts'>, config: Config): Promise<PreparedInference> {
  const prompts = body.prompts && { classes: body.prompts.classes, points: body.prompts.points, pointLabels: body.prompts.point_labels };
  // Prompt names are checked before the download; point bounds once the image's dims are known.
  model.checkPrompts(prompts, [Infinity, Infinity, Infinity]);
  let outDir: string | null = null;
  if (body.local_working_dir !== undefined) {
    if (!config.outputRoots.length) throw new HttpError(403, 'local_working_dir_disabled', 'local_working_dir is disabled on this server (set OUTPUT_ROOTS)');
    outDir = await resolveInside(body.local_working_dir, config.outputRoots);
    if (!outDir) throw new HttpError(403, 'path_not_allowed', `local_working_dir ${JSON.stringify(body.local_working_dir)} does not exist or is outside the allowed output folders`);
    await checkOutputDir(outDir, body.local_working_dir, OUTPUT_HEADROOM_BYTES);
  }
  return { image: body.image, prompts, outDir };
}

export interface InferenceDeps {
  service: InferenceService;
  images: ImageSource;
  metrics: Metrics;
  /** Prepares in flight: a request for an image being prepared takes the prepare's load instead of its own. */
  prepares?: PrepareRegistry;
}

/** The result, with what the input was: its grid (no voxels) and how its full-grid result file is encoded. */
export interface RunOutput extends InferenceOutput {
  input: { geometry: Omit<Volume, 'data'>; format: 'nifti' | 'nrrd' };
}

/**
 * Loads the image (one of a bounded number of loads at once), checks the prompts and the work against it,
 * segments when `admission`'s turn comes, writes local_working_dir's copy. The admission was taken before
 * (a full queue is a 503 before any download) and is given back whatever happens.
 */
export async function runInference(
  p: PreparedInference,
  deps: InferenceDeps,
  admission: Admission,
  opts: { signal?: AbortSignal; priority?: Priority; onProgress?: (p: Progress | { stage: 'load' | 'queued'; done: number; total: number }) => void } = {},
): Promise<RunOutput> {
  try {
    const t0 = performance.now();
    opts.onProgress?.({ stage: 'load', done: 0, total: 1 });
    const image: LoadedImage = await (deps.prepares?.join(p.image, opts.signal) ?? deps.service.loads.run(() => deps.images.load(p.image, opts.signal), opts.signal, opts.priority));
    deps.metrics.stageSeconds.observe({ stage: 'load' }, (performance.now() - t0) / 1000);
    deps.service.checkPrompts(p.prompts, image.volume.dims);
    deps.service.checkWork(image.volume, p.prompts);
    if (p.outDir) await checkOutputDir(p.outDir, p.outDir, image.volume.data.length + OUTPUT_HEADROOM_BYTES);
    opts.onProgress?.({ stage: 'queued', done: 0, total: 1 });
    const out = await deps.service.segment(image, p.prompts, admission, opts);
    const { dims, spacing, direction, origin } = image.volume;
    const input = { geometry: { dims, spacing, direction, origin }, format: image.format === 'nrrd' ? ('nrrd' as const) : ('nifti' as const) };
    if (p.outDir) await writeOutput(p.outDir, out.fileName, await encodeResult({ fileName: out.fileName, format: input.format, geometry: input.geometry, region: out.result.region }, 'file'));
    return { ...out, input };
  } finally {
    admission.release();
  }
}

/** Writes the result into `outDir` (atomically), after checking that the final path is still inside it. */
async function writeOutput(outDir: string, fileName: string, file: Uint8Array): Promise<void> {
  const path = resolve(join(outDir, fileName));
  if (!isInside(outDir, path) || path === outDir) throw new HttpError(500, 'internal', `output name ${JSON.stringify(fileName)} leaves its folder`);
  try {
    await writeFileAtomic(path, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new HttpError(507, 'insufficient_storage', `local_working_dir is full: the result (${file.byteLength} bytes) could not be written`);
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') throw new HttpError(403, 'local_working_dir_read_only', 'local_working_dir is not writable by the server');
    throw e;
  }
}
