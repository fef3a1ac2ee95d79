import type { Backend, GraphSession, TensorData } from '../backend/types.ts';
import { tensor } from '../backend/types.ts';
import { ModelBundleError, throwIfAborted } from '../errors.ts';
import { sourcePointToModel } from '../geometry/modelGrid.ts';
import { cropToRegion, regionToVolume, type LabelRegion } from '../geometry/region.ts';
import type { Vec3, Volume } from '../geometry/volume.ts';
import type { ModelBundle } from './bundle.ts';
import { keepComponentsWithSeeds } from './components.ts';
import type { ModelManifest } from './manifest.ts';
import { preprocess } from './preprocess.ts';
import { LabelSet, resolvePrompts, type Prompts, type ResolvedPrompts } from './prompts.ts';
import { boxDims, INSIDE, labelsToSource, logitsToSourceMask, NOT_PROCESSED } from './resample.ts';
import { accumulatePatch, centredStart, extractPatch, gridWindows, importanceMap } from './slidingWindow.ts';
import { checkWork, DEFAULT_ACCUMULATOR_FLOATS, planWork, type WorkLimits, type WorkPlan } from './work.ts';

export interface Progress {
  stage: 'preprocess' | 'inference' | 'postprocess' | 'done';
  /** Windows done / total during inference; 0/1 → 1/1 for the other stages. */
  done: number;
  total: number;
}

/** Encoder outputs kept per window, so that the next prompt on the same image re-runs only the heads. */
export interface FeatureCache {
  get(key: string): TensorData | undefined;
  set(key: string, features: TensorData): void;
}

export interface SegmentOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Keyed by window; the caller keeps one cache per image (and model) and drops it when the image changes. */
  featureCache?: FeatureCache;
  /** Most float32 values the class accumulators may hold at once; more classes run in several passes. */
  maxAccumulatorFloats?: number;
  /** Refuse (LimitExceededError) before allocating when the work is over these. */
  limits?: WorkLimits;
}

export interface SegmentTimings {
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
  /** Time spent inside ONNX Runtime (part of inferenceMs). */
  runtimeMs: number;
  windows: number;
}

export interface SegmentResult {
  /**
   * The result as the part of the input's grid it covers: every voxel outside the region is `region.outside`
   * (0, or `notProcessedValue` for a point prompt alone). What the viewer needs; no full-grid array is made for it.
   */
  region: LabelRegion;
  /** Global VISTA3D label indices on exactly the input's grid; `notProcessedValue` where nothing ran. Built from `region` on first use. */
  readonly labels: Volume<Uint8Array>;
  prompts: ResolvedPrompts;
  timings: SegmentTimings;
}

/**
 * VISTA3D inference over one model bundle: pre-processing, prompts, sliding windows through the three graphs
 * (encoder → class head / point head), post-processing and inversion onto the original grid.
 * Runs in Node and in browsers; the backend is a parameter.
 */
export class Vista3dPipeline {
  readonly labels: LabelSet;
  private constructor(
    readonly manifest: ModelManifest,
    private readonly backend: Backend,
    private readonly graphs: { encoder: GraphSession; classHead: GraphSession; pointHead: GraphSession },
  ) {
    this.labels = new LabelSet(manifest);
  }

  static async create(bundle: ModelBundle, backend: Backend): Promise<Vista3dPipeline> {
    const m = bundle.manifest;
    const load = async (name: keyof ModelManifest['graphs']) => {
      const g = await backend.loadGraph(bundle.graphs[name], name);
      const spec = m.graphs[name];
      const missing = [
        ...Object.values(spec.inputs).filter((n) => !g.inputNames.includes(n)).map((n) => `input ${n}`),
        ...Object.values(spec.outputs).filter((n) => !g.outputNames.includes(n)).map((n) => `output ${n}`),
      ];
      if (missing.length) {
        await g.dispose();
        throw new ModelBundleError(`graph ${name} (${spec.file}) lacks ${missing.join(', ')}; it has inputs ${g.inputNames.join(', ')} and outputs ${g.outputNames.join(', ')}`);
      }
      return g;
    };
    const encoder = await load('encoder');
    const classHead = await load('classHead');
    const pointHead = await load('pointHead');
    return new Vista3dPipeline(m, backend, { encoder, classHead, pointHead });
  }

  get device(): string {
    return this.backend.device;
  }

  /** Validates prompts against the model and an image of `dims` without running anything. */
  resolvePrompts(prompts: Prompts | undefined, dims: readonly number[]): ResolvedPrompts {
    return resolvePrompts(prompts, this.manifest, this.labels, dims);
  }

