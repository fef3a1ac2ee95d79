/**
 * The held-out evaluation volumes: phantoms from seeds never used in training (10000 and up), sampled on
 * several grids. Every grid samples the same anatomy at the same world (LPS mm) positions, so a seed seen through
 * two grids is the same patient stored two ways.
 */
import type { Mat3, Vec3 } from '../geometry/volume.ts';
import type { PhantomKind, PhantomOptions } from '../phantom/generate.ts';

export interface GridVariant {
  name: string;
  dims: Vec3;
  spacing: Vec3;
  /** Row-major; column c = LPS unit vector of index axis c. */
  direction: Mat3;
}

/** Axial slices, index axes i → R, j → A, k → S (RAS), 2.5 × 2.5 × 3 mm. */
export const AXIAL_RAS: GridVariant = { name: 'axial RAS 2.5×2.5×3', dims: [160, 128, 96], spacing: [2.5, 2.5, 3], direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1] };
/** The same field of view with the axes permuted and flipped: i → I (3 mm), j → L, k → A (2.5 mm). */
export const PERMUTED: GridVariant = { name: 'permuted+flipped (i→I, j→L, k→A)', dims: [96, 160, 128], spacing: [3, 2.5, 2.5], direction: [0, 1, 0, 0, 0, -1, -1, 0, 0] };
/** Coarse LPS slices stored superior → inferior. */
export const COARSE: GridVariant = { name: 'LPS 4×4×5, reversed slices', dims: [100, 80, 58], spacing: [4, 4, 5], direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] };
/** Fine axial LPS grid. */
export const FINE: GridVariant = { name: 'LPS 1.5×1.5×2', dims: [267, 213, 144], spacing: [1.5, 1.5, 2], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };

export interface EvalCase {
  seed: number;
  kind: PhantomKind;
  grid: GridVariant;
}

export function phantomOptions(c: EvalCase): PhantomOptions {
  return { seed: c.seed, kind: c.kind, dims: c.grid.dims, spacing: c.grid.spacing, direction: c.grid.direction };
}

/** First held-out seed; training uses 1…440 (see models/training/README.md). */
export const EVAL_SEED0 = 10001;

export function evalCases(quick: boolean): EvalCase[] {
  const s = EVAL_SEED0;
  const torso = (seeds: number[], grid: GridVariant) => seeds.map((seed): EvalCase => ({ seed, kind: 'torso', grid }));
  if (quick) {
    return [...torso([s], AXIAL_RAS), ...torso([s], PERMUTED), { seed: s + 20, kind: 'head', grid: AXIAL_RAS }];
  }
  const pairs = [s, s + 1, s + 2, s + 3, s + 4, s + 5];
  return [
    ...torso(pairs, AXIAL_RAS),
    ...torso(pairs, PERMUTED),
    ...torso([s + 6, s + 7], COARSE),
    ...torso([s + 8, s + 9], FINE),
    { seed: s + 20, kind: 'head', grid: AXIAL_RAS },
    { seed: s + 21, kind: 'head', grid: PERMUTED },
    { seed: s + 30, kind: 'empty', grid: AXIAL_RAS },
  ];
}
