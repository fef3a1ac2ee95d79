import type { TensorData } from '../backend/types.ts';
import { throwIfAborted } from '../errors.ts';
import type { Vec3 } from '../geometry/volume.ts';
import type { ModelManifest } from './manifest.ts';
import type { Preprocessed } from './preprocess.ts';
import { boxDims } from './resample.ts';
import { accumulatePatch, extractPatch, gridWindows } from './slidingWindow.ts';

/** What the class pass needs of the network: one window's features (cached by the caller) and the class head. */
export interface ClassGraphs {
  features(key: string, patch: () => Float32Array): Promise<TensorData>;
  /** Class-head logits [C, 1, X, Y, Z] (C order) for `ids`. */
  classHead(features: TensorData, ids: number[]): Promise<Float32Array>;
}

/** The windows of a class pass and its passes (groups of classes the accumulators hold at once). */
export function classPlan(pre: Preprocessed, manifest: ModelManifest, classIds: number[], maxAccumulatorFloats: number): { windows: Vec3[]; groups: number[][] } {
  const dims = boxDims(pre.box);
  const n = dims[0] * dims[1] * dims[2];
  const windows = classIds.length ? gridWindows(dims, manifest.inference.roiSize as Vec3, manifest.inference.overlap) : [];
  const groupSize = Math.max(1, Math.floor(maxAccumulatorFloats / n));
  const groups: number[][] = [];
  for (let i = 0; i < classIds.length; i += groupSize) groups.push(classIds.slice(i, i + groupSize));
  return { windows, groups };
}

/**
 * Class prompts over the whole (cropped) model image: a dense sliding-window scan per group of classes, keeping
 * a running argmax (best blended logit, its label; background where no logit exceeds the threshold).
 * Output: labels in model layout restricted to `pre.box` (u0 fastest).
 */
export async function runClassPass(
  pre: Preprocessed,
  manifest: ModelManifest,
  plan: { windows: Vec3[]; groups: number[][] },
  graphs: ClassGraphs,
  weights: Float32Array,
  opts: { signal?: AbortSignal; between?: () => Promise<void>; onWindow?: () => void },
): Promise<Uint8Array> {
  const dims = boxDims(pre.box);
  const n = dims[0] * dims[1] * dims[2];
  const roi = manifest.inference.roiSize as Vec3;
  const best = new Float32Array(n).fill(-Infinity);
  const labels = new Uint8Array(n);
  for (const group of plan.groups) {
    const acc = new Float32Array(group.length * n);
    const wsum = new Float32Array(n);
    for (const start of plan.windows) {
      await opts.between?.();
      throwIfAborted(opts.signal);
      const f = await graphs.features(`class:${start.join(',')}`, () => extractPatch(pre.image, dims, start, roi));
      for (let c0 = 0; c0 < group.length; c0 += manifest.inference.maxClassesPerRun) {
        const ids = group.slice(c0, c0 + manifest.inference.maxClassesPerRun);
        accumulatePatch(acc.subarray(c0 * n), c0 === 0 ? wsum : null, dims, await graphs.classHead(f, ids), ids.length, start, roi, weights);
      }
      opts.onWindow?.();
    }
    for (let c = 0; c < group.length; c++) {
      const off = c * n;
      const id = group[c];
      for (let i = 0; i < n; i++) {
        const v = acc[off + i] / wsum[i];
        if (v > best[i]) {
          best[i] = v;
          labels[i] = v > manifest.inference.threshold ? id : 0;
        }
      }
    }
  }
  return labels;
}
