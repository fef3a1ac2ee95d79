import type { Vista3dClient } from '../api/client.ts';
import type { Store } from '../state/store.ts';

/** The parts of Cornerstone3D the commands use (the viewer's own copy, reached at run time). */
export interface CornerstoneLike {
  metaData: { get(type: string, imageId: string): any };
  cache: { getImage(imageId: string): { voxelManager: { getScalarData(): { length: number; [i: number]: number }; setScalarData?(d: unknown): void } } | undefined };
  triggerSegmentationDataModified(segmentationId: string): void;
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
  /** The running job, if any: cancel() stops it; `stop` ends the viewer's watch of it (a newer job supersedes it). */
  running: { id: string | null; cancelled: boolean; stop?: () => void };
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
  const info = ctx.store.get().server.info;
  if (!info) throw new Error('The VISTA3D server is not ready.');
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
