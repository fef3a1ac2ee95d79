import type { Backend, GraphSession, TensorData } from '../backend/types.ts';
import { tensor } from '../backend/types.ts';
import { ModelBundleError, throwIfAborted } from '../errors.ts';
import { makeModelGrid, type ModelGrid } from '../geometry/modelGrid.ts';
import { cropToRegion, emptyRegion, regionDims, regionToVolume, type LabelRegion } from '../geometry/region.ts';
import type { Vec3, Volume } from '../geometry/volume.ts';
import type { ModelBundle } from './bundle.ts';
import { classPlan, runClassPass, type ClassGraphs } from './classPass.ts';
import type { ModelManifest } from './manifest.ts';
import { runPointPass, type PointGraphs } from './pointPass.ts';
import { preprocess, sourceForegroundBox, type Preprocessed } from './preprocess.ts';
import { LabelSet, resolvePrompts, type Prompts, type ResolvedPrompts } from './prompts.ts';
import { labelsToSource, type Box } from './resample.ts';
import { importanceMap } from './slidingWindow.ts';
import { checkWork, DEFAULT_ACCUMULATOR_FLOATS, DEFAULT_MAX_POINT_WINDOWS, planWork, type WorkLimits, type WorkPlan } from './work.ts';

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

/**
 * What a caller keeps per image (keyed by its content) between prompts: the encoder features per window, and the
 * model-space image with the mapping back. Either may be absent (nothing kept).
 */
export interface ImageCache {
  features?: FeatureCache;
  preprocessed?: { get(): Preprocessed | undefined; set(p: Preprocessed): void };
  /** The foreground box point prompts clamp their windows to (found on the original image, once). */
  foreground?: { get(): Box | undefined; set(b: Box): void };
}

