import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBackend } from '../backend/onnxNode.ts';
import { LimitExceededError } from '../errors.ts';
import type { Vec3, Volume } from '../geometry/volume.ts';
import { exactBundle } from '../../test/support/testBundles.ts';
import { Vista3dPipeline } from './segment.ts';
import { DEFAULT_MAX_POINT_WINDOWS } from './work.ts';

const geometry = (dims: Vec3, spacing: Vec3): Omit<Volume, 'data'> => ({ dims, spacing, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] });

describe('planWork / work limits', () => {
  it('counts the windows segment() really runs (class prompts in passes, point windows)', async () => {
    const p = await Vista3dPipeline.create(exactBundle({ roi: [4, 4, 4], overlap: 0.25 }), createBackend({ device: 'cpu', threads: 1 }));
    const dims: Vec3 = [13, 11, 9];
    const vol: Volume<Float32Array> = { data: new Float32Array(13 * 11 * 9).fill(0.3), ...geometry(dims, [1, 1, 1]) };
    for (const [prompts, maxAccumulatorFloats] of [
      [{ classes: ['liver', 'spleen', 'aorta'] }, undefined],
      [{ classes: ['liver', 'spleen', 'aorta'] }, 13 * 11 * 9], // one class per pass: 3 passes
      [{ points: { spleen: [[2, 2, 2], [3, 2, 2], [11, 9, 7]] } }, undefined],
    ] as const) {
      const plan = p.planWork(vol, prompts as never, undefined, maxAccumulatorFloats);
      const r = await p.segment(vol, prompts as never, { maxAccumulatorFloats });
      if ('classes' in prompts) assert.equal(plan.windows, r.timings.windows, JSON.stringify(prompts));
      else assert.ok(plan.windows >= r.timings.windows && plan.windows === DEFAULT_MAX_POINT_WINDOWS, `point windows bounded: ${plan.windows} vs ${r.timings.windows}`);
      assert.deepEqual(plan.modelDims, [13, 11, 9]);
    }
    await p.dispose();
  });

  // The attack: a tiny file whose spacing makes a huge model grid. Refused from the geometry alone.
  const table: Array<[string, Vec3, Vec3, RegExp]> = [
    ['8³ voxels at 250 mm (1.4 KB NIfTI)', [8, 8, 8], [250, 250, 250], /2000×2000×2000 voxels.*maxModelVoxels limit of 1000000/],
    ['64×64×16 at 100 mm', [64, 64, 16], [100, 100, 100], /maxModelVoxels/],
    ['infinite spacing', [8, 8, 8], [Infinity, 1, 1], /maxModelVoxels/],
    ['NaN spacing', [8, 8, 8], [NaN, 1, 1], /maxModelVoxels/],
  ];
  for (const [what, dims, spacing, message] of table) {
    it(`refuses ${what} before allocating`, async () => {
      const p = await Vista3dPipeline.create(exactBundle({ roi: [4, 4, 4] }), createBackend({ device: 'cpu', threads: 1 }));
      assert.throws(() => p.planWork(geometry(dims, spacing), { classes: ['liver'] }, { maxModelVoxels: 1e6, maxWindows: 1e9 }), (e: LimitExceededError) => e instanceof LimitExceededError && message.test(e.message));
      // segment() refuses the same before touching the voxels (a 1-voxel data array would break any real work)
      const vol = { data: new Float32Array(1), ...geometry(dims, spacing) } as Volume;
      await assert.rejects(p.segment(vol, { classes: ['liver'] }, { limits: { maxModelVoxels: 1e6, maxWindows: 1e9 } }), LimitExceededError);
      await p.dispose();
    });
  }

  it('refuses too many windows, naming the limit and the count', async () => {
    const p = await Vista3dPipeline.create(exactBundle({ roi: [4, 4, 4], overlap: 0 }), createBackend({ device: 'cpu', threads: 1 }));
    // 40³ at roi 4, no overlap: 10 windows per axis, 1000 windows
    assert.throws(() => p.planWork(geometry([40, 40, 40], [1, 1, 1]), { classes: ['liver'] }, { maxModelVoxels: 1e9, maxWindows: 999 }), /needs 1000 sliding windows.*maxWindows limit of 999/);
    assert.equal(p.planWork(geometry([40, 40, 40], [1, 1, 1]), { classes: ['liver'] }, { maxModelVoxels: 1e9, maxWindows: 1000 }).windows, 1000);
    await p.dispose();
  });
});
