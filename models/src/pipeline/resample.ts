import { modelToSourceIndex, sourceToModelIndex, type ModelGrid } from '../geometry/modelGrid.ts';
import type { Vec3, VoxelArray } from '../geometry/volume.ts';

/** A box of model voxels [lo, hi) per model axis. */
export interface Box {
  lo: Vec3;
  hi: Vec3;
}

export function boxDims(b: Box): Vec3 {
  return [b.hi[0] - b.lo[0], b.hi[1] - b.lo[1], b.hi[2] - b.lo[2]];
}

/**
 * Trilinear resampling of the original image onto the model grid (edge voxels replicated outside the image), or
 * onto the box `box` of it only (a point prompt's windows: no whole-volume work).
 * Input: `source` in the original layout (i fastest, dims `grid.sourceDims`). Output: Float32Array in model
 * layout (u0 fastest, dims `grid.dims`, or boxDims(box) with voxel (0,0,0) at model voxel box.lo), values in the
 * source's units (e.g. HU).
 */
export function resampleToModel(source: VoxelArray, grid: ModelGrid, box: Box = { lo: [0, 0, 0], hi: grid.dims }): Float32Array {
  const strides = [1, grid.sourceDims[0], grid.sourceDims[0] * grid.sourceDims[1]];
  const dims = boxDims(box);
  const tables = [0, 1, 2].map((t) => {
    const a = grid.perm[t];
    const n = grid.sourceDims[a];
    const m = dims[t];
    const lo = new Int32Array(m);
    const hi = new Int32Array(m);
    const w = new Float32Array(m);
    for (let u = 0; u < m; u++) {
      const x = Math.min(Math.max(modelToSourceIndex(grid, t, u + box.lo[t]), 0), n - 1);
      const f = Math.floor(x);
      lo[u] = f * strides[a];
      hi[u] = Math.min(f + 1, n - 1) * strides[a];
      w[u] = x - f;
    }
    return { lo, hi, w };
  });
  const [m0, m1, m2] = dims;
  const out = new Float32Array(m0 * m1 * m2);
  const [A, B, C] = tables;
  let o = 0;
  for (let u2 = 0; u2 < m2; u2++) {
    const c0 = C.lo[u2], c1 = C.hi[u2], wc = C.w[u2];
    for (let u1 = 0; u1 < m1; u1++) {
      const b0 = B.lo[u1], b1 = B.hi[u1], wb = B.w[u1];
      const p00 = b0 + c0, p10 = b1 + c0, p01 = b0 + c1, p11 = b1 + c1;
      for (let u0 = 0; u0 < m0; u0++) {
        const a0 = A.lo[u0], a1 = A.hi[u0], wa = A.w[u0];
        const v00 = source[p00 + a0] + wa * (source[p00 + a1] - source[p00 + a0]);
        const v10 = source[p10 + a0] + wa * (source[p10 + a1] - source[p10 + a0]);
        const v01 = source[p01 + a0] + wa * (source[p01 + a1] - source[p01 + a0]);
        const v11 = source[p11 + a0] + wa * (source[p11 + a1] - source[p11 + a0]);
        const v0 = v00 + wb * (v10 - v00);
        const v1 = v01 + wb * (v11 - v01);
        out[o++] = v0 + wc * (v1 - v0);
      }
    }
  }
  return out;
}

/**
 * Nearest-neighbour inversion of a model-space label map onto the original grid.
 * `labels`: model layout restricted to `box` (u0 fastest, dims boxDims(box)). Original voxels whose nearest
 * model voxel lies outside the box get `outside` (background for a foreground crop). Output: original layout.
 */
