import { indexToWorld, type Mat3, type Vec3, type Volume } from './volume.ts';

/**
 * Model space: the original image reoriented to the model's orientation (closest axes, as MONAI's
 * `Orientation` / nibabel's `as_closest_canonical` do: a permutation and flips, oblique directions kept) and
 * resampled to the model's spacing on a grid centred on the original's centre.
 *
 * Because reorientation only permutes and flips index axes, model index u along model axis t maps to a
 * continuous index x along original axis `perm[t]` by an affine function of u alone:
 *   x = centre_a + sign_t · (u − (size_t − 1) / 2) · spacing_t / spacingOrig_a,   a = perm[t]
 * so resampling and its inverse are separable, exact when spacings match (then x = u or n − 1 − u).
 */
export interface ModelGrid {
  /** Model axis t is original index axis perm[t]. */
  perm: Vec3;
  /** +1 where model axis t runs along original axis perm[t], −1 where it runs against it. */
  sign: Vec3;
  /** Model-space voxel counts (before any foreground crop). */
  dims: Vec3;
  /** Model-space voxel size in mm. */
  spacing: Vec3;
  /** Original dims and spacing, indexed by original axis. */
  sourceDims: Vec3;
  sourceSpacing: Vec3;
  /** LPS geometry of model voxel (0,0,0) and of model axes (columns), for display and debugging. */
  origin: Vec3;
  direction: Mat3;
}

/** Positive direction of each orientation letter, in LPS world coordinates. */
const LETTER_LPS: Record<string, Vec3> = {
  L: [1, 0, 0], R: [-1, 0, 0], P: [0, 1, 0], A: [0, -1, 0], S: [0, 0, 1], I: [0, 0, -1],
};

const PERMUTATIONS: Vec3[] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];

/**
 * The permutation and flips that bring `direction` (columns = LPS unit vectors of the index axes) closest to
 * `orientation` (e.g. "RAS"): maximises Σ |cos| over the six permutations, ties broken in permutation order.
 */
export function closestOrientation(direction: Mat3, orientation: string): { perm: Vec3; sign: Vec3 } {
  const targets = [...orientation].map((c) => LETTER_LPS[c]);
  const col = (a: number, t: Vec3) => direction[a] * t[0] + direction[3 + a] * t[1] + direction[6 + a] * t[2];
  let best = PERMUTATIONS[0];
  let bestScore = -1;
  for (const p of PERMUTATIONS) {
    const score = p.reduce((s, a, t) => s + Math.abs(col(a, targets[t])), 0);
    if (score > bestScore + 1e-9) {
      best = p;
      bestScore = score;
    }
  }
  const sign = best.map((a, t) => (col(a, targets[t]) < 0 ? -1 : 1)) as Vec3;
  return { perm: [...best] as Vec3, sign };
}

export function makeModelGrid(source: Omit<Volume, 'data'>, orientation: string, spacing: Vec3): ModelGrid {
  const { perm, sign } = closestOrientation(source.direction, orientation);
  const dims = perm.map((a, t) => Math.max(1, Math.round((source.dims[a] * source.spacing[a]) / spacing[t]))) as Vec3;
  const grid: ModelGrid = {
    perm,
    sign,
    dims,
    spacing: [...spacing] as Vec3,
    sourceDims: [...source.dims] as Vec3,
    sourceSpacing: [...source.spacing] as Vec3,
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  };
  const x0: Vec3 = [0, 0, 0];
  for (let t = 0; t < 3; t++) x0[perm[t]] = modelToSourceIndex(grid, t, 0);
  grid.origin = indexToWorld(source, x0);
  const d = source.direction;
  for (let t = 0; t < 3; t++) for (let r = 0; r < 3; r++) grid.direction[3 * r + t] = sign[t] * d[3 * r + perm[t]];
  return grid;
}

/** Continuous original index along axis perm[t] of model index u along model axis t. */
export function modelToSourceIndex(g: ModelGrid, t: number, u: number): number {
  const a = g.perm[t];
  return (g.sourceDims[a] - 1) / 2 + g.sign[t] * (u - (g.dims[t] - 1) / 2) * (g.spacing[t] / g.sourceSpacing[a]);
}

/** Continuous model index along model axis t of original index x along axis perm[t] (inverse of the above). */
export function sourceToModelIndex(g: ModelGrid, t: number, x: number): number {
  const a = g.perm[t];
  return (g.dims[t] - 1) / 2 + g.sign[t] * (x - (g.sourceDims[a] - 1) / 2) * (g.sourceSpacing[a] / g.spacing[t]);
}

/** Original voxel index (i, j, k) → continuous model index (u0, u1, u2). */
export function sourcePointToModel(g: ModelGrid, ijk: readonly number[]): Vec3 {
  return [0, 1, 2].map((t) => sourceToModelIndex(g, t, ijk[g.perm[t]])) as Vec3;
}