export interface SegmentOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Awaited before pre-processing, each window and post-processing: where a scheduler lets other work use the device (batch work yields to clicks). */
  between?: () => Promise<void>;
  /** Keyed by window; the caller keeps one cache per image (and model) and drops it when the image changes. */
  featureCache?: FeatureCache;
  /** The per-image state (features, model-space image); `featureCache` wins for features when both are given. */
  imageCache?: ImageCache;
  /** Bound on a point prompt's windows (DEFAULT_MAX_POINT_WINDOWS); set it to the number of distinct click windows to turn growth off. */
  maxPointWindows?: number;
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
  /** Point prompts: windows added because the structure reached an inner window edge. */
  pointWindowsGrown?: number;
  /** Point prompts: the structure still reaches an inner window edge (the window budget ran out). */
  pointCut?: boolean;
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
  planWork(geometry: Pick<Volume, 'dims' | 'spacing' | 'direction' | 'origin'>, prompts: Prompts | undefined, limits?: WorkLimits, maxAccumulatorFloats?: number, maxPointWindows?: number): WorkPlan {
    const plan = planWork(geometry, this.resolvePrompts(prompts, geometry.dims), this.manifest, maxAccumulatorFloats, maxPointWindows);
    if (limits) checkWork(plan, limits, `an image of ${geometry.dims.join('×')} voxels at ${geometry.spacing.map((s) => +s.toPrecision(4)).join('×')} mm`);
    return plan;
  }

  async segment(volume: Volume, prompts: Prompts | undefined, options: SegmentOptions = {}): Promise<SegmentResult> {
    const { onProgress, signal } = options;
    const m = this.manifest;
    const resolved = this.resolvePrompts(prompts, volume.dims);
    if (options.limits) this.planWork(volume, prompts, options.limits, options.maxAccumulatorFloats, options.maxPointWindows);
    const runtime0 = this.backend.stats.runMs;
    const t0 = performance.now();
    onProgress?.({ stage: 'preprocess', done: 0, total: 1 });
    // whole-volume stages yield too: before pre-processing, before each window, before post-processing
    await options.between?.();
    throwIfAborted(signal);
    // Whole-image pre-processing only for class prompts (and kept by the caller for the next one); a point
    // prompt resamples its own windows.
    const pre = resolved.classIds.length ? this.preprocessed(volume, options.imageCache) : null;
    const grid = pre?.grid ?? makeModelGrid(volume, m.preprocessing.orientation, m.preprocessing.spacing as Vec3);
    const t1 = performance.now();

    const roi = m.inference.roiSize as Vec3;
    const plan = pre ? classPlan(pre, m, resolved.classIds, options.maxAccumulatorFloats ?? DEFAULT_ACCUMULATOR_FLOATS) : { windows: [], groups: [] };
    const maxPointWindows = options.maxPointWindows ?? DEFAULT_MAX_POINT_WINDOWS;
    let total = plan.windows.length * plan.groups.length + (resolved.point ? Math.min(resolved.point.points.length, maxPointWindows) : 0);
    let done = 0;
    onProgress?.({ stage: 'inference', done: 0, total });
    const weights = importanceMap(roi, m.inference.blending, m.inference.sigmaScale);
    const graphs = this.graphCalls(options.featureCache ?? options.imageCache?.features);

    const tick = () => {
      done++;
      onProgress?.({ stage: 'inference', done, total });
    };
    const classLabels = pre ? await runClassPass(pre, m, plan, graphs, weights, { signal, between: options.between, onWindow: tick }) : null;
    const classDone = done;
    const point = resolved.point
      ? await runPointPass(volume, grid, m, resolved.point, graphs, {
          maxWindows: maxPointWindows,
          weights,
          clampBox: this.foreground(volume, grid, options.imageCache),
          signal,
          between: options.between,
          onWindow: (d, n) => {
            total = classDone + Math.max(n, d);
            done = classDone + d;
            onProgress?.({ stage: 'inference', done, total });
          },
        })
      : null;
    const t2 = performance.now();
    onProgress?.({ stage: 'postprocess', done: 0, total: 1 });
    await options.between?.();
    throwIfAborted(signal);

    let region: LabelRegion;
    if (classLabels && pre) {
      // class labels on the whole grid, the point result (if any) over its own region
      const data = labelsToSource(classLabels, pre.box, pre.grid, 0);
      if (point) overlayPoint(data, volume.dims as Vec3, point.region, resolved.point!.labelId, m.notProcessedValue);
      region = cropToRegion(data, volume.dims as Vec3, 0);
    } else region = point?.region ?? emptyRegion(m.notProcessedValue);
    const t3 = performance.now();
    onProgress?.({ stage: 'done', done: 1, total: 1 });
    return segmentResult(region, volume, resolved, {
      preprocessMs: t1 - t0,
      inferenceMs: t2 - t1,
      postprocessMs: t3 - t2,
      runtimeMs: this.backend.stats.runMs - runtime0,
      windows: done,
      ...(point ? { pointWindowsGrown: point.grown, pointCut: point.cut } : {}),
    });
  }

  /**
   * The model-space image a class prompt runs on (reoriented, resampled, cropped, scaled, with the mapping back),
   * from the caller's per-image cache when it holds it; the server calls this ahead of the first prompt.
   */
  preprocessed(volume: Volume, cache?: ImageCache): Preprocessed {
    const hit = cache?.preprocessed?.get();
    if (hit) return hit;
    const pre = preprocess(volume, this.manifest);
    cache?.preprocessed?.set(pre);
    return pre;
  }

  /**
   * The foreground box point windows stay in, as the class pass's crop would find it, but from the original image
   * (no resampling; one pass over its voxels, kept by the caller): the same for the first click and the next.
   */
  private foreground(volume: Volume, grid: ModelGrid, cache?: ImageCache): Box | undefined {
    const crop = this.manifest.preprocessing.foregroundCrop;
    if (!crop) return undefined;
    const hit = cache?.foreground?.get();
    if (hit) return hit;
    const box = sourceForegroundBox(volume, grid, crop.threshold, crop.margin);
    cache?.foreground?.set(box);
    return box;
  }

  /** The graphs as the passes call them: features through the cache, heads with the manifest's tensor names. */
  private graphCalls(cache: FeatureCache | undefined): ClassGraphs & PointGraphs {
    const m = this.manifest;
    const roi = m.inference.roiSize as Vec3;
    return {
      features: async (key, patch) => {
        const hit = cache?.get(key);
        if (hit) return hit;
        const spec = m.graphs.encoder;
        const out = await this.graphs.encoder.run({ [spec.inputs.image]: tensor('float32', patch(), [1, 1, ...roi]) });
        const f = out[spec.outputs.features];
        cache?.set(key, f);
        return f;
      },
      classHead: async (f, ids) => {
        const spec = m.graphs.classHead;
        const out = await this.graphs.classHead.run({ [spec.inputs.features]: f, [spec.inputs.classVector]: tensor(m.inference.classVectorType, ids, [ids.length, 1]) });
        return checkLogits(out[spec.outputs.logits], ids.length, roi, 'classHead');
      },
      pointHead: async (f, coords, labels, labelId) => {
        const spec = m.graphs.pointHead;
        const out = await this.graphs.pointHead.run({
          [spec.inputs.features]: f,
          [spec.inputs.pointCoords]: tensor('float32', coords, [1, labels.length, 3]),
          [spec.inputs.pointLabels]: tensor(m.inference.pointLabelsType, labels, [1, labels.length]),
          [spec.inputs.classVector]: tensor(m.inference.classVectorType, [labelId], [1, 1]),
        });
        return checkLogits(out[spec.outputs.logits], 1, roi, 'pointHead');
      },
    };
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

/**
 * Writes a point result into full-grid labels (i fastest): the structure where it is; where its windows ran but
 * it is not, its label (or a not-processed value) is cleared; elsewhere the labels stay.
 */
function overlayPoint(data: Uint8Array, dims: Vec3, r: LabelRegion, id: number, none: number): void {
  const [bx, by, bz] = regionDims(r);
  for (let z = 0; z < bz; z++)
    for (let y = 0; y < by; y++) {
      const row = r.lo[0] + dims[0] * (r.lo[1] + y + dims[1] * (r.lo[2] + z));
      for (let x = 0, s = bx * (y + by * z); x < bx; x++, s++) {
        const v = r.data[s];
        if (v === id) data[row + x] = id;
        else if (v !== none && (data[row + x] === id || data[row + x] === none)) data[row + x] = 0;
      }
    }
}

function checkLogits(t: TensorData | undefined, batch: number, roi: Vec3, graph: string): Float32Array {
  const want = [batch, 1, ...roi];
  if (!t || t.type !== 'float32' || t.dims.length !== 5 || !t.dims.every((d, i) => d === want[i])) {
    throw new ModelBundleError(`graph ${graph} returned logits of shape [${t?.dims.join(', ') ?? 'none'}] (${t?.type}); expected float32 [${want.join(', ')}]`);
  }
  return t.data as Float32Array;
}
