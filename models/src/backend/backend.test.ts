import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBackend as createNodeBackend } from './onnxNode.ts';
import { createBackend as createWebBackend } from './onnxWeb.ts';
import { deviceCandidates } from './devices.ts';
import { tensor } from './types.ts';
import { exactBundle } from '../../test/support/testBundles.ts';
import { Vista3dPipeline } from '../pipeline/segment.ts';
import type { Volume } from '../geometry/volume.ts';

describe('device table', () => {
  it('lists candidates in fallback order and names the valid devices for an unknown one', () => {
    assert.deepEqual(deviceCandidates('node', 'auto').map((c) => c.device), ['cuda', 'cpu']);
    assert.deepEqual(deviceCandidates('node', 'webgpu').map((c) => c.device), ['webgpu', 'cpu']);
    assert.deepEqual(deviceCandidates('web', 'auto').map((c) => c.device), ['webgpu', 'wasm']);
    assert.throws(() => deviceCandidates('node', 'tpu'), /unknown device "tpu" for the node runtime; valid: auto, cpu, cuda, webgpu/);
    assert.throws(() => deviceCandidates('web', 'cuda'), /valid: auto, wasm, webgpu/);
  });
});

describe('ONNX Runtime backends', () => {
  it('a device that cannot start falls back to the CPU with a clear message', async () => {
    const warnings: string[] = [];
    const b = createNodeBackend({ device: 'cuda', onWarning: (m) => warnings.push(m) });
    const g = await b.loadGraph(exactBundle().graphs.encoder, 'encoder');
    assert.equal(b.device, 'cpu');
    assert.match(warnings[0], /^device cuda could not start \(.+\); using cpu instead$/);
    const out = await g.run({ image: tensor('float32', new Float32Array(512).fill(2), [1, 1, 8, 8, 8]) });
    assert.equal((out.features.data as Float32Array)[511], 2);
    assert.equal(b.stats.runs, 1);
    await g.dispose();
  });

  it('onnxruntime-web (wasm) and onnxruntime-node give the same segmentation', async () => {
    const vol: Volume<Float32Array> = {
      data: Float32Array.from({ length: 10 * 9 * 8 }, (_, i) => [0, 0.1, 0.3, 0.6][i % 4]),
      dims: [10, 9, 8],
      spacing: [1, 1, 1],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      origin: [0, 0, 0],
    };
    const bundle = exactBundle();
    const results = [];
    for (const backend of [createNodeBackend({ device: 'cpu' }), createWebBackend({ device: 'wasm', threads: 1 })]) {
      const p = await Vista3dPipeline.create(bundle, backend);
      results.push((await p.segment(vol, { classes: [1, 3, 6] })).labels.data);
      assert.equal(p.device, backend.device);
      await p.dispose();
    }
    assert.deepEqual(results[0], results[1]);
    assert.deepEqual([...results[0].slice(0, 4)], [0, 1, 3, 6]);
  });
});
