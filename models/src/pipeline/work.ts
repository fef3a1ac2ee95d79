import { LimitExceededError } from '../errors.ts';
import { makeModelGrid } from '../geometry/modelGrid.ts';
import type { Vec3, Volume } from '../geometry/volume.ts';
import type { ModelManifest } from './manifest.ts';
import type { ResolvedPrompts } from './prompts.ts';
import { windowStarts } from './slidingWindow.ts';

/** What one segmentation may cost; checked from the image's geometry alone, before anything is allocated. */
export interface WorkLimits {
  /** Most voxels of the model-space grid (the image reoriented and resampled to the model's spacing). */
  maxModelVoxels: number;
  /** Most sliding windows (class windows × passes + point windows). */
  maxWindows: number;
}

/** The cost of a segmentation, as an upper bound (the foreground crop can only shrink it). */
export interface WorkPlan {
  /** Model-space grid dims before the crop, model axes. */
  modelDims: Vec3;
  modelVoxels: number;
  windows: number;
  /** Approximate peak bytes of the model-space arrays (resampled image, crop, accumulators). */
  bytes: number;
}

/** Default float budget of the class accumulators (Vista3dPipeline's maxAccumulatorFloats). */
export const DEFAULT_ACCUMULATOR_FLOATS = 2 ** 27;

/** Point windows one prompt may run at most (those around its clicks, then neighbours where the structure reaches an inner edge). */
export const DEFAULT_MAX_POINT_WINDOWS = 16;

/**
 * The work a prompt set asks of an image with `geometry` (dims, spacing in mm; no voxels needed): the model grid
 * from the manifest's spacing and orientation, the windows of a dense scan over it for class prompts (in passes
 * of as many classes as the accumulators hold) plus the point pass's window bound.
 */
export function planWork(
  geometry: Pick<Volume, 'dims' | 'spacing' | 'direction' | 'origin'>,
  resolved: ResolvedPrompts,
  manifest: ModelManifest,
  maxAccumulatorFloats = DEFAULT_ACCUMULATOR_FLOATS,
  maxPointWindows = DEFAULT_MAX_POINT_WINDOWS,
): WorkPlan {
  const p = manifest.preprocessing;
  const roi = manifest.inference.roiSize as Vec3;
  const extent = geometry.dims.map((d, a) => d * geometry.spacing[a]);
  // Model dims straight from the extent: makeModelGrid would round NaN/Infinity into nonsense.
  const rough = extent.map((e, t) => e / p.spacing[t]);
  const roughVoxels = rough[0] * rough[1] * rough[2];
  if (!Number.isFinite(roughVoxels) || roughVoxels > Number.MAX_SAFE_INTEGER) {
    throw new LimitExceededError('maxModelVoxels', roughVoxels, Number.MAX_SAFE_INTEGER, `an image of ${geometry.dims.join('×')} voxels at ${geometry.spacing.join('×')} mm resampled to ${p.spacing.join('×')} mm`);
  }
  const grid = makeModelGrid({ ...geometry, dims: [...geometry.dims] as Vec3 }, p.orientation, p.spacing as Vec3);
  const dims = grid.dims;
  const modelVoxels = dims[0] * dims[1] * dims[2];
  let windows = 0;
  let channels = 0;
  if (resolved.classIds.length) {
    const perPass = Math.max(1, Math.floor(maxAccumulatorFloats / modelVoxels));
    const passes = Math.ceil(resolved.classIds.length / perPass);
    // counting windows without listing them: the product of the per-axis counts
    windows += passes * windowCount(dims, roi, manifest.inference.overlap);
    channels = Math.min(resolved.classIds.length, perPass) + 2;
  }
  if (resolved.point) {
    // the windows around the clicks, then neighbours where the structure reaches an inner edge: the bound
    windows += maxPointWindows;
    channels = Math.max(channels, 3);
  }
  return { modelDims: dims, modelVoxels, windows, bytes: modelVoxels * 4 * (2 + channels) };
}

/** The number of windows gridWindows would list, without listing them. */
function windowCount(dims: Vec3, roi: Vec3, overlap: number): number {
  return [0, 1, 2].reduce((n, t) => n * windowStarts(dims[t], roi[t], overlap).length, 1);
}

/** Throws LimitExceededError, naming the limit and what asked for it, when `plan` is over `limits`. */
export function checkWork(plan: WorkPlan, limits: WorkLimits, what: string): void {
  if (plan.modelVoxels > limits.maxModelVoxels) {
    const gb = (plan.bytes / 1024 ** 3).toFixed(1);
    throw new LimitExceededError('maxModelVoxels', plan.modelVoxels, limits.maxModelVoxels, `${what} makes a model-space grid of ${plan.modelDims.join('×')} voxels (≈ ${gb} GB)`);
  }
  if (plan.windows > limits.maxWindows) {
    throw new LimitExceededError('maxWindows', plan.windows, limits.maxWindows, `${what} needs ${plan.windows} sliding windows on a ${plan.modelDims.join('×')} model grid`);
  }
}
