import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exactBundle, writeBundleDir } from '../../test/support/testBundles.ts';
import { readNifti, writeNifti } from '../io/nifti.ts';
import { readNrrd } from '../io/nrrd.ts';
import type { Volume } from '../geometry/volume.ts';
import { main, promptsFromArgs } from './segment.ts';

describe('segment CLI', () => {
  let dir = '';
  const vol: Volume<Float32Array> = {
    data: Float32Array.from({ length: 12 * 10 * 8 }, (_, o) => (o % 12 < 4 ? 0.1 : o % 12 > 8 ? 0.3 : 0)),
    dims: [12, 10, 8],
    spacing: [0.8, 0.9, 1.2],
    direction: [0, 0, 1, 1, 0, 0, 0, 1, 0],
    origin: [5, -7, 3],
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vista3d-cli-'));
    // model axes R, A, S are the input's axes 2, 0, 1 here: same voxel size, so the output is exact
    await writeBundleDir(join(dir, 'model'), exactBundle({ spacing: [1.2, 0.8, 0.9] }));
    await writeFile(join(dir, 'ct.nii.gz'), writeNifti(vol));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('parses prompts the way the NIM takes them', () => {
    assert.deepEqual(promptsFromArgs({ classes: 'liver, spleen' }), { classes: ['liver', 'spleen'] });
    assert.deepEqual(promptsFromArgs({ classes: 'spleen', points: '1,2,3;4,5,6', negative: '7,8,9' }), {
      classes: ['spleen'],
      points: { spleen: [[1, 2, 3], [4, 5, 6], [7, 8, 9]] },
      pointLabels: { spleen: [1, 1, 0] },
    });
    assert.equal(promptsFromArgs({}), undefined);
    assert.throws(() => promptsFromArgs({ points: '1,2,3' }), /--points needs --label/);
    assert.throws(() => promptsFromArgs({ label: 'x', points: '1,2' }), /"1,2" is not "x,y,z"/);
  });

  it('segments a NIfTI file to NIfTI and NRRD on the input grid', async () => {
    for (const out of ['seg.nii.gz', 'seg.nrrd']) {
      const code = await main([join(dir, 'ct.nii.gz'), '--model', join(dir, 'model'), '--classes', 'liver,spleen', '-o', join(dir, out), '--device', 'cpu']);
      assert.equal(code, 0);
      const bytes = new Uint8Array(await readFile(join(dir, out)));
      const seg = out.endsWith('.nrrd') ? readNrrd(bytes) : readNifti(bytes);
      assert.deepEqual(seg.dims, vol.dims);
      seg.spacing.forEach((s, i) => assert.ok(Math.abs(s - vol.spacing[i]) < 1e-5));
      seg.origin.forEach((s, i) => assert.ok(Math.abs(s - vol.origin[i]) < 1e-4));
      for (let o = 0; o < vol.data.length; o++) assert.equal(seg.data[o], Math.round(vol.data[o] * 10), `voxel ${o} of ${out}`);
    }
  });

  it('rejects a bad output name and a missing model folder with a message', async () => {
    await assert.rejects(main([join(dir, 'ct.nii.gz'), '-o', join(dir, 'seg.png'), '--model', join(dir, 'model')]), /the output must end in \.nii/);
    await assert.rejects(main([join(dir, 'ct.nii.gz'), '-o', join(dir, 's.nii.gz'), '--model', join(dir, 'nope')]), /cannot read model\.json/);
  });
});
