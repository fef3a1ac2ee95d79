/**
 * A tiny run of the demo model's training (models/training): make_data.ts writes two small phantoms,
 * train.py --smoke trains a few steps and exports a bundle, and that bundle must load and segment through the
 * server's path (loadBundleFromDir → onnxruntime-node → Vista3dPipeline) and match torch (parity.json).
 * Needs Debian's python3-torch at /usr/bin/python3: `bash scripts/install-training-deps.sh`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createBackend } from '../backend/onnxNode.ts';
import { loadBundleFromDir } from '../node/files.ts';
import { generatePhantom } from '../phantom/generate.ts';
import { Vista3dPipeline } from '../pipeline/segment.ts';
import { checkParity, type ParityReference } from './parity.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PYTHON = '/usr/bin/python3';

describe('demo model training (smoke run)', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vista3d-train-smoke-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('has Debian PyTorch at /usr/bin/python3', () => {
    const r = spawnSync(PYTHON, ['-c', 'import torch, onnx, scipy, numpy'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${PYTHON} cannot import torch/onnx/scipy/numpy (${(r.stderr || String(r.error)).trim().split('\n').pop()}): run \`bash scripts/install-training-deps.sh\` (as root) from the repository root`);
  });

  it('generates phantoms, trains a few steps, exports a bundle that the pipeline runs', { timeout: 240_000 }, async () => {
    const data = join(dir, 'data');
    const bundleDir = join(dir, 'bundle');
    execFileSync(process.execPath, ['--import', 'tsx', 'models/training/make_data.ts', '--out', data, '--torso', '1', '--head', '2', '--spacing', '8', '--fov', '240,200,200', '--quiet'], { cwd: ROOT, stdio: 'pipe' });
    const index = JSON.parse(await readFile(join(data, 'index.json'), 'utf8'));
    assert.deepEqual(index.phantoms.map((p: { stem: string }) => p.stem), ['torso-1', 'head-2']);
    const r = spawnSync(PYTHON, ['models/training/train.py', '--smoke', '--data', data, '--out', bundleDir], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, `train.py --smoke failed:\n${r.stdout}\n${r.stderr}`);

    const bundle = await loadBundleFromDir(bundleDir);
    assert.equal(bundle.manifest.name, 'vista3d-phantom-small');
    assert.ok(bundle.manifest.supportedLabels?.includes(1));
    const backend = createBackend({ device: 'cpu', threads: 1 });
    const ref = JSON.parse(await readFile(join(bundleDir, 'parity.json'), 'utf8')) as ParityReference;
    const parity = await checkParity(bundle, ref, backend);
    for (const [k, v] of Object.entries(parity)) assert.ok(v < 1e-3, `onnxruntime differs from torch on ${k} by ${v}`);

    const pipeline = await Vista3dPipeline.create(bundle, backend);
    try {
      const phantom = generatePhantom({ seed: 10001, dims: [40, 32, 24], spacing: [10, 10, 12] });
      const res = await pipeline.segment(phantom.image, { classes: ['liver', 'kidney'] });
      assert.deepEqual(res.labels.dims, phantom.image.dims);
      assert.ok(res.labels.data.every((v) => v === 0 || v === 1 || v === 5 || v === 14));
      const [i, j, k] = phantom.lesions[0]?.centreIndex ?? [20, 16, 12];
      const pt = await pipeline.segment(phantom.image, { points: { '133': [[i, j, k], [0, 0, 0]] }, pointLabels: { '133': [1, 0] } });
      assert.deepEqual(pt.labels.dims, phantom.image.dims);
      await assert.rejects(pipeline.segment(phantom.image, { classes: ['pancreas'] }), /vista3d-phantom-small.*cannot segment 4 \(pancreas\)/);
    } finally {
      await pipeline.dispose();
    }
  });
});
