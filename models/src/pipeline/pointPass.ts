import type { TensorData } from '../backend/types.ts';
import { throwIfAborted } from '../errors.ts';
import { sourcePointToModel, type ModelGrid } from '../geometry/modelGrid.ts';
import type { LabelRegion } from '../geometry/region.ts';
import type { Vec3, Volume } from '../geometry/volume.ts';
import { keepComponentsWithSeeds } from './components.ts';
import type { ModelManifest } from './manifest.ts';
import { scaleIntensities } from './preprocess.ts';
import type { PointPrompt } from './prompts.ts';
import { boxDims, INSIDE, logitsToSourceRegion, NOT_PROCESSED, resampleToModel, type Box } from './resample.ts';
import { accumulatePatch, centredStart, extractPatch } from './slidingWindow.ts';

/** What the point pass needs of the network: one window's features (cached by the caller) and the point head. */
export interface PointGraphs {
  /** Encoder features of the window keyed `key`; `patch` builds its input only when they are not cached. */
  features(key: string, patch: () => Float32Array): Promise<TensorData>;
  /** Point-head logits [1, 1, X, Y, Z] (C order) of a window, clicks in window voxel coordinates. */
  pointHead(features: TensorData, coords: number[], labels: number[], labelId: number): Promise<Float32Array>;
}

export interface PointPassResult {
  /** On the original grid; `outside` = the model's not-processed value. 0 where processed but not the structure. */
  region: LabelRegion;
  windows: number;
  /** Windows added because the structure reached a window's inner edge. */
  grown: number;
  /** The kept structure still reaches an inner window edge (the window budget ran out). */
  cut: boolean;
}

/**
 * A point prompt, locally: only the windows around the clicks are resampled, run and post-processed — in model
 * space on the bounding box of those windows, and on the original grid on the voxels that box covers
 * (components included); nothing of the rest of the image is touched. Windows are centred on each click
 * (clamped to `clampBox`, the foreground box, or the model grid: `centredStart`). Where the structure the positive clicks select reaches a window's
 * face inside the image and nothing was processed beyond it, the neighbouring window (one sliding-window step
 * further) runs too, up to `maxWindows` in all, so that a structure larger than a window is not cut by its edge.
 * `grid` is the whole model grid (no foreground crop), coordinates in model voxels (u0 fastest).
 */
export async function runPointPass(
  volume: Volume,
  grid: ModelGrid,
  manifest: ModelManifest,
  point: PointPrompt,
  graphs: PointGraphs,
  opts: {
    maxWindows: number;
    weights: Float32Array;
    /** Windows stay inside this box of the grid where it is larger than a window (the foreground box); default the grid. */
    clampBox?: Box;
    signal?: AbortSignal;
    /** Awaited before each window (SegmentOptions.between). */
    between?: () => Promise<void>;
    onWindow?: (done: number, total: number) => void;
  },
): Promise<PointPassResult> {
  const roi = manifest.inference.roiSize as Vec3;
  const dims = grid.dims;
  const within: Box = opts.clampBox ?? { lo: [0, 0, 0], hi: [...dims] as Vec3 };
  const wd = boxDims(within);
  const step = roi.map((r) => Math.max(1, Math.floor(r * (1 - manifest.inference.overlap)))) as Vec3;
  const modelPoints = point.points.map((p) => sourcePointToModel(grid, p));
  const positives = modelPoints.filter((_, i) => point.labels[i] === 1 || point.labels[i] === 3);
  // a window start along axis t kept inside `within` (centred on it when it is smaller than a window)
  const clampStart = (s: number, t: number) => within.lo[t] + (wd[t] <= roi[t] ? Math.ceil((wd[t] - roi[t]) / 2) : Math.min(Math.max(s - within.lo[t], 0), wd[t] - roi[t]));

  const windows: { start: Vec3; logits: Float32Array }[] = [];
  const keys = new Set<string>();
  const queue: Vec3[] = [];
  const want = (start: Vec3) => {
    const key = start.join(',');
    if (keys.has(key) || keys.size >= opts.maxWindows) return false;
    keys.add(key);
    queue.push(start);
    return true;
  };
  for (const p of modelPoints) want([0, 1, 2].map((t) => within.lo[t] + centredStart(p[t] - within.lo[t], wd[t], roi[t])) as Vec3);
  const initial = keys.size;

  const w = manifest.preprocessing.intensity;
  const patchAt = (start: Vec3) => () => {
    // resample only this window's part of the model grid; replicate padding where the window passes the grid
    const box: Box = { lo: start.map((s) => Math.max(0, s)) as Vec3, hi: start.map((s, t) => Math.min(dims[t], s + roi[t])) as Vec3 };
    const sub = scaleIntensities(resampleToModel(volume.data, grid, box), w);
    return extractPatch(sub, boxDims(box), start.map((s, t) => s - box.lo[t]) as Vec3, roi);
  };

  let union: Box;
  let acc: Float32Array;
  let wsum: Float32Array;
  for (;;) {
    while (queue.length) {
      await opts.between?.();
      throwIfAborted(opts.signal);
      const start = queue.shift()!;
      const f = await graphs.features(`point:${start.join(',')}`, patchAt(start));
      const coords = modelPoints.flatMap((p) => [p[0] - start[0], p[1] - start[1], p[2] - start[2]]);
      // As MONAI's VISTA3D does per patch: clicks outside this window are padding (label −1).
      const labels = point.labels.map((l, i) => (modelPoints[i].every((v, t) => v >= start[t] - 0.5 && v < start[t] + roi[t] - 0.5) ? l : -1));
      windows.push({ start, logits: await graphs.pointHead(f, coords, labels, point.labelId) });
      opts.onWindow?.(windows.length, keys.size);
    }
    // blend every window's logits on the bounding box of the windows (clamped to the grid)
    union = {
      lo: [0, 1, 2].map((t) => Math.max(0, Math.min(...windows.map((x) => x.start[t])))) as Vec3,
      hi: [0, 1, 2].map((t) => Math.min(dims[t], Math.max(...windows.map((x) => x.start[t] + roi[t])))) as Vec3,
    };
    const ud = boxDims(union);
    acc = new Float32Array(ud[0] * ud[1] * ud[2]);
    wsum = new Float32Array(acc.length);
    for (const x of windows) accumulatePatch(acc, wsum, ud, x.logits, 1, x.start.map((s, t) => s - union.lo[t]) as Vec3, roi, opts.weights);
    const touching = innerEdgesReached(acc, wsum, ud, union, dims, roi, windows.map((x) => x.start), positives, manifest.inference.threshold);
    let added = false;
    for (const { start, axis, side } of touching) {
      const next = [...start] as Vec3;
      next[axis] = clampStart(start[axis] + side * step[axis], axis);
      if (want(next)) added = true;
    }
    if (!added) {
      const grown = keys.size - initial;
      return { ...toRegion(acc, wsum, union, grid, point, manifest), windows: windows.length, grown, cut: touching.length > 0 };
    }
  }
}