  /**
   * The cost of segmenting an image of this geometry (no voxels needed) with these prompts; throws
   * LimitExceededError when it is over `limits`. Cheap: the server calls it before queueing a request.
   */
  planWork(geometry: Pick<Volume, 'dims' | 'spacing' | 'direction' | 'origin'>, prompts: Prompts | undefined, limits?: WorkLimits, maxAccumulatorFloats?: number): WorkPlan {
    const plan = planWork(geometry, this.resolvePrompts(prompts, geometry.dims), this.manifest, maxAccumulatorFloats);
    if (limits) checkWork(plan, limits, `an image of ${geometry.dims.join('×')} voxels at ${geometry.spacing.map((s) => +s.toPrecision(4)).join('×')} mm`);
    return plan;
  }

  async segment(volume: Volume, prompts: Prompts | undefined, options: SegmentOptions = {}): Promise<SegmentResult> {
    const { onProgress, signal } = options;
    const m = this.manifest;
    const resolved = this.resolvePrompts(prompts, volume.dims);
    if (options.limits) this.planWork(volume, prompts, options.limits, options.maxAccumulatorFloats);
    const runtime0 = this.backend.stats.runMs;
    const t0 = performance.now();
    onProgress?.({ stage: 'preprocess', done: 0, total: 1 });
    throwIfAborted(signal);
    const pre = preprocess(volume, m);
    const dims = boxDims(pre.box);
    const n = dims[0] * dims[1] * dims[2];
    const roi = m.inference.roiSize as Vec3;
    const t1 = performance.now();

    const classWindows = resolved.classIds.length ? gridWindows(dims, roi, m.inference.overlap) : [];
    const groupSize = Math.max(1, Math.floor((options.maxAccumulatorFloats ?? DEFAULT_ACCUMULATOR_FLOATS) / n));
    const groups: number[][] = [];
    for (let i = 0; i < resolved.classIds.length; i += groupSize) groups.push(resolved.classIds.slice(i, i + groupSize));

    let modelPoints: Vec3[] = [];
    let pointWindows: Vec3[] = [];
    if (resolved.point) {
      modelPoints = resolved.point.points.map((p) => {
        const u = sourcePointToModel(pre.grid, p);
        return [0, 1, 2].map((t) => u[t] - pre.box.lo[t]) as Vec3;
      });
      const keys = new Set<string>();
      for (const p of modelPoints) {
        const s = [0, 1, 2].map((t) => centredStart(p[t], dims[t], roi[t])) as Vec3;
        if (!keys.has(s.join(','))) {
          keys.add(s.join(','));
          pointWindows.push(s);
        }
      }
    }
    const total = classWindows.length * groups.length + pointWindows.length;
    let done = 0;
    const tick = () => onProgress?.({ stage: 'inference', done: ++done, total });
    onProgress?.({ stage: 'inference', done: 0, total });

    const weights = importanceMap(roi, m.inference.blending, m.inference.sigmaScale);
    const cache = options.featureCache;
    const features = async (start: Vec3): Promise<TensorData> => {
      const key = start.join(',');
      const hit = cache?.get(key);
      if (hit) return hit;
      const patch = extractPatch(pre.image, dims, start, roi);
      const spec = m.graphs.encoder;
      const out = await this.graphs.encoder.run({ [spec.inputs.image]: tensor('float32', patch, [1, 1, ...roi]) });
      const f = out[spec.outputs.features];
      cache?.set(key, f);
      return f;
    };

    // Class prompts: per group of classes one pass of windows, keeping a running argmax (best logit, label).
    let classLabels: Uint8Array | null = null;
    if (groups.length) {
      const best = new Float32Array(n).fill(-Infinity);
      classLabels = new Uint8Array(n);
      const spec = m.graphs.classHead;
      for (const group of groups) {
        const acc = new Float32Array(group.length * n);
        const wsum = new Float32Array(n);
        for (const start of classWindows) {
          throwIfAborted(signal);
          const f = await features(start);
          for (let c0 = 0; c0 < group.length; c0 += m.inference.maxClassesPerRun) {
            const ids = group.slice(c0, c0 + m.inference.maxClassesPerRun);
            const out = await this.graphs.classHead.run({
              [spec.inputs.features]: f,
              [spec.inputs.classVector]: tensor(m.inference.classVectorType, ids, [ids.length, 1]),
            });
            const logits = checkLogits(out[spec.outputs.logits], ids.length, roi, 'classHead');
            accumulatePatch(acc.subarray(c0 * n), c0 === 0 ? wsum : null, dims, logits, ids.length, start, roi, weights);
          }
          tick();
        }
        for (let c = 0; c < group.length; c++) {
          const off = c * n;
          const id = group[c];
          for (let i = 0; i < n; i++) {
            const v = acc[off + i] / wsum[i];
            if (v > best[i]) {
              best[i] = v;
              classLabels[i] = v > m.inference.threshold ? id : 0;
            }
          }
        }
      }
    }

    // Point prompt: windows around the clicks only; the rest is "not processed".
    let pointLogits: Float32Array | null = null;
    let processed: Uint8Array | null = null;
    if (resolved.point) {
      const pt = resolved.point;
      const spec = m.graphs.pointHead;
      const acc = new Float32Array(n);
      const wsum = new Float32Array(n);
      for (const start of pointWindows) {
        throwIfAborted(signal);
        const f = await features(start);
        const coords = modelPoints.flatMap((p) => [p[0] - start[0], p[1] - start[1], p[2] - start[2]]);
        // As MONAI's VISTA3D does per patch: clicks outside this window are padding (label −1).
        const labels = pt.labels.map((l, i) => (modelPoints[i].every((v, t) => v >= start[t] - 0.5 && v < start[t] + roi[t] - 0.5) ? l : -1));
        const out = await this.graphs.pointHead.run({
          [spec.inputs.features]: f,
          [spec.inputs.pointCoords]: tensor('float32', coords, [1, modelPoints.length, 3]),
          [spec.inputs.pointLabels]: tensor(m.inference.pointLabelsType, labels, [1, labels.length]),
          [spec.inputs.classVector]: tensor(m.inference.classVectorType, [pt.labelId], [1, 1]),
        });
        accumulatePatch(acc, wsum, dims, checkLogits(out[spec.outputs.logits], 1, roi, 'pointHead'), 1, start, roi, weights);
        tick();
      }
      pointLogits = new Float32Array(n);
      processed = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        if (wsum[i] > 0) {
          processed[i] = 1;
          pointLogits[i] = acc[i] / wsum[i];
        }
      }
    }
    const t2 = performance.now();
    onProgress?.({ stage: 'postprocess', done: 0, total: 1 });
    throwIfAborted(signal);

