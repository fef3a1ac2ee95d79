import type { Vec3 } from '../geometry/volume.ts';

/**
 * Window geometry, importance map and patch copy/accumulate for sliding-window inference, as separate small
 * pieces (after MONAI's `sliding_window_inference`). Images here are in model layout (u0 fastest, dims
 * `dims`); patches are MONAI tensors [1, 1, X, Y, Z] in C order (Z fastest), X along u0, Y along u1, Z along u2.
 * A window start may be negative, or a window may pass the end, when the image is smaller than the ROI: the
 * copy replicates the edge voxels (replicate padding), and accumulation skips what lies outside.
 */

/** Starts of the windows along one axis (MONAI's dense scan: step ⌊roi·(1−overlap)⌋, last flush with the end). */
export function windowStarts(size: number, roi: number, overlap: number): number[] {
  if (!(size >= 1) || !(roi >= 1)) throw new RangeError(`windowStarts: size ${size} and roi ${roi} must be ≥ 1`);
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`windowStarts: overlap ${overlap} must be in [0, 1)`);
  if (size <= roi) return [Math.ceil((size - roi) / 2)];
  const step = Math.max(1, Math.floor(roi * (1 - overlap)));
  const n = Math.ceil((size - roi) / step) + 1;
  return Array.from({ length: n }, (_, i) => Math.min(i * step, size - roi));
}

/** All window starts of a 3-D image, u0 varying fastest. */
export function gridWindows(dims: Vec3, roi: Vec3, overlap: number): Vec3[] {
  const [a, b, c] = [0, 1, 2].map((t) => windowStarts(dims[t], roi[t], overlap));
  const out: Vec3[] = [];
  for (const z of c) for (const y of b) for (const x of a) out.push([x, y, z]);
  return out;
}

/** The start of the window centred (as far as the image allows) on model voxel `p`, along one axis. */
export function centredStart(p: number, size: number, roi: number): number {
  if (size <= roi) return Math.ceil((size - roi) / 2);
  return Math.min(Math.max(Math.round(p) - Math.floor(roi / 2), 0), size - roi);
}

/**
 * Blending weights of a patch, C order [X, Y, Z]: all ones ("constant"), or a separable Gaussian with
 * σ = sigmaScale·roi centred on the patch, scaled to a maximum of 1 and floored at 1e-3 so that no voxel
 * has zero weight.
 */
export function importanceMap(roi: Vec3, mode: 'gaussian' | 'constant', sigmaScale = 0.125): Float32Array {
  const n = roi[0] * roi[1] * roi[2];
  if (mode === 'constant') return new Float32Array(n).fill(1);
  const g = roi.map((r) => {
    const s = sigmaScale * r;
    const c = (r - 1) / 2;
    return Float64Array.from({ length: r }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * s * s)));
  });
  const out = new Float32Array(n);
  let o = 0;
  for (let x = 0; x < roi[0]; x++)
    for (let y = 0; y < roi[1]; y++) for (let z = 0; z < roi[2]; z++) out[o++] = Math.max(1e-3, g[0][x] * g[1][y] * g[2][z]);
  return out;
}

function clampedIndex(start: number, roi: number, size: number): Int32Array {
  const idx = new Int32Array(roi);
  for (let p = 0; p < roi; p++) idx[p] = Math.min(Math.max(start + p, 0), size - 1);
  return idx;
}

/** Copies the window at `start` out of `image` into a new patch [X, Y, Z] (edges replicated). */
export function extractPatch(image: Float32Array, dims: Vec3, start: Vec3, roi: Vec3): Float32Array {
  const ix = clampedIndex(start[0], roi[0], dims[0]);
  const iy = clampedIndex(start[1], roi[1], dims[1]);
  const iz = clampedIndex(start[2], roi[2], dims[2]);
  const sz = dims[0] * dims[1];
  const out = new Float32Array(roi[0] * roi[1] * roi[2]);
  let o = 0;
  for (let x = 0; x < roi[0]; x++)
    for (let y = 0; y < roi[1]; y++) {
      const base = ix[x] + dims[0] * iy[y];
      for (let z = 0; z < roi[2]; z++) out[o++] = image[base + sz * iz[z]];
    }
  return out;
}

/**
 * Adds `weights · patch[c]` into `acc[c]` and `weights` into `weightSum` for every patch voxel inside the
 * image. `patch`: C order [C, X, Y, Z] (C channels); `acc`: C consecutive images in model layout.
 */
export function accumulatePatch(
  acc: Float32Array,
  weightSum: Float32Array | null,
  dims: Vec3,
  patch: Float32Array,
  channels: number,
  start: Vec3,
  roi: Vec3,
  weights: Float32Array,
): void {
  const n = dims[0] * dims[1] * dims[2];
  const pn = roi[0] * roi[1] * roi[2];
  const x0 = Math.max(0, -start[0]), x1 = Math.min(roi[0], dims[0] - start[0]);
  const y0 = Math.max(0, -start[1]), y1 = Math.min(roi[1], dims[1] - start[1]);
  const z0 = Math.max(0, -start[2]), z1 = Math.min(roi[2], dims[2] - start[2]);
  const sz = dims[0] * dims[1];
  for (let c = 0; c < channels; c++) {
    const pOff = c * pn;
    const aOff = c * n;
    const addWeights = c === 0 && weightSum !== null;
    for (let x = x0; x < x1; x++)
      for (let y = y0; y < y1; y++) {
        const base = start[0] + x + dims[0] * (start[1] + y) + sz * start[2];
        const pRow = pOff + (x * roi[1] + y) * roi[2];
        for (let z = z0; z < z1; z++) {
          const w = weights[(x * roi[1] + y) * roi[2] + z];
          const a = base + sz * z;
          acc[aOff + a] += w * patch[pRow + z];
          if (addWeights) weightSum![a] += w;
        }
      }
  }
}
