import { makeModelGrid, sourceToModelIndex, type ModelGrid } from '../geometry/modelGrid.ts';
import { extractBox } from '../geometry/region.ts';
import type { Vec3, Volume } from '../geometry/volume.ts';
import type { ModelManifest } from './manifest.ts';
import { resampleToModel, type Box } from './resample.ts';

export interface Preprocessed {
  grid: ModelGrid;
  /** The model voxels kept by the foreground crop (the whole grid when there is none). */
  box: Box;
  /** Normalised intensities in model layout restricted to `box` (u0 fastest, dims boxDims(box)). */
  image: Float32Array;
}

/**
 * The bounding box of voxels > threshold, grown by `margin` voxels and clamped to the grid.
 * `image`: model layout (u0 fastest) with dims `dims`. No voxel above threshold → the whole grid.
 */
export function foregroundBox(image: Float32Array, dims: Vec3, threshold: number, margin: number): Box {
  const lo: Vec3 = [dims[0], dims[1], dims[2]];
  const hi: Vec3 = [-1, -1, -1];
  let o = 0;
  for (let z = 0; z < dims[2]; z++)
    for (let y = 0; y < dims[1]; y++)
      for (let x = 0; x < dims[0]; x++, o++) {
        if (!(image[o] > threshold)) continue;
        if (x < lo[0]) lo[0] = x;
        if (x > hi[0]) hi[0] = x;
        if (y < lo[1]) lo[1] = y;
        if (y > hi[1]) hi[1] = y;
        if (z < lo[2]) lo[2] = z;
        if (z > hi[2]) hi[2] = z;
      }
  if (hi[0] < 0) return { lo: [0, 0, 0], hi: [...dims] as Vec3 };
  return {
    lo: lo.map((l) => Math.max(0, l - margin)) as Vec3,
    hi: hi.map((h, t) => Math.min(dims[t], h + 1 + margin)) as Vec3,
  };
}

/**
 * Copies `box` out of `image` (model layout, dims `dims`) while mapping intensities linearly from
 * [min, max] to [outMin, outMax], clipping when asked.
 */
export function cropAndScale(image: Float32Array, dims: Vec3, box: Box, w: ModelManifest['preprocessing']['intensity']): Float32Array {
  return scaleIntensities(extractBox(image, dims, box.lo, box.hi), w);
}

/**
 * The foreground box (model voxels [lo, hi) of `grid`) found on the original image without resampling it: the
 * bounding box of original voxels above `threshold`, mapped to model space (reorientation permutes and flips
 * axes, so each original axis range maps to one model axis range), grown by `margin` and clamped to the grid.
 * What `foregroundBox` finds on the resampled image, to within a voxel; point prompts clamp their windows to it.
 * `volume`: original layout (i fastest). No voxel above threshold → the whole grid.
 */
export function sourceForegroundBox(volume: Volume, grid: ModelGrid, threshold: number, margin: number): Box {
  const [nx, ny, nz] = volume.dims;
  const data = volume.data;
  const lo = [nx, ny, nz];
  const hi = [-1, -1, -1];
  let o = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) {
      // a row's first and last voxel above threshold bound i; any one bounds j and k
      let first = -1;
      let last = -1;
      for (let i = 0; i < nx; i++, o++) {
        if (data[o] > threshold) {
          if (first < 0) first = i;
          last = i;
        }
      }
      if (first < 0) continue;
      if (first < lo[0]) lo[0] = first;
      if (last > hi[0]) hi[0] = last;
      if (j < lo[1]) lo[1] = j;
      if (j > hi[1]) hi[1] = j;
      if (k < lo[2]) lo[2] = k;
      if (k > hi[2]) hi[2] = k;
    }
  if (hi[0] < 0) return { lo: [0, 0, 0], hi: [...grid.dims] as Vec3 };
  const out: Box = { lo: [0, 0, 0], hi: [0, 0, 0] };
  for (let t = 0; t < 3; t++) {
    const a = grid.perm[t];
    const u0 = sourceToModelIndex(grid, t, lo[a]);
    const u1 = sourceToModelIndex(grid, t, hi[a]);
    out.lo[t] = Math.max(0, Math.floor(Math.min(u0, u1)) - margin);
    out.hi[t] = Math.min(grid.dims[t], Math.ceil(Math.max(u0, u1)) + 1 + margin);
  }
  return out;
}

/** Maps intensities linearly from [min, max] to [outMin, outMax] in place (clipping when asked); returns `image`. */
export function scaleIntensities(image: Float32Array, w: ModelManifest['preprocessing']['intensity']): Float32Array {
  const scale = (w.outMax - w.outMin) / (w.max - w.min);
  for (let o = 0; o < image.length; o++) {
    let v = image[o];
    if (w.clip) v = v < w.min ? w.min : v > w.max ? w.max : v;
    image[o] = (v - w.min) * scale + w.outMin;
  }
  return image;
}

/** Reorient + resample, crop the foreground, scale intensities: the model's pre-processing, invertible. */
export function preprocess(volume: Volume, manifest: ModelManifest): Preprocessed {
  const p = manifest.preprocessing;
  const grid = makeModelGrid(volume, p.orientation, p.spacing as Vec3);
  const resampled = resampleToModel(volume.data, grid);
  const box = p.foregroundCrop
    ? foregroundBox(resampled, grid.dims, p.foregroundCrop.threshold, p.foregroundCrop.margin)
    : { lo: [0, 0, 0] as Vec3, hi: [...grid.dims] as Vec3 };
  return { grid, box, image: cropAndScale(resampled, grid.dims, box, p.intensity) };
}