export function labelsToSource(labels: Uint8Array, box: Box, grid: ModelGrid, outside = 0): Uint8Array {
  const bd = boxDims(box);
  const boxStrides = [1, bd[0], bd[0] * bd[1]];
  // For each original axis a: offset in the box buffer of each original index, or -1 when outside the box.
  const tables: Int32Array[] = [];
  for (let t = 0; t < 3; t++) {
    const a = grid.perm[t];
    const n = grid.sourceDims[a];
    const tab = new Int32Array(n);
    for (let x = 0; x < n; x++) {
      const u = Math.min(Math.max(Math.round(sourceToModelIndex(grid, t, x)), 0), grid.dims[t] - 1);
      tab[x] = u >= box.lo[t] && u < box.hi[t] ? (u - box.lo[t]) * boxStrides[t] : -1;
    }
    tables[a] = tab;
  }
  const [n0, n1, n2] = grid.sourceDims;
  const out = new Uint8Array(n0 * n1 * n2);
  const [T0, T1, T2] = tables;
  let o = 0;
  for (let k = 0; k < n2; k++) {
    const ok = T2[k];
    for (let j = 0; j < n1; j++) {
      const oj = T1[j];
      if (ok < 0 || oj < 0) {
        out.fill(outside, o, o + n0);
        o += n0;
        continue;
      }
      const base = ok + oj;
      for (let i = 0; i < n0; i++, o++) {
        const oi = T0[i];
        out[o] = oi < 0 ? outside : labels[base + oi];
      }
    }
  }
  return out;
}

/** Point-mask values of `logitsToSourceRegion`. */
export const NOT_PROCESSED = 0;
export const OUTSIDE = 1;
export const INSIDE = 2;

/**
 * Trilinear inversion of one channel of model-space logits onto the original grid, thresholded there, so that
 * a structure a few model voxels wide gets boundaries at the original resolution instead of model-voxel blocks
 * (measured on the phantoms' lesions: see models/training/README.md).
 * `logits` and `processed` (1 where a window ran): model layout restricted to `box`. An original voxel whose
 * nearest model voxel was not processed (or lies outside the box) is NOT_PROCESSED; else INSIDE where the
 * interpolated logit exceeds `threshold` and OUTSIDE otherwise. Unprocessed neighbours count as `threshold − 1`.
 * Only original voxels within the processed region's bounding box are visited, and only that box is returned:
 * `mask` in the original layout restricted to [lo, hi) (i fastest), NOT_PROCESSED everywhere outside it.
 */
