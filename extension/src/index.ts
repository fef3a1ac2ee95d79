/** The VISTA3D OHIF extension: wiring only (the modules live in their own files). */
import { getCommandsModule } from './commands/index.ts';
import { getPanelModule } from './getPanelModule.tsx';
import { id } from './id.ts';
import { enterMode } from './lifecycle.ts';
import type { ExtensionParams } from './ohif.ts';
import { createStore, type Store } from './state/store.ts';
import { registerPromptTool } from './tools/registerPromptTool.ts';

let store: Store | undefined;
let exitMode: (() => void) | undefined;
const theStore = () => (store ??= createStore());

const extension = {
  id,
  preRegistration({ servicesManager, commandsManager }: ExtensionParams) {
    registerPromptTool({ servicesManager, commandsManager, store: theStore() });
  },
  getPanelModule: ({ commandsManager }: ExtensionParams) => getPanelModule({ commandsManager, store: theStore() }),
  getCommandsModule: ({ servicesManager, commandsManager, extensionManager }: ExtensionParams) =>
    getCommandsModule({ servicesManager, commandsManager, extensionManager, store: theStore() }),
  onModeEnter({ servicesManager, commandsManager }: ExtensionParams) {
    exitMode?.();
    exitMode = enterMode({ servicesManager, commandsManager, store: theStore() });
  },
  onModeExit() {
    exitMode?.();
    exitMode = undefined;
  },
};

export default extension;
