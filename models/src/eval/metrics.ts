/**
 * Overlap measures and click placement for the evaluation. Volumes are flat masks in the generator's layout:
 * `data[i + dims[0] * (j + dims[1] * k)]` (i fastest), voxel indices [i, j, k], distances in mm (`spacing`).
 */
import type { Vec3 } from '../geometry/volume.ts';

/** Dice of two masks given as predicates over voxel offsets; NaN when both are empty. */
export function dice(n: number, inA: (o: number) => boolean, inB: (o: number) => boolean): number {
  let a = 0;
  let b = 0;
  let ab = 0;
  for (let o = 0; o < n; o++) {
    const x = inA(o);
    const y = inB(o);
    if (x) a++;
    if (y) b++;
    if (x && y) ab++;
  }
  return a + b === 0 ? NaN : (2 * ab) / (a + b);
}

/**
 * Chamfer distance (mm, 26-neighbour, two passes) from every voxel of `mask` to the nearest voxel outside it;
 * voxels beyond the grid count as outside. 0 outside the mask.
 */
export function distanceInside(mask: Uint8Array, dims: Vec3, spacing: Vec3): Float32Array {
  const [nx, ny, nz] = dims;
  const d = new Float32Array(mask.length);
  for (let o = 0; o < mask.length; o++) d[o] = mask[o] ? Infinity : 0;
  const offsets: { di: number; dj: number; dk: number; w: number }[] = [];
  for (let dk = -1; dk <= 1; dk++)
    for (let dj = -1; dj <= 1; dj++)
      for (let di = -1; di <= 1; di++) {
        if (!di && !dj && !dk) continue;
        offsets.push({ di, dj, dk, w: Math.hypot(di * spacing[0], dj * spacing[1], dk * spacing[2]) });
      }
  const backward = offsets.filter((o) => o.dk < 0 || (o.dk === 0 && (o.dj < 0 || (o.dj === 0 && o.di < 0))));
  const forward = offsets.filter((o) => !backward.includes(o));
  const pass = (dir: 1 | -1, nbrs: typeof offsets) => {
    for (let s = 0; s < nz; s++) {
      const k = dir > 0 ? s : nz - 1 - s;
      for (let t = 0; t < ny; t++) {
        const j = dir > 0 ? t : ny - 1 - t;
        for (let u = 0; u < nx; u++) {
          const i = dir > 0 ? u : nx - 1 - u;
          const o = i + nx * (j + ny * k);
          if (!mask[o]) continue;
          let best = d[o];
          for (const q of nbrs) {
            const a = i + q.di;
            const b = j + q.dj;
            const c = k + q.dk;
            const v = a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz ? 0 : d[a + nx * (b + ny * c)];
            if (v + q.w < best) best = v + q.w;
          }
          d[o] = best;
        }
      }
    }
  };
  pass(1, backward);
  pass(-1, forward);
  return d;
}

/** The deepest voxel of `mask` ([i, j, k]; the first in memory order among ties), or null for an empty mask. */
export function deepestVoxel(mask: Uint8Array, dims: Vec3, spacing: Vec3, exclude?: (o: number) => boolean): Vec3 | null {
  const d = distanceInside(mask, dims, spacing);
  let best = -1;
  let at = -1;
  for (let o = 0; o < d.length; o++) if (mask[o] && d[o] > best && !exclude?.(o)) [best, at] = [d[o], o];
  return at < 0 ? null : voxelOf(at, dims);
}

export function voxelOf(o: number, dims: Vec3): Vec3 {
  return [o % dims[0], Math.floor(o / dims[0]) % dims[1], Math.floor(o / (dims[0] * dims[1]))];
}

export function offsetOf(v: readonly number[], dims: Vec3): number {
  return v[0] + dims[0] * (v[1] + dims[1] * v[2]);
}

export interface Click {
  point: Vec3;
  /** 1 positive, 0 negative. */
  label: 0 | 1;
}

/**
 * The two corrective clicks after a one-click result `pred` for the target `truth` (masks on one grid):
 * a positive click deepest in the missed part (or, when nothing is missed, the deepest target voxel at least one
 * voxel from `first`), and a negative click deepest in the false positives (or, when there are none, the first
 * voxel outside the target walking from `first` along +i, then −i). The simulation in train.py follows the
 * same rules, on model-space patches.
 */
export function correctiveClicks(truth: Uint8Array, pred: Uint8Array, dims: Vec3, spacing: Vec3, first: Vec3): Click[] {
  const n = truth.length;
  const fn = new Uint8Array(n);
  const fp = new Uint8Array(n);
  for (let o = 0; o < n; o++) {
    if (truth[o] && !pred[o]) fn[o] = 1;
    if (pred[o] && !truth[o]) fp[o] = 1;
  }
  const near = (o: number) => voxelOf(o, dims).every((v, a) => Math.abs(v - first[a]) <= 1);
  const pos = deepestVoxel(fn, dims, spacing) ?? deepestVoxel(truth, dims, spacing, near) ?? first;
  let neg = deepestVoxel(fp, dims, spacing);
  for (const step of [1, -1]) {
    for (let i = first[0]; !neg && i >= 0 && i < dims[0]; i += step) if (!truth[offsetOf([i, first[1], first[2]], dims)]) neg = [i, first[1], first[2]];
  }
  return [
    { point: pos, label: 1 },
    { point: neg ?? [0, 0, 0], label: 0 },
  ];
}

/**
 * A simulated user's next click on the result `pred` they see, for the target `truth`: at the voxel deepest inside
 * the errors (missed → positive click, over-segmented → negative), as interactive-segmentation benchmarks place
 * them; `only` restricts it to one kind of error. Null when there is no such error.
 */
export function nextClick(truth: Uint8Array, pred: Uint8Array, dims: Vec3, spacing: Vec3, only?: 0 | 1): Click | null {
  const n = truth.length;
  let best: Click | null = null;
  let depth = 0;
  for (const label of only === undefined ? ([1, 0] as const) : [only]) {
    const err = new Uint8Array(n);
    for (let o = 0; o < n; o++) err[o] = (label === 1 ? truth[o] && !pred[o] : pred[o] && !truth[o]) ? 1 : 0;
    const d = distanceInside(err, dims, spacing);
    for (let o = 0; o < n; o++) {
      if (d[o] > depth) {
        depth = d[o];
        best = { point: voxelOf(o, dims), label };
      }
    }
  }
  return best;
}