export function logitsToSourceRegion(logits: Float32Array, processed: Uint8Array, box: Box, grid: ModelGrid, threshold: number): { lo: Vec3; hi: Vec3; mask: Uint8Array } {
  const bd = boxDims(box);
  const strides = [1, bd[0], bd[0] * bd[1]];
  const values = new Float32Array(logits.length);
  const lo: Vec3 = [...bd];
  const hi: Vec3 = [0, 0, 0];
  for (let o = 0; o < logits.length; o++) {
    if (!processed[o]) {
      values[o] = threshold - 1;
      continue;
    }
    values[o] = logits[o];
    const x = o % bd[0];
    const y = ((o - x) / bd[0]) % bd[1];
    const z = (o - x - bd[0] * y) / strides[2];
    if (x < lo[0]) lo[0] = x;
    if (x >= hi[0]) hi[0] = x + 1;
    if (y < lo[1]) lo[1] = y;
    if (y >= hi[1]) hi[1] = y + 1;
    if (z < lo[2]) lo[2] = z;
    if (z >= hi[2]) hi[2] = z + 1;
  }
  if (hi[0] <= lo[0]) return { lo: [0, 0, 0], hi: [0, 0, 0], mask: new Uint8Array(0) };
  // Per original axis a (model axis t): the range of original indices whose nearest model voxel lies in [lo, hi),
  // and for each index the two model offsets and the weight of the upper one.
  const tables: { from: number; to: number; near: Int32Array; a: Int32Array; b: Int32Array; w: Float32Array }[] = [];
  for (let t = 0; t < 3; t++) {
    const axis = grid.perm[t];
    const n = grid.sourceDims[axis];
    const near = new Int32Array(n);
    const a = new Int32Array(n);
    const b = new Int32Array(n);
    const w = new Float32Array(n);
    let from = n;
    let to = 0;
    for (let x = 0; x < n; x++) {
      const u = sourceToModelIndex(grid, t, x) - box.lo[t];
      const r = Math.round(u);
      near[x] = r >= lo[t] && r < hi[t] ? r * strides[t] : -1;
      if (near[x] >= 0) {
        from = Math.min(from, x);
        to = Math.max(to, x + 1);
      }
      const c = Math.min(Math.max(u, 0), bd[t] - 1);
      const f = Math.min(Math.floor(c), bd[t] - 1);
      a[x] = f * strides[t];
      b[x] = Math.min(f + 1, bd[t] - 1) * strides[t];
      w[x] = c - f;
    }
    tables[axis] = { from, to, near, a, b, w };
  }
  // A trilinear value can exceed the threshold only in a cell with a corner above it: mark those cells (by their
  // lowest corner) so that the voxels of every other cell — most of a window — are OUTSIDE without interpolating.
  const hot = hotCells(values, bd, threshold);
  const [T0, T1, T2] = tables;
  const rlo: Vec3 = [T0.from, T1.from, T2.from];
  const rhi: Vec3 = [Math.max(T0.to, T0.from), Math.max(T1.to, T1.from), Math.max(T2.to, T2.from)];
  const [r0, r1] = [rhi[0] - rlo[0], rhi[1] - rlo[1]];
  const out = new Uint8Array(r0 * r1 * (rhi[2] - rlo[2]));
  for (let k = T2.from; k < T2.to; k++) {
    if (T2.near[k] < 0) continue;
    const c0 = T2.a[k], c1 = T2.b[k], wc = T2.w[k];
    for (let j = T1.from; j < T1.to; j++) {
      if (T1.near[j] < 0) continue;
      const b0 = T1.a[j], b1 = T1.b[j], wb = T1.w[j];
      const p00 = b0 + c0, p10 = b1 + c0, p01 = b0 + c1, p11 = b1 + c1;
      const base = T2.near[k] + T1.near[j];
      const row = r0 * (j - rlo[1] + r1 * (k - rlo[2])) - rlo[0];
      for (let i = T0.from; i < T0.to; i++) {
        const ni = T0.near[i];
        if (ni < 0 || !processed[base + ni]) continue;
        const a0 = T0.a[i];
        if (!hot[p00 + a0]) {
          out[row + i] = OUTSIDE;
          continue;
        }
        // resampleToModel's arithmetic, inlined: a shared helper, called on several typed-array kinds, measured slower
        const a1 = T0.b[i], wa = T0.w[i];
        const v00 = values[p00 + a0] + wa * (values[p00 + a1] - values[p00 + a0]);
        const v10 = values[p10 + a0] + wa * (values[p10 + a1] - values[p10 + a0]);
        const v01 = values[p01 + a0] + wa * (values[p01 + a1] - values[p01 + a0]);
        const v11 = values[p11 + a0] + wa * (values[p11 + a1] - values[p11 + a0]);
        const v0 = v00 + wb * (v10 - v00);
        const v1 = v01 + wb * (v11 - v01);
        out[row + i] = v0 + wc * (v1 - v0) > threshold ? INSIDE : OUTSIDE;
      }
    }
  }
  return { lo: rlo, hi: rhi, mask: out };
}

/**
 * 1 at cell (x, y, z) of a model-layout array (u0 fastest, dims `d`) when any of its corners (x..x+1, y..y+1,
 * z..z+1, clamped to the array) exceeds `threshold`.
 */
function hotCells(values: Float32Array, d: Vec3, threshold: number): Uint8Array {
  const above = new Uint8Array(values.length);
  for (let o = 0; o < values.length; o++) above[o] = values[o] > threshold ? 1 : 0;
  // OR with the next voxel along each axis in turn (separable: 3 passes instead of 8 reads per voxel)
  const strides = [1, d[0], d[0] * d[1]];
  let cur = above;
  for (let t = 0; t < 3; t++) {
    const next = new Uint8Array(values.length);
    const s = strides[t];
    for (let o = 0; o < values.length; o++) {
      const c = Math.floor(o / s) % d[t];
      next[o] = cur[o] | (c + 1 < d[t] ? cur[o + s] : 0);
    }
    cur = next;
  }
  return cur;
}
