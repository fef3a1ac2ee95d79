import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createBackend as createNodeBackend, probeNodeDevice, probeOn } from './onnxNode.ts';
import { createBackend as createWebBackend } from './onnxWeb.ts';
import { deviceCandidates } from './devices.ts';
import { createOrtBackend, type OrtModule } from './ortAdapter.ts';
import * as ortNode from 'onnxruntime-node';
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

  it('a device that starts but cannot run a graph moves every graph to the CPU, the failed run included', async () => {
    // onnxruntime-node's WebGPU provider accepts 3-D ConvTranspose at load and fails when it runs (seen on an H200)
    const real = ortNode as unknown as OrtModule;
    const created: string[] = [];
    const fake: OrtModule = {
      Tensor: real.Tensor,
      InferenceSession: {
        async create(bytes, opts) {
          const provider = String(opts?.executionProviders?.[0]);
          created.push(provider);
          const s = await real.InferenceSession.create(bytes, { ...opts, executionProviders: ['cpu'] });
          if (provider === 'webgpu') s.run = async () => Promise.reject(new Error('Only Conv2d or Conv1d are supported.\nmore'));
          return s;
        },
      },
    };
    const warnings: string[] = [];
    const b = createOrtBackend(fake, 'node', { device: 'webgpu', onWarning: (m) => warnings.push(m) });
    const bundle = exactBundle();
    const encoder = await b.loadGraph(bundle.graphs.encoder, 'encoder');
    const head = await b.loadGraph(bundle.graphs.classHead, 'classHead');
    assert.equal(b.device, 'webgpu');
    const out = await encoder.run({ image: tensor('float32', new Float32Array(512).fill(0.3), [1, 1, 8, 8, 8]) });
    assert.equal((out.features.data as Float32Array)[0], Math.fround(0.3));
    assert.equal(b.device, 'cpu');
    assert.deepEqual(warnings, ['device webgpu failed running graph encoder (Only Conv2d or Conv1d are supported.); using cpu from now on']);
    const logits = await head.run({ features: out.features, class_vector: tensor('int64', [3], [1, 1]) });
    assert.ok(Math.abs((logits.logits.data as Float32Array)[0] - 0.05) < 1e-6, 'intensity 0.3 is class 3');
    const late = await b.loadGraph(bundle.graphs.pointHead, 'pointHead');
    assert.deepEqual(created, ['webgpu', 'webgpu', 'cpu', 'cpu', 'cpu'], 'two graphs on webgpu, each re-created on cpu, the next one straight on cpu');
    assert.equal(warnings.length, 1);
    await Promise.all([encoder, head, late].map((g) => g.dispose()));
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

describe('choosing the device quietly', () => {
  /** An ORT whose cuda sessions fail (when `cudaWorks` is false); every other provider runs on the real CPU. */
  function fakeOrt(cudaWorks: boolean, created: string[]): OrtModule {
    const real = ortNode as unknown as OrtModule;
    return {
      Tensor: real.Tensor,
      InferenceSession: {
        async create(bytes, opts) {
          const provider = String(opts?.executionProviders?.[0]);
          created.push(provider);
          if (provider === 'cuda' && !cudaWorks) throw new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library');
          return real.InferenceSession.create(bytes, { ...opts, executionProviders: ['cpu'] });
        },
      },
    };
  }
  const notInstalled = (d: string) => (d === 'cuda' ? 'CUDA provider not installed' : null);

  // requested device, probe, does cuda start → device, warnings, the info line, providers tried
  const TABLE: [string, typeof notInstalled | undefined, boolean, string, string[], string, string[]][] = [
    ['auto', notInstalled, false, 'cpu', [], 'device cpu (auto: CUDA provider not installed)', ['cpu']],
    ['auto', undefined, false, 'cpu', ['device cuda could not start (OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library); using cpu instead'], 'device cpu (auto: cuda could not start)', ['cuda', 'cpu']],
    ['auto', () => null, true, 'cuda', [], 'device cuda (auto)', ['cuda']],
    ['cuda', notInstalled, false, 'cpu', ['device cuda could not start (CUDA provider not installed); using cpu instead'], 'device cpu (cuda requested: CUDA provider not installed)', ['cpu']],
    ['cuda', () => null, true, 'cuda', [], 'device cuda (requested)', ['cuda']],
    ['cpu', notInstalled, false, 'cpu', [], 'device cpu (requested)', ['cpu']],
  ];
  for (const [requested, probe, cudaWorks, device, warnings, info, tried] of TABLE) {
    it(`${requested}, ${probe ? (probe('cuda') ?? 'cuda available') : 'no probe'}${cudaWorks ? '' : ', cuda fails'} → ${info}`, async () => {
      const created: string[] = [];
      const seen = { warnings: [] as string[], info: [] as string[] };
      const b = createOrtBackend(fakeOrt(cudaWorks, created), 'node', { device: requested, onWarning: (m) => seen.warnings.push(m), onInfo: (m) => seen.info.push(m) }, probe);
      const bundle = exactBundle();
      const graphs = [await b.loadGraph(bundle.graphs.encoder, 'encoder'), await b.loadGraph(bundle.graphs.classHead, 'classHead')];
      assert.equal(b.device, device);
      assert.deepEqual(seen.warnings, warnings);
      assert.deepEqual(seen.info, [info], 'one line, once');
      assert.deepEqual(created.slice(0, -1), tried, 'the devices tried for the first graph; the second goes straight to the settled one');
      assert.equal(created.at(-1), device);
      await Promise.all(graphs.map((g) => g.dispose()));
    });
  }

  it('probeOn: CUDA needs its provider libraries beside the binding and, on Linux, the NVIDIA driver', () => {
    const dir = '/ort/bin/napi-v6/linux/x64';
    const provider = [`${dir}/libonnxruntime_providers_shared.so`, `${dir}/libonnxruntime_providers_cuda.so`];
    const on = (platform: NodeJS.Platform, files: string[]) => ({ platform, nativeDir: dir, exists: (p: string) => files.includes(p) });
    assert.equal(probeOn('cpu', on('linux', [])), null);
    assert.equal(probeOn('webgpu', on('linux', [])), null);
    assert.equal(probeOn('cuda', on('linux', [])), 'CUDA provider not installed');
    assert.equal(probeOn('cuda', on('linux', [provider[1]])), 'CUDA provider not installed', 'both libraries');
    assert.equal(probeOn('cuda', on('linux', provider)), 'no NVIDIA driver (no /dev/nvidiactl)');
    assert.equal(probeOn('cuda', on('linux', [...provider, '/dev/nvidiactl'])), null);
    assert.equal(probeOn('cuda', on('linux', [...provider, '/dev/dxg'])), null, 'WSL');
    assert.equal(probeOn('cuda', on('darwin', provider)), 'CUDA provider not installed', 'no CUDA build for macOS');
    assert.equal(probeOn('cuda', on('win32', [`${dir}/onnxruntime_providers_shared.dll`, `${dir}/onnxruntime_providers_cuda.dll`])), null);
  });

  it('DEVICE=auto on this machine: one line saying which device and why, nothing from ONNX Runtime on stderr', () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const script = [
      "import { createBackend } from './models/src/backend/onnxNode.ts';",
      "import { exactBundle } from './models/test/support/testBundles.ts';",
      "const b = createBackend({ device: 'auto', threads: 1, onInfo: (m) => console.log('info: ' + m), onWarning: (m) => console.log('warning: ' + m) });",
      "await b.loadGraph(exactBundle().graphs.encoder, 'encoder');",
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const why = probeNodeDevice('cuda');
    if (why) {
      assert.equal(r.stdout, `info: device cpu (auto: ${why})\n`);
      assert.equal(r.stderr, '', 'ONNX Runtime printed nothing');
    } else {
      assert.match(r.stdout, /^info: device (cuda \(auto\)|cpu \(auto: cuda could not start\))\n/); // a machine with CUDA
    }
  });
});