/**
 * The faces of windows where the structure (the voxels above threshold 6-connected to a positive click, in
 * model space on `union`) reaches the face while the model voxel beyond it is inside the grid and unprocessed.
 */
function innerEdgesReached(acc: Float32Array, wsum: Float32Array, ud: Vec3, union: Box, dims: Vec3, roi: Vec3, starts: Vec3[], positives: Vec3[], threshold: number): { start: Vec3; axis: number; side: number }[] {
  const mask = new Uint8Array(acc.length);
  for (let o = 0; o < acc.length; o++) if (wsum[o] > 0 && acc[o] / wsum[o] > threshold) mask[o] = 1;
  const seeds = positives.map((p) => p.map((v, t) => Math.round(v) - union.lo[t]) as Vec3);
  const structure = keepComponentsWithSeeds(mask, ud, seeds, 1);
  const at = (g: Vec3) => g[0] + ud[0] * (g[1] + ud[1] * g[2]); // grid coords relative to union
  const out: { start: Vec3; axis: number; side: number }[] = [];
  for (const start of starts) {
    for (let axis = 0; axis < 3; axis++) {
      for (const side of [-1, 1]) {
        const plane = side < 0 ? start[axis] : start[axis] + roi[axis] - 1;
        const beyond = plane + side;
        if (beyond < 0 || beyond >= dims[axis]) continue; // the image ends here: no cut
        const [a, b] = [0, 1, 2].filter((t) => t !== axis);
        const aLo = Math.max(start[a], union.lo[a]), aHi = Math.min(start[a] + roi[a], union.hi[a]);
        const bLo = Math.max(start[b], union.lo[b]), bHi = Math.min(start[b] + roi[b], union.hi[b]);
        let reached = false;
        for (let x = aLo; x < aHi && !reached; x++)
          for (let y = bLo; y < bHi && !reached; y++) {
            const g: Vec3 = [0, 0, 0];
            g[axis] = plane - union.lo[axis];
            g[a] = x - union.lo[a];
            g[b] = y - union.lo[b];
            if (!structure[at(g)]) continue;
            const inUnion = beyond >= union.lo[axis] && beyond < union.hi[axis];
            if (inUnion) {
              g[axis] = beyond - union.lo[axis];
              if (wsum[at(g)] > 0) continue; // processed by a neighbouring window already
            }
            reached = true;
          }
        if (reached) out.push({ start, axis, side });
      }
    }
  }
  return out;
}

/** Blended logits → the point result on the original grid, components from the positive clicks kept. */
function toRegion(acc: Float32Array, wsum: Float32Array, union: Box, grid: ModelGrid, point: PointPrompt, manifest: ModelManifest): { region: LabelRegion } {
  const logits = new Float32Array(acc.length);
  const processed = new Uint8Array(acc.length);
  for (let o = 0; o < acc.length; o++) {
    if (wsum[o] > 0) {
      processed[o] = 1;
      logits[o] = acc[o] / wsum[o];
    }
  }
  const r = logitsToSourceRegion(logits, processed, union, grid, manifest.inference.threshold);
  const rd = boxDims(r);
  const positives = point.points.filter((_, i) => point.labels[i] === 1 || point.labels[i] === 3).map((p) => p.map((v, a) => v - r.lo[a]) as Vec3);
  const keep = keepComponentsWithSeeds(r.mask, rd, positives, INSIDE);
  const none = manifest.notProcessedValue;
  const data = new Uint8Array(r.mask.length);
  for (let o = 0; o < data.length; o++) data[o] = keep[o] ? point.labelId : r.mask[o] === NOT_PROCESSED ? none : 0;
  return { region: { lo: r.lo, hi: r.hi, data, outside: none } };
}
