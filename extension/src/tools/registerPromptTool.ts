import type { ServicesManager, CommandsManager } from '../ohif.ts';
import type { Store } from '../state/store.ts';
import { createPromptToolClass } from './Vista3dPromptTool.ts';

/**
 * Registers the prompt tool with the viewer's Cornerstone3D (`window.cornerstoneTools`, set once OHIF's cornerstone
 * extension has loaded). Idempotent (Cornerstone's addTool ignores a name it knows); false while the viewer's
 * Cornerstone3D is not there yet.
 */
export function registerPromptTool({ servicesManager, commandsManager, store }: { servicesManager: ServicesManager; commandsManager: CommandsManager; store: Store }): boolean {
  const cst = typeof window === 'undefined' ? undefined : window.cornerstoneTools;
  if (!cst?.BaseTool) return false;
  const Tool = createPromptToolClass(cst, {
    getState: store.get,
    runCommand: (name, options) => commandsManager.runCommand(name, options),
    labelColor: (viewportId, label) => {
      const { segmentationId } = store.get();
      if (!segmentationId) return undefined;
      try {
        const c = servicesManager.services.segmentationService?.getSegmentColor?.(viewportId, segmentationId, label);
        return Array.isArray(c) ? `rgb(${c[0]}, ${c[1]}, ${c[2]})` : undefined;
      } catch {
        return undefined; // no such segment (yet)
      }
    },
  });
  cst.addTool(Tool);
  return true;
}
