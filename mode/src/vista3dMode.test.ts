import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mode, { EXTENSION_URL } from './index.ts';
import { HOTKEYS, PROMPT_TOOL_BUTTON, PROMPT_TOOL_NAME, vista3dModeInstance, type ModeInstance } from './vista3dMode.ts';

/** The parts of OHIF 3.13's segmentation mode instance that the VISTA3D mode builds on. */
function segmentationMode(calls: string[]): ModeInstance {
  return {
    id: '@ohif/mode-segmentation',
    routeName: 'segmentation',
    displayName: 'Segmentation',
    routes: [
      {
        path: 'template',
        layoutTemplate() {
          return this.layoutInstance;
        },
        layoutInstance: { id: 'viewerLayout', props: { leftPanels: ['thumbnails'], rightPanels: ['labelmapPanel', 'contourPanel'], viewports: [] } },
      },
    ],
    extensions: { '@ohif/extension-default': '^3.0.0' },
    toolbarButtons: [{ $reference: 'cornerstone.toolbarButtons' }],
    toolGroupAdditions: { default: [], mpr: [], volume3d: [] },
    hangingProtocol: ['@ohif/mnGrid'],
    onModeEnter(this: { _unsubscriptions?: unknown[] }) {
      calls.push('segmentation enter');
      this._unsubscriptions = [];
    },
    onModeExit() {
      calls.push('segmentation exit');
    },
  };
}

const opts = { id: '@vista3d/mode', extensionUrl: 'http://host/plugins/vista3d-extension.mjs', extensionId: '@vista3d/extension' };

describe('the VISTA3D mode instance', () => {
  it('route /vista3d, CT only, the segmentation mode otherwise', () => {
    const m = vista3dModeInstance(segmentationMode([]), opts);
    assert.equal(m.id, '@vista3d/mode');
    assert.equal(m.routeName, 'vista3d');
    assert.equal(m.routes[0].path, 'vista3d');
    assert.deepEqual(m.modeModalities, ['CT']);
    assert.deepEqual(m.hangingProtocol, ['@ohif/mnGrid']);
  });

  it('keys the run-time extension by its URL (OHIF imports the keys), keeping the others', () => {
    const m = vista3dModeInstance(segmentationMode([]), opts);
    assert.deepEqual(Object.keys(m.extensions), ['@ohif/extension-default', opts.extensionUrl]);
  });

  it('puts the VISTA3D panel first in the right panels, beside the segmentation panels', () => {
    const base = segmentationMode([]);
    const m = vista3dModeInstance(base, opts);
    assert.deepEqual(m.routes[0].layoutInstance.props.rightPanels, ['@vista3d/extension.panelModule.vista3d', 'labelmapPanel', 'contourPanel']);
    assert.deepEqual(base.routes[0].layoutInstance.props.rightPanels, ['labelmapPanel', 'contourPanel'], 'the base is not modified');
    assert.equal(m.routes[0].layoutTemplate.call(m.routes[0]), m.routes[0].layoutInstance, 'layoutTemplate reads the new layout');
  });

  it('adds the prompt tool (passive) to the default and mpr tool groups, and its toolbar button', () => {
    const m = vista3dModeInstance(segmentationMode([]), opts);
    assert.deepEqual(m.toolGroupAdditions, { default: [{ passive: [{ toolName: PROMPT_TOOL_NAME }] }], mpr: [{ passive: [{ toolName: PROMPT_TOOL_NAME }] }], volume3d: [] });
    assert.deepEqual(m.toolbarButtons, [{ $reference: 'cornerstone.toolbarButtons' }, PROMPT_TOOL_BUTTON]);
    assert.equal(PROMPT_TOOL_BUTTON.id, PROMPT_TOOL_NAME);
  });

  it('on enter: the base enter (with the mode as this), then the button in the primary bar and the hotkeys', () => {
    const calls: string[] = [];
    const m = vista3dModeInstance(segmentationMode(calls), opts);
    const services = {
      toolbarService: { sections: { primary: 'primary' }, updateSection: (k: string, ids: string[]) => calls.push(`section ${k} ${ids}`) },
      customizationService: { setCustomizations: (c: object) => calls.push(`customize ${JSON.stringify(c)}`) },
    };
    m.onModeEnter!.call(m, { servicesManager: { services } });
    assert.deepEqual(calls, ['segmentation enter', `section primary ${PROMPT_TOOL_NAME}`, `customize ${JSON.stringify({ 'ohif.hotkeyBindings': { $push: HOTKEYS } })}`]);
    assert.deepEqual((m as { _unsubscriptions?: unknown[] })._unsubscriptions, []);
    m.onModeExit!.call(m, {});
    assert.equal(calls.at(-1), 'segmentation exit');
  });

  it('builds on another enter when given one (the basic mode\'s: no switch away from our panel)', () => {
    const calls: string[] = [];
    const m = vista3dModeInstance(segmentationMode(calls), { ...opts, baseOnModeEnter: () => calls.push('basic enter') });
    m.onModeEnter!.call(m, { servicesManager: { services: { toolbarService: { updateSection() {} }, customizationService: { setCustomizations() {} } } } });
    assert.deepEqual(calls, ['basic enter']);
  });

  it('hotkeys do not take keys OHIF already binds (Esc, Ctrl+Z, Ctrl+Y)', () => {
    const keys = HOTKEYS.flatMap((h) => h.keys);
    for (const k of ['esc', 'ctrl+z', 'ctrl+y']) assert.ok(!keys.includes(k), k);
  });
});

describe('the mode module', () => {
  it('exports { id, modeFactory }; the factory extends @ohif/mode-segmentation with the extension beside it', async () => {
    assert.equal(mode.id, '@vista3d/mode');
    assert.match(EXTENSION_URL, /\/vista3d-extension\.mjs$/);
    const calls: string[] = [];
    const seg = { modeInstance: segmentationMode(calls), modeFactory(this: { modeInstance: ModeInstance }) { return this.modeInstance; } };
    const basic = { modeInstance: { onModeEnter: () => calls.push('basic enter') } };
    const requested: string[][] = [];
    const m = await mode.modeFactory({
      loadModules: async (names: string[]) => {
        requested.push(names);
        return [seg, basic, { id: '@vista3d/extension' }];
      },
    });
    assert.deepEqual(requested, [['@ohif/mode-segmentation', '@ohif/mode-basic', EXTENSION_URL]]);
    assert.ok(Object.keys(m.extensions).includes(EXTENSION_URL));
    assert.equal(m.routes[0].layoutInstance.props.rightPanels?.[0], '@vista3d/extension.panelModule.vista3d');
    m.onModeEnter!.call(m, { servicesManager: { services: { toolbarService: { updateSection() {} }, customizationService: { setCustomizations() {} } } } });
    assert.deepEqual(calls, ['basic enter']);
  });
});
