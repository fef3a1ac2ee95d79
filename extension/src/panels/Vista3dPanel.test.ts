import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { createStore, type ServerInfo, type Vista3dState } from '../state/store.ts';
import { Vista3dPanel } from './Vista3dPanel.tsx';

const info: ServerInfo = {
  model: { name: 'VISTA3D', version: '1.0', description: 'test' },
  labels: { liver: 1, kidney: 2, spleen: 3, aorta: 6, 'left kidney': 14, 'lung tumor': 23 },
  label_dictionary: { '1': 'liver', '2': 'kidney', '3': 'spleen', '6': 'aorta', '14': 'left kidney', '23': 'lung tumor' },
  everything: [1, 3, 6, 14],
  subclasses: { '2': [14] },
  no_point_prompts: [2],
  device: 'cuda',
  version: '0',
  supported_formats: [],
  not_processed_value: 255,
  zero_shot_from: 133,
};

/** Renders the panel (server-side, no DOM) for a store state. */
function render(state: Partial<Vista3dState>): string {
  const store = createStore();
  store.set(state);
  return renderToStaticMarkup(createElement(Vista3dPanel, { store, run: () => undefined }));
}
const testIds = (html: string) => [...html.matchAll(/data-testid="([^"]+)"/g)].map((m) => m[1]);
/** The opening tag of the element with that test id. */
const tag = (html: string, id: string) => new RegExp(`<[^>]*data-testid="${id}"[^>]*>`).exec(html)?.[0] ?? '';

describe('the VISTA3D panel', () => {
  it('before the server answers: checking, no label lists, outputs disabled', () => {
    const html = render({});
    assert.match(html, /Checking the VISTA3D server/);
    assert.match(tag(html, 'vista3d-status'), /data-status="unknown"/);
    assert.ok(!testIds(html).includes('vista3d-label-list'));
    assert.match(tag(html, 'vista3d-save'), /disabled/);
    assert.match(tag(html, 'vista3d-download'), /disabled/);
  });

  it('unreachable / loading: says so in plain words, offers a retry', () => {
    const down = render({ server: { status: 'unreachable', error: 'connection refused' } });
    assert.match(down, /cannot be reached/);
    assert.match(down, /connection refused/);
    assert.ok(testIds(down).includes('vista3d-retry'));
    assert.match(render({ server: { status: 'loading' } }), /still loading/);
  });

  it('ready: model name, version and device; grouped labels; presets; Segment disabled until something is checked', () => {
    const html = render({ server: { status: 'ready', info } });
    assert.match(html, /Ready: VISTA3D 1\.0 on cuda/);
    const ids = testIds(html);
    for (const id of ['vista3d-label-search', 'vista3d-preset-abdomen', 'vista3d-preset-chest', 'vista3d-preset-spine', 'vista3d-preset-everything', 'vista3d-group-organs', 'vista3d-group-vessels', 'vista3d-group-lesions', 'vista3d-point-target', 'vista3d-undo-point', 'vista3d-clear-points']) {
      assert.ok(ids.includes(id), id);
    }
    assert.match(tag(html, 'vista3d-segment'), /disabled/);
    // Point targets leave out the labels without point prompts (kidney, 2), offer a new structure.
    assert.ok(!/<option value="2">/.test(html));
    assert.match(html, /<option value="133">New structure \(133\)<\/option>/);
  });

  it('a running job: stage, progress, Cancel; outputs disabled meanwhile', () => {
    const html = render({ server: { status: 'ready', info }, segmentationId: 'seg-1', job: { kind: 'classes', state: 'running', stage: 'sliding window', done: 3, total: 8 } });
    assert.match(html, /Segmenting: sliding window \(3\/8\)/);
    assert.match(tag(html, 'vista3d-progress'), /value="3"/);
    assert.match(tag(html, 'vista3d-progress'), /max="8"/);
    assert.ok(testIds(html).includes('vista3d-cancel'));
    assert.match(tag(html, 'vista3d-save'), /disabled/);
  });

  it('a waiting job says its place in the server\'s queue', () => {
    const at = (queuePosition?: number) => render({ server: { status: 'ready', info }, job: { kind: 'points', state: 'queued', stage: 'queued', done: 0, total: 0, ...(queuePosition ? { queuePosition } : {}) } });
    assert.match(at(3), /waiting: 2 ahead in the queue/);
    assert.match(at(1), /next in the queue/);
    assert.match(at(), /waiting for the server/);
  });

  it('after a job: results can be saved and downloaded; failures and errors are shown', () => {
    const done = render({ server: { status: 'ready', info }, segmentationId: 'seg-1', job: { kind: 'points', state: 'done', stage: '', done: 1, total: 1 }, notice: 'Saved to the PACS.' });
    assert.doesNotMatch(tag(done, 'vista3d-save'), /disabled/);
    assert.ok(!testIds(done).includes('vista3d-cancel'));
    assert.match(done, /Saved to the PACS\./);
    const failed = render({ server: { status: 'ready', info }, job: { kind: 'classes', state: 'failed', stage: '', done: 0, total: 4, error: 'The image is not a CT.' }, error: 'Segmentation failed.' });
    assert.match(failed, /The image is not a CT\./);
    assert.match(tag(failed, 'vista3d-error'), /role="alert"/);
  });

  it('click prompts: the target, the counts', () => {
    const html = render({
      server: { status: 'ready', info },
      pointTarget: 1,
      points: [
        { world: [0, 0, 0], positive: true },
        { world: [1, 0, 0], positive: true },
        { world: [2, 0, 0], positive: false },
      ],
    });
    assert.match(html, /2 inside, 1 outside/);
    assert.match(html, /<option value="1" selected="">liver<\/option>/);
    assert.doesNotMatch(tag(html, 'vista3d-undo-point'), /disabled/);
  });
});
