import type { Vista3dClient } from '../api/client.ts';
import type { LocalRunner } from '../local/localRunner.ts';
import type { CachedImage } from '../local/seriesVolume.ts';
import { modelInfo, type Store } from '../state/store.ts';

/** The parts of Cornerstone3D the commands use (the viewer's own copy, reached at run time). */
export interface CornerstoneLike {
  metaData: { get(type: string, imageId: string): any };
  cache: { getImage(imageId: string): { voxelManager: { getScalarData(): { length: number; [i: number]: number }; setScalarData?(d: unknown): void } } | undefined };
  triggerSegmentationDataModified(segmentationId: string): void;
  /** A source image from the viewer's cache, loaded through its image loader when not there (browser runs). */
  loadImage?(imageId: string): Promise<CachedImage>;
}

/** How this viewer runs VISTA3D itself (window.config.vista3d, with defaults). */
export interface BrowserRunConfig {
  /** The model bundle folder (ends in /): the server's MODEL_FILES_PATH, or any static URL. */
  modelUrl: string;
  /** A model larger than this (bytes, graphs together) is refused. */
  maxModelBytes: number;
  /** onnxruntime-web's wasm files (the server's ORT_WASM_PATH). */
  wasmPaths: string;
  /** "auto" (WebGPU on a hardware adapter, else WebAssembly), "webgpu" or "wasm". */
  device: string;
}

/** What every command runs against: OHIF's services, the store, the server client. Tests pass stubs. */
export interface CommandContext {
  store: Store;
  api: Vista3dClient;
  services: Record<string, any>;
  cs: () => CornerstoneLike;
  runCommand: (name: string, args?: Record<string, unknown>) => unknown;
  /** The series URL the server fetches over DICOMweb for a display set. */
  imageUrlFor(displaySet: DisplaySetLike): string;
  /** Waits between polls of a running job when its event stream fails (injectable for tests). */
  sleep(ms: number): Promise<void>;
  /**
   * The running job, if any: cancel() stops it; `stop` ends the viewer's watch of it (a newer job supersedes it);
   * `cancel`, for a run in this browser, stops it in the worker (a server job is cancelled through the API).
   */
  running: { id: string | null; cancelled: boolean; stop?: () => void; cancel?: () => void };
  /** The in-browser inference worker's client. */
  local: LocalRunner;
  browser: BrowserRunConfig;
  /** Milliseconds since an arbitrary origin (performance.now; injectable for tests). */
  now(): number;
  /** Series the server was asked to prepare, and when (ms since the epoch): asked once per series. */
  prepared: Map<string, number>;
  /** Quiet messages (the browser console): what the user need not see. */
  log(message: string): void;
}

export interface DisplaySetLike {
  displaySetInstanceUID: string;
  StudyInstanceUID: string;
  SeriesInstanceUID: string;
  Modality?: string;
  imageIds: string[];
}

/** The display set of the active viewport that VISTA3D can segment (an image series, not a SEG/SR). */
export function activeImageDisplaySet(ctx: CommandContext): DisplaySetLike {
  const { viewportGridService, displaySetService } = ctx.services;
  const grid = viewportGridService.getState();
  const viewport = grid.viewports.get(grid.activeViewportId);
  for (const uid of viewport?.displaySetInstanceUIDs ?? []) {
    const ds = displaySetService.getDisplaySetByUID(uid) as DisplaySetLike | undefined;
    if (ds && ds.imageIds?.length && !['SEG', 'SR', 'RTSTRUCT'].includes(ds.Modality ?? '')) return ds;
  }
  throw new Error('Open a CT series in the active viewport first.');
}

/** Label names and indices as the server's model knows them. */
export function resolveLabelIds(ctx: CommandContext, classes: readonly (string | number)[] | undefined): Set<number> {
  const info = modelInfo(ctx.store.get());
  if (!info) throw new Error('The VISTA3D server is not ready, and no model is loaded in this browser.');
  // group names (kidney, lung, bone) are in the dictionary but not among the segmentable labels
  const byName = new Map<string, number>([
    ...Object.entries(info.label_dictionary).map(([i, n]) => [n.toLowerCase(), Number(i)] as [string, number]),
    ...Object.entries(info.labels).map(([n, i]) => [n.toLowerCase(), i] as [string, number]),
  ]);
  const ids = new Set<number>();
  for (const c of classes ?? info.everything) {
    const id = typeof c === 'number' ? c : byName.get(c.toLowerCase()) ?? Number(c);
    for (const m of info.subclasses[String(id)] ?? [id]) if (Number.isInteger(m)) ids.add(m);
  }
  return ids;
}
