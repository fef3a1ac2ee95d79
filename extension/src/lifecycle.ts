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

/**
 * What the extension sets up when a mode using it opens, and takes down when it closes: the server status
 * (asked now, then every SERVER_POLL_MS until ready), and the redraw of the prompt markers when the points change.
 * `enter` returns the matching `exit`.
 */
export function enterMode({ servicesManager, commandsManager, store }: LifecycleDeps): () => void {
  registerPromptTool({ servicesManager, commandsManager, store });
  const refresh = () => commandsManager.runCommand(COMMANDS.refreshServer);
  refresh();
  const poll = setInterval(() => {
    if (store.get().server.status !== 'ready') refresh();
  }, SERVER_POLL_MS);

  let last: Pick<Vista3dState, 'points' | 'pointTarget' | 'segmentationId'> = store.get();
  const unsubscribe = store.subscribe((s) => {
    if (s.points === last.points && s.pointTarget === last.pointTarget && s.segmentationId === last.segmentationId) return;
    last = s;
    redrawMarkers(servicesManager);
  });

  return () => {
    clearInterval(poll);
    unsubscribe();
    store.reset();
  };
}

function redrawMarkers(servicesManager: ServicesManager) {
  const ids: string[] | undefined = servicesManager.services.cornerstoneViewportService?.getViewportIds?.();
  if (ids?.length) window.cornerstoneTools?.utilities.triggerAnnotationRenderForViewportIds(ids);
}
