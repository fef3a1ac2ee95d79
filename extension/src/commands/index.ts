import { MODEL_FILES_PATH, ORT_WASM_PATH, PLUGIN_FILES } from '@vista3d/models';
import { Vista3dClient } from '../api/client.ts';
import { LocalRunner, type WorkerLike } from '../local/localRunner.ts';
import { DEFAULT_MAX_BROWSER_MODEL_BYTES } from '../local/modelStore.ts';
import type { Store } from '../state/store.ts';
import { applyResult } from './applyResult.ts';
import { loadBrowserModel, setRunTarget } from './browserRun.ts';
import type { BrowserRunConfig, CommandContext, CornerstoneLike, DisplaySetLike } from './context.ts';
import { COMMANDS } from './names.ts';
import { addPoint, clearPoints, setPointTarget, undoPoint } from './points.ts';
import { prepareSeries } from './prepareSeries.ts';
import { downloadSegmentation, saveSegmentation } from './saveSegmentation.ts';
import { selectSegmentAt } from './selectSegmentAt.ts';
import { segmentClasses } from './segmentClasses.ts';
import { cancel, refreshServer } from './server.ts';

export interface CommandsModuleDeps {
  servicesManager: unknown;
  commandsManager: unknown;
  extensionManager: unknown;
  store: Store;
  /** Overrides for tests and other hosts. */
  context?: Partial<CommandContext>;
}

/** Cornerstone3D as the viewer exposes it on window (its own copy; never imported into the plugin). */
function viewerCornerstone(): CornerstoneLike {
  const w = window as unknown as { cornerstone: any; cornerstoneTools: any };
  return {
    metaData: w.cornerstone.metaData,
    cache: w.cornerstone.cache,
    triggerSegmentationDataModified: (id) => w.cornerstoneTools.segmentation.triggerSegmentationEvents.triggerSegmentationDataModified(id),
    loadImage: (imageId) => w.cornerstone.imageLoader.loadAndCacheImage(imageId),
  };
}

/**
 * In-browser inference settings from the app config (`window.config.vista3d`: `browserModelUrl`,
 * `maxBrowserModelBytes`, `browserDevice`), with defaults: the server's own bundle, 512 MiB, auto.
 */
export function browserRunConfig(appConfig: { vista3d?: Record<string, unknown> } | undefined): BrowserRunConfig {
  const c = appConfig?.vista3d ?? {};
  return {
    modelUrl: typeof c.browserModelUrl === 'string' ? c.browserModelUrl : MODEL_FILES_PATH,
    maxModelBytes: typeof c.maxBrowserModelBytes === 'number' ? c.maxBrowserModelBytes : DEFAULT_MAX_BROWSER_MODEL_BYTES,
    wasmPaths: ORT_WASM_PATH,
    device: typeof c.browserDevice === 'string' ? c.browserDevice : 'auto',
  };
}

/** The inference worker, beside the extension's own file (a module worker, same origin). */
function startWorker(): WorkerLike {
  return new Worker(new URL(`./${PLUGIN_FILES.worker}`, import.meta.url), { type: 'module', name: 'vista3d-inference' }) as unknown as WorkerLike;
}

/**
 * The series as the server fetches it: a path under its own DICOMweb root (the proxy to the configured PACS, or
 * the embedded store), which the server resolves internally whatever host name the browser used.
 */
function seriesUrl(ds: DisplaySetLike): string {
  return `/dicomweb/studies/${ds.StudyInstanceUID}/series/${ds.SeriesInstanceUID}`;
}

export function getCommandsModule(deps: CommandsModuleDeps) {
  const { servicesManager, commandsManager, extensionManager, store } = deps;
  const services = (servicesManager as { services: Record<string, any> }).services;
  const ctx: CommandContext = {
    store,
    // with OHIF's oidc login, its userAuthenticationService holds the bearer token the server checks
    api: new Vista3dClient('/v1', undefined, () => services.userAuthenticationService?.getAuthorizationHeader?.()),
    services,
    cs: viewerCornerstone,
    runCommand: (name, args) => (commandsManager as { runCommand(n: string, a?: unknown): unknown }).runCommand(name, args),
    imageUrlFor: seriesUrl,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    running: { id: null, cancelled: false },
    prepared: new Map(),
    local: new LocalRunner(startWorker),
    browser: browserRunConfig((globalThis as { config?: { vista3d?: Record<string, unknown> } }).config),
    now: () => performance.now(),
    log: (message) => console.info(message),
    ...deps.context,
  };
  /** Every action reports its failure in the panel in plain words instead of throwing into OHIF. */
  const guarded =
    <A,>(fn: (ctx: CommandContext, args: A) => unknown) =>
    async (args: A) => {
      try {
        return await fn(ctx, args);
      } catch (e) {
        const job = store.get().job;
        store.set({ error: (e as Error).message ?? String(e), job: job && (job.state === 'queued' || job.state === 'running') ? { ...job, state: 'failed' } : job });
        return undefined;
      }
    };
  const actions = {
    [COMMANDS.refreshServer]: guarded(refreshServer),
    [COMMANDS.segmentClasses]: guarded(segmentClasses),
    [COMMANDS.cancel]: guarded(cancel),
    [COMMANDS.setPointTarget]: guarded(setPointTarget),
    [COMMANDS.addPoint]: guarded(addPoint),
    [COMMANDS.undoPoint]: guarded(undoPoint),
    [COMMANDS.clearPoints]: guarded(clearPoints),
    [COMMANDS.selectSegmentAt]: guarded(selectSegmentAt),
    [COMMANDS.saveSegmentation]: guarded((c) => saveSegmentation(c, extensionManager as Parameters<typeof saveSegmentation>[1])),
    [COMMANDS.downloadSegmentation]: guarded(downloadSegmentation),
    [COMMANDS.prepareSeries]: guarded(prepareSeries),
    [COMMANDS.setRunTarget]: guarded(setRunTarget),
    [COMMANDS.loadBrowserModel]: guarded(loadBrowserModel),
  };
  const definitions = Object.fromEntries(Object.entries(actions).map(([name, commandFn]) => [name, { commandFn }]));
  return { actions, definitions, defaultContext: 'VIEWER', context: ctx };
}

export { applyResult };
