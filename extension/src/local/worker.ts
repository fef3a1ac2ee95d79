/**
 * The in-browser inference worker (a module worker, bundled by scripts/build-plugins.mjs as vista3d-worker.mjs):
 * the same Vista3dPipeline the server runs, over onnxruntime-web (WebGPU on a hardware adapter, else WebAssembly,
 * threaded when the page is cross-origin isolated), so that the viewer stays responsive. It holds one model and
 * the last image it was sent, with that image's per-window encoder features, model-space image and foreground box
 * (dropped when another image arrives). Messages: ./protocol.ts.
 */
import { describeModel, Vista3dPipeline, type ImageCache, type Volume } from '@vista3d/models';
import { createBackend } from '@vista3d/models/backend';
import { loadModelBundle, MODEL_CACHE_NAME } from './modelStore.ts';
import type { LoadedModel, LoadRequest, SegmentOutcome, SegmentRequest, WorkerReply, WorkerRequest } from './protocol.ts';

interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
  crossOriginIsolated?: boolean;
  caches: CacheStorage;
  navigator: Navigator & { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean } | null> } };
}
const scope = self as unknown as WorkerScope;

let model: { pipeline: Vista3dPipeline; loaded: LoadedModel } | null = null;
let loading: Promise<LoadedModel> | null = null;
let image: { key: string; volume: Volume; cache: ImageCache } | null = null;
const running = new Map<number, AbortController>();

/** Why WebGPU should not be chosen by "auto" here: no adapter, or a software one (SwiftShader: far slower than wasm). */
async function webgpuRuledOut(): Promise<string | null> {
  const gpu = scope.navigator.gpu;
  if (!gpu) return 'this browser offers no WebGPU';
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return 'no WebGPU adapter';
  const info = adapter.info ?? {};
  if (adapter.isFallbackAdapter || info.isFallbackAdapter || /swiftshader/i.test(`${info.vendor} ${info.architecture}`)) return 'WebGPU adapter is software (SwiftShader)';
  return null;
}

async function load(req: LoadRequest): Promise<LoadedModel> {
  if (model && !req.reload) return model.loaded;
  if (loading && !req.reload) return loading;
  const run = async () => {
    if (model) {
      await model.pipeline.dispose();
      model = null;
      image = null;
    }
    const cache = await scope.caches.open(MODEL_CACHE_NAME);
    const got = await loadModelBundle(req.modelUrl, { cache, headers: req.headers, maxBytes: req.maxBytes });
    const threads = scope.crossOriginIsolated ? Math.max(1, Math.min(4, scope.navigator.hardwareConcurrency ?? 1)) : 1;
    const webgpu = req.device === 'auto' ? await webgpuRuledOut() : null;
    const notes: string[] = [];
    const backend = createBackend({
      device: req.device,
      threads,
      wasmPaths: req.wasmPaths,
      ruleOut: (d) => (d === 'webgpu' ? webgpu : null),
      onInfo: (m) => notes.push(m),
      onWarning: (m) => notes.push(m),
    });
    const pipeline = await Vista3dPipeline.create(got.bundle, backend);
    const loaded: LoadedModel = {
      info: describeModel(got.bundle.manifest, { version: 'browser', device: pipeline.device, supportedFormats: [] }),
      fromCache: got.fromCache,
      downloaded: got.downloaded,
      bytes: got.bytes,
      threads,
      deviceNote: notes.join('; '),
    };
    model = { pipeline, loaded };
    return loaded;
  };
  loading = run().finally(() => (loading = null));
  return loading;
}

async function segment(req: SegmentRequest): Promise<SegmentOutcome> {
  if (!model) throw new Error('The model is not loaded in this browser.');
  if (req.volume) image = { key: req.imageKey, volume: req.volume, cache: imageCache() };
  if (!image || image.key !== req.imageKey) throw Object.assign(new Error('the worker does not hold this image'), { needVolume: true });
  const abort = new AbortController();
  running.set(req.id, abort);
  const t0 = performance.now();
  try {
    const result = await model.pipeline.segment(image.volume, req.prompts, {
      signal: abort.signal,
      imageCache: image.cache,
      onProgress: (progress) => scope.postMessage({ type: 'progress', id: req.id, progress }),
    });
    return { region: result.region, device: model.pipeline.device, ms: performance.now() - t0, windows: result.timings.windows };
  } finally {
    running.delete(req.id);
  }
}

/** The per-image state of the image the worker holds: features per window, model-space image, foreground box. */
function imageCache(): ImageCache {
  const features = new Map();
  let pre: ReturnType<NonNullable<ImageCache['preprocessed']>['get']>;
  let fg: ReturnType<NonNullable<ImageCache['foreground']>['get']>;
  return {
    features,
    preprocessed: { get: () => pre, set: (p) => (pre = p) },
    foreground: { get: () => fg, set: (b) => (fg = b) },
  };
}

scope.onmessage = (e) => {
  const req = e.data;
  if (req.type === 'cancel') {
    running.get(req.id)?.abort();
    return;
  }
  const work = req.type === 'load' ? load(req) : segment(req);
  work.then(
    (value) => {
      // copied, not transferred: a region's labels may be a view into state the worker keeps
      scope.postMessage({ type: 'ok', id: req.id, value });
    },
    (err: unknown) => {
      const name = (err as { name?: string })?.name;
      if (name === 'CancelledError' || name === 'AbortError') scope.postMessage({ type: 'cancelled', id: req.id });
      else scope.postMessage({ type: 'error', id: req.id, message: (err as Error)?.message ?? String(err), needVolume: Boolean((err as { needVolume?: boolean })?.needVolume) });
    },
  );
};
