import { COMMANDS } from './commands/names.ts';
import type { CommandsManager, ServicesManager } from './ohif.ts';
import type { Store, Vista3dState } from './state/store.ts';
import { registerPromptTool } from './tools/registerPromptTool.ts';

/** How often the server is asked again while it is not ready (ms). */
export const SERVER_POLL_MS = 5000;

export interface LifecycleDeps {
  servicesManager: ServicesManager;
  commandsManager: CommandsManager;
  store: Store;
}

/** The viewport grid's events after which the active viewport may show another series. */
const GRID_EVENTS = ['ACTIVE_VIEWPORT_ID_CHANGED', 'GRID_STATE_CHANGED', 'VIEWPORTS_READY'] as const;

/**
 * What the extension sets up when a mode using it opens, and takes down when it closes: the server status
 * (asked now, then every SERVER_POLL_MS until ready), the redraw of the prompt markers when the points change, and
 * the server's prepare of each series the active viewport shows (when the grid changes, and once the server is
 * ready; the command asks once per series and never blocks). `enter` returns the matching `exit`.
 */
export function enterMode({ servicesManager, commandsManager, store }: LifecycleDeps): () => void {
  registerPromptTool({ servicesManager, commandsManager, store });
  const refresh = () => commandsManager.runCommand(COMMANDS.refreshServer);
  refresh();
  const poll = setInterval(() => {
    if (store.get().server.status !== 'ready') refresh();
  }, SERVER_POLL_MS);

  const prepare = () => void commandsManager.runCommand(COMMANDS.prepareSeries);
  const grid = servicesManager.services.viewportGridService;
  const gridSubscriptions: { unsubscribe(): void }[] = [];
  for (const name of GRID_EVENTS) {
    const event = grid?.EVENTS?.[name];
    if (event) gridSubscriptions.push(grid.subscribe(event, prepare));
  }

  let last: Pick<Vista3dState, 'points' | 'pointTarget' | 'segmentationId' | 'server'> = store.get();
  const unsubscribe = store.subscribe((s) => {
    const becameReady = s.server.status === 'ready' && last.server.status !== 'ready';
    const markers = s.points !== last.points || s.pointTarget !== last.pointTarget || s.segmentationId !== last.segmentationId;
    last = s;
    if (markers) redrawMarkers(servicesManager);
    if (becameReady) prepare();
  });
  prepare();

  return () => {
    clearInterval(poll);
    for (const sub of gridSubscriptions) sub.unsubscribe();
    unsubscribe();
    store.reset();
  };
}

function redrawMarkers(servicesManager: ServicesManager) {
  const ids: string[] | undefined = servicesManager.services.cornerstoneViewportService?.getViewportIds?.();
  if (ids?.length) window.cornerstoneTools?.utilities.triggerAnnotationRenderForViewportIds(ids);
}