    const data = labelsToSource(classLabels ?? new Uint8Array(n).fill(m.notProcessedValue), pre.box, pre.grid, 0);
    if (resolved.point && pointLogits && processed) {
      // The point mask is thresholded on the original grid (trilinear logits), then only the components that
      // hold a positive click are kept; it replaces the label where it is and clears it elsewhere in its windows.
      const pt = resolved.point;
      const mask = logitsToSourceMask(pointLogits, processed, pre.box, pre.grid, m.inference.threshold);
      const positives = pt.points.filter((_, i) => pt.labels[i] === 1 || pt.labels[i] === 3);
      const keep = keepComponentsWithSeeds(mask, volume.dims as Vec3, positives, INSIDE);
      const id = pt.labelId;
      const none = m.notProcessedValue;
      for (let i = 0; i < data.length; i++) {
        if (keep[i]) data[i] = id;
        else if (mask[i] !== NOT_PROCESSED) {
          const v = data[i];
          if (v === id || v === none) data[i] = 0;
        }
      }
    }
    const region = cropToRegion(data, volume.dims as Vec3, classLabels ? 0 : m.notProcessedValue);
    const t3 = performance.now();
    onProgress?.({ stage: 'done', done: 1, total: 1 });
    return segmentResult(region, volume, resolved, {
      preprocessMs: t1 - t0,
      inferenceMs: t2 - t1,
      postprocessMs: t3 - t2,
      runtimeMs: this.backend.stats.runMs - runtime0,
      windows: total,
    });
  }

  async dispose(): Promise<void> {
    await Promise.all(Object.values(this.graphs).map((g) => g.dispose()));
  }
}

/** A result whose full-grid `labels` are built from its region when first read (and kept). */
function segmentResult(region: LabelRegion, grid: Omit<Volume, 'data'>, prompts: ResolvedPrompts, timings: SegmentTimings): SegmentResult {
  const geometry = { dims: [...grid.dims] as Vec3, spacing: [...grid.spacing] as Vec3, direction: [...grid.direction] as Volume['direction'], origin: [...grid.origin] as Vec3 };
  let labels: Volume<Uint8Array> | undefined;
  return {
    region,
    prompts,
    timings,
    get labels() {
      return (labels ??= regionToVolume(region, geometry));
    },
  };
}

function checkLogits(t: TensorData | undefined, batch: number, roi: Vec3, graph: string): Float32Array {
  const want = [batch, 1, ...roi];
  if (!t || t.type !== 'float32' || t.dims.length !== 5 || !t.dims.every((d, i) => d === want[i])) {
    throw new ModelBundleError(`graph ${graph} returned logits of shape [${t?.dims.join(', ') ?? 'none'}] (${t?.type}); expected float32 [${want.join(', ')}]`);
  }
  return t.data as Float32Array;
}
