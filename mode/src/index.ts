/**
 * The VISTA3D OHIF mode (3.13 shape: `{ id, modeFactory }`), served as an ES module beside the extension
 * (/plugins/vista3d-mode.mjs next to /plugins/vista3d-extension.mjs). Route: /vista3d?StudyInstanceUIDs=…
 */
import { PLUGIN_FILES } from '@vista3d/models/contract/names';
import { id } from './id.ts';
import { vista3dModeInstance, type ModeInstance } from './vista3dMode.ts';

/** The extension sits beside this file; OHIF imports a mode's `extensions` keys, so the key is this URL. */
export const EXTENSION_URL = new URL(`./${PLUGIN_FILES.extension}`, import.meta.url).href;

interface LoadedMode {
  modeFactory?: (this: LoadedMode, args: { modeConfiguration?: unknown; loadModules: LoadModules }) => ModeInstance | Promise<ModeInstance>;
  modeInstance?: ModeInstance;
}
type LoadModules = (modules: string[]) => Promise<any[]>;

async function modeFactory({ loadModules }: { modeConfiguration?: unknown; loadModules: LoadModules }): Promise<ModeInstance> {
  const [segmentation, basic, extension] = (await loadModules(['@ohif/mode-segmentation', '@ohif/mode-basic', EXTENSION_URL])) as [LoadedMode, LoadedMode, { id: string }];
  const base = segmentation.modeFactory ? await segmentation.modeFactory.call(segmentation, { loadModules }) : segmentation.modeInstance;
  if (!base) throw new Error('@ohif/mode-segmentation did not load');
  // The basic mode's enter: the segmentation mode's minus its automatic switch away from our panel.
  return vista3dModeInstance(base, { id, extensionUrl: EXTENSION_URL, extensionId: extension.id, baseOnModeEnter: basic?.modeInstance?.onModeEnter });
}

export default { id, modeFactory };
