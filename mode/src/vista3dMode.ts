/**
 * The VISTA3D mode instance, built from OHIF's segmentation mode (3.13): the same layout, viewports, hanging
 * protocols (stack, and MPR via `?hangingProtocolId=mpr`), tool groups and toolbar, plus the VISTA3D panel in
 * the right panels (first, so it is the open tab), the prompt tool in the `default` and `mpr` tool groups,
 * its toolbar button and hotkeys. Pure: takes the segmentation mode's instance, returns a new one.
 */

import { COMMANDS, PROMPT_TOOL_NAME } from '@vista3d/models/contract/names';

/** The prompt tool (the extension's Vista3dPromptTool.toolName; also its toolbar button id): the contract's. */
export { PROMPT_TOOL_NAME };
/** MouseBindings.Primary, alone and with KeyboardBindings.Shift / Ctrl (negative points). */
export const PROMPT_TOOL_BINDINGS = [{ mouseButton: 1 }, { mouseButton: 1, modifierKey: 16 }, { mouseButton: 1, modifierKey: 17 }];

/** The extension's command names this mode binds to hotkeys (the contract's COMMANDS). */
export const HOTKEY_COMMANDS = { cancel: COMMANDS.cancel, undoPoint: COMMANDS.undoPoint, clearPoints: COMMANDS.clearPoints } as const;

/**
 * Hotkeys, added to OHIF's on mode enter. Esc and Ctrl+Z stay OHIF's (cancel the current tool operation,
 * undo the last labelmap edit); ours take Alt so that nothing of the viewer's is shadowed.
 */
export const HOTKEYS = [
  { commandName: HOTKEY_COMMANDS.undoPoint, label: 'VISTA3D: undo the last click', keys: ['alt+z'], isEditable: true },
  { commandName: HOTKEY_COMMANDS.clearPoints, label: 'VISTA3D: clear the clicks', keys: ['alt+shift+z'], isEditable: true },
  { commandName: HOTKEY_COMMANDS.cancel, label: 'VISTA3D: cancel the running job', keys: ['alt+c'], isEditable: true },
];

export const PROMPT_TOOL_BUTTON = {
  id: PROMPT_TOOL_NAME,
  uiType: 'ohif.toolButton',
  props: {
    icon: 'icon-tool-click-segment',
    label: 'VISTA3D click',
    tooltip: 'VISTA3D point prompts: click inside the structure, Shift+click outside it',
    commands: [{ commandName: 'setToolActiveToolbar', commandOptions: { toolName: PROMPT_TOOL_NAME, bindings: PROMPT_TOOL_BINDINGS } }],
    evaluate: 'evaluate.cornerstoneTool',
  },
};

/** The tool groups of the segmentation mode that get the prompt tool (passive: it draws its markers). */
export const PROMPT_TOOL_GROUPS = ['default', 'mpr'] as const;

// Only the shape this module reads and writes; the rest of OHIF's mode instance is passed through.
type Fn = (this: any, ...args: any[]) => any;
export interface ModeInstance {
  id: string;
  routeName: string;
  displayName: string;
  routes: { path: string; layoutTemplate: Fn; layoutInstance: { id: string; props: { rightPanels?: string[]; [k: string]: unknown } } }[];
  extensions: Record<string, string>;
  toolbarButtons?: unknown[];
  toolGroupAdditions?: Record<string, unknown[]>;
  onModeEnter?: Fn;
  onModeExit?: Fn;
  [k: string]: unknown;
}

export interface Vista3dModeOptions {
  /** The mode's id (its package name). */
  id: string;
  /** The extension's URL: OHIF imports a mode's `extensions` keys again, so a run-time extension is keyed by URL. */
  extensionUrl: string;
  /** The extension's id, to address its panel. */
  extensionId: string;
  /**
   * The mode-enter to build on; default the segmentation mode's. Pass the basic mode's to leave out the
   * segmentation mode's automatic switch to its own panel when the first segmentation appears (it would hide
   * the VISTA3D panel, its progress and results, as soon as VISTA3D writes its first labelmap).
   */
  baseOnModeEnter?: Fn;
}

export function vista3dModeInstance(segmentation: ModeInstance, { id, extensionUrl, extensionId, baseOnModeEnter }: Vista3dModeOptions): ModeInstance {
  const panelId = `${extensionId}.panelModule.vista3d`;
  const [baseRoute] = segmentation.routes;
  if (!baseRoute) throw new Error('the segmentation mode has no route to extend');
  const layoutInstance = {
    ...baseRoute.layoutInstance,
    props: { ...baseRoute.layoutInstance.props, rightPanels: [panelId, ...(baseRoute.layoutInstance.props.rightPanels ?? []).filter((p) => p !== panelId)] },
  };
  const additions = { ...(segmentation.toolGroupAdditions ?? {}) };
  for (const group of PROMPT_TOOL_GROUPS) additions[group] = [...(additions[group] ?? []), { passive: [{ toolName: PROMPT_TOOL_NAME }] }];
  const baseEnter = baseOnModeEnter ?? segmentation.onModeEnter;

  return {
    ...segmentation,
    id,
    routeName: 'vista3d',
    displayName: 'VISTA3D',
    // VISTA3D is a CT model.
    modeModalities: ['CT'],
    routes: [{ ...baseRoute, path: 'vista3d', layoutInstance }],
    extensions: { ...segmentation.extensions, [extensionUrl]: '^0.1.0' },
    toolbarButtons: [...(segmentation.toolbarButtons ?? []), PROMPT_TOOL_BUTTON],
    toolGroupAdditions: additions,
    // `this` is the mode instance (OHIF calls mode.onModeEnter(...)); the base keeps its unsubscriptions on it.
    onModeEnter(this: unknown, ctx: { servicesManager: { services: Record<string, any> } }) {
      baseEnter?.call(this, ctx);
      const { toolbarService, customizationService } = ctx.servicesManager.services;
      // updateSection appends to the section the base mode registered.
      toolbarService.updateSection(toolbarService.sections?.primary ?? 'primary', [PROMPT_TOOL_NAME]);
      // Read by OHIF right after onModeEnter; the mode scope is reset on every mode enter.
      customizationService.setCustomizations({ 'ohif.hotkeyBindings': { $push: HOTKEYS } });
    },
    // onModeExit stays the base one: OHIF resets the toolbar, the tool groups and the mode-scope customizations.
  };
}
