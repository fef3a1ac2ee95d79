import { regionSubVolume, type Prompts } from '@vista3d/models';
import type { InferenceBody, RegionResult } from '../api/client.ts';
import { planeFromMeta, seriesGeometry } from '../geometry/planes.ts';
import { LocalCancelled } from '../local/localRunner.ts';
import { formatBytes } from '../local/modelStore.ts';
import type { SegmentOutcome } from '../local/protocol.ts';
import { seriesVolume } from '../local/seriesVolume.ts';
import { RUN_TARGETS, type JobState, type RunTarget } from '../state/store.ts';
import type { CommandContext, DisplaySetLike } from './context.ts';
import { runJob } from './runJob.ts';
import { refreshServer } from './server.ts';

/** The device names of the web runtime as the panel says them. */
export const DEVICE_NAMES: Record<string, string> = { wasm: 'WebAssembly', webgpu: 'WebGPU' };

export function setRunTarget(ctx: CommandContext, { target }: { target: RunTarget }): void {
  if (!RUN_TARGETS.includes(target)) throw new Error(`Unknown place to run VISTA3D: ${JSON.stringify(target)}; one of ${RUN_TARGETS.join(', ')}.`);
  ctx.store.set({ runTarget: target, error: null });
  // the model is loaded ahead of the first prompt, so that the first click does not wait for it
  if (target === 'browser') void loadBrowserModel(ctx, {}).catch(() => undefined);
}

/**
 * Loads the model into this browser's inference worker (once; `reload` drops it and loads again): model.json from
 * the configured URL (the cached copy when the server is unreachable), each graph from Cache Storage when intact
 * there, else downloaded and checked against model.json's SHA-256. The outcome, or the refusal (a model too large,
 * with its size), goes into the store; the error is also thrown to the caller.
 */
export async function loadBrowserModel(ctx: CommandContext, { reload = false }: { reload?: boolean }): Promise<void> {
  const { store, browser } = ctx;
  if (store.get().browserModel.status === 'ready' && !reload) return;
  store.set({ browserModel: { ...store.get().browserModel, status: 'loading', error: undefined } });
  try {
    const loaded = await ctx.local.load({
      modelUrl: new URL(browser.modelUrl, location.href).href,
      headers: ctx.services.userAuthenticationService?.getAuthorizationHeader?.() ?? {},
      maxBytes: browser.maxModelBytes,
      wasmPaths: new URL(browser.wasmPaths, location.href).href,
      device: browser.device,
      reload,
    });
    const files = [loaded.fromCache.length ? `${loaded.fromCache.length} files from this browser's cache` : '', loaded.downloaded.length ? `${loaded.downloaded.length} downloaded and checked` : ''].filter(Boolean).join(', ');
    const device = DEVICE_NAMES[loaded.info.device] ?? loaded.info.device;
    store.set({ browserModel: { status: 'ready', info: loaded.info, note: `${formatBytes(loaded.bytes)} (${files}); ${device}${loaded.info.device === 'wasm' ? `, ${loaded.threads} thread${loaded.threads === 1 ? '' : 's'}` : ''}` } });
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    store.set({ browserModel: { status: 'failed', error: message } });
    throw new Error(message);
  }
}

/**
 * Runs a prompt where the user chose: on the server (a job), in this browser (the worker), or — Auto — on the
 * server when it answers ready now, else here. Records where it ran, on which device, and how long it took
 * (start to result). Returns the result region, or null when cancelled or superseded.
 */
export async function runPrompt(ctx: CommandContext, kind: JobState['kind'], ds: DisplaySetLike, body: InferenceBody, prompts: Prompts): Promise<RegionResult | null> {
  let where = ctx.store.get().runTarget;
  if (where === 'auto') {
    await refreshServer(ctx);
    where = ctx.store.get().server.status === 'ready' ? 'server' : 'browser';
  }
  const t0 = ctx.now();
  if (where === 'server') {
    const result = await runJob(ctx, kind, body);
    if (result) ctx.store.set({ lastRun: { kind, where: 'server', device: ctx.store.get().server.info?.device ?? 'unknown', ms: ctx.now() - t0 } });
    return result;
  }
  const out = await runInBrowser(ctx, kind, ds, prompts);
  if (!out) return null;
  ctx.store.set({ lastRun: { kind, where: 'browser', device: out.outcome.device, ms: ctx.now() - t0 } });
  return out.result;
}

/**
 * A prompt in this browser's worker on the displayed series' voxels (no download; the geometry the server would
 * use), followed into the store like a server job (stage, windows done / total; cancel); its region becomes the
 * same RegionResult a server job gives, so one code path writes either into the labelmap.
 */
async function runInBrowser(ctx: CommandContext, kind: JobState['kind'], ds: DisplaySetLike, prompts: Prompts): Promise<{ result: RegionResult; outcome: SegmentOutcome } | null> {
  const { store } = ctx;
  ctx.running.stop?.();
  store.set({ job: { kind, state: 'running', stage: 'loading the model', done: 0, total: 0 }, error: null, notice: null });
  await loadBrowserModel(ctx, {});
  const cs = ctx.cs();
  const geometry = seriesGeometry(ds.imageIds.map((id) => planeFromMeta(id, cs.metaData.get('imagePlaneModule', id))));
  const token = `browser:${Math.random().toString(36).slice(2)}`;
  let runId: number | null = null;
  let superseded = false;
  ctx.running.id = token;
  ctx.running.cancelled = false;
  ctx.running.cancel = () => runId !== null && ctx.local.cancel(runId);
  ctx.running.stop = () => {
    superseded = true;
    if (runId !== null) ctx.local.cancel(runId);
  };
  const current = () => ctx.running.id === token && !superseded;
  try {
    const outcome = await ctx.local.segment(
      `${ds.displaySetInstanceUID}:${ds.imageIds.length}`,
      () => {
        if (current()) store.set({ job: { kind, state: 'running', stage: 'reading the series', done: 0, total: 0 } });
        return seriesVolume({ metaData: cs.metaData, image: (id) => imageOf(ctx, id) }, ds);
      },
      prompts,
      (p) => current() && store.set({ job: { kind, state: 'running', stage: p.stage, done: p.done, total: p.total } }),
      (id) => (runId = id),
    );
    if (!current()) return null;
    const total = store.get().job?.total ?? 0;
    store.set({ job: { kind, state: 'running', stage: 'writing', done: total, total } });
    const result: RegionResult = { labels: regionSubVolume(outcome.region, geometry), lo: outcome.region.lo, hi: outcome.region.hi, outside: outcome.region.outside };
    return { result, outcome };
  } catch (e) {
    if (e instanceof LocalCancelled) {
      if (current()) store.set({ job: { kind, state: 'cancelled', stage: 'cancelled', done: 0, total: 0 }, notice: 'Cancelled.' });
      return null;
    }
    throw e;
  } finally {
    if (ctx.running.id === token) {
      ctx.running.id = null;
      ctx.running.stop = undefined;
      ctx.running.cancel = undefined;
    }
  }
}

async function imageOf(ctx: CommandContext, imageId: string) {
  const cs = ctx.cs();
  const cached = cs.cache.getImage(imageId) as unknown as import('../local/seriesVolume.ts').CachedImage | undefined;
  if (cached) return cached;
  if (!cs.loadImage) throw new Error(`Image ${imageId} is not loaded in the viewer yet; scroll through the series once, or run on the server.`);
  return cs.loadImage(imageId);
}
