import { PANEL_NAME } from './id.ts';
import type { CommandsManager } from './ohif.ts';
import { createIsland } from './panels/island.tsx';
import { Vista3dPanel } from './panels/Vista3dPanel.tsx';
import type { Store } from './state/store.ts';

/** The VISTA3D side panel, addressed as `<extension id>.panelModule.vista3d` (its tab button: data-cy="vista3d-btn"). */
export function getPanelModule({ commandsManager, store }: { commandsManager: CommandsManager; store: Store }) {
  const run = (commandName: string, options?: Record<string, unknown>) => commandsManager.runCommand(commandName, options);
  return [
    {
      name: PANEL_NAME,
      iconName: 'icon-tool-click-segment',
      iconLabel: 'VISTA3D',
      label: 'VISTA3D',
      component: createIsland('Vista3dPanel', () => <Vista3dPanel store={store} run={run} />),
    },
  ];
}
