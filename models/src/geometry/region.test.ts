import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cropToRegion, regionSubVolume, regionToVolume } from './region.ts';
import { indexToWorld, type Vec3, type Volume } from './volume.ts';

describe('label regions', () => {
  const dims: Vec3 = [7, 5, 4];
  const grid: Omit<Volume, 'data'> = { dims, spacing: [0.5, 2, 3], direction: [0, 1, 0, -1, 0, 0, 0, 0, 1], origin: [10, -4, 2] };
  const full = new Uint8Array(7 * 5 * 4).fill(255);
  const set = (i: number, j: number, k: number, v: number) => (full[i + 7 * (j + 5 * k)] = v);
  set(2, 1, 1, 3);
  set(5, 3, 2, 0);
  set(4, 2, 1, 3);

  it('crops to the voxels that differ from the outside value, and expands back to the same array', () => {
    const r = cropToRegion(full, dims, 255);
    assert.deepEqual([r.lo, r.hi], [[2, 1, 1], [6, 4, 3]]);
    assert.equal(r.data.length, 4 * 3 * 2);
    assert.deepEqual(regionToVolume(r, grid).data, full);
  });

  it('the sub-volume puts each label at the same world position as in the full grid', () => {
    const r = cropToRegion(full, dims, 255);
    const sub = regionSubVolume(r, grid);
    assert.deepEqual(sub.dims, [4, 3, 2]);
    // voxel (4,2,1) of the full grid is voxel (2,1,0) of the sub-volume, at the same world point
    assert.deepEqual(indexToWorld(sub, [2, 1, 0]), indexToWorld(grid, [4, 2, 1]));
    assert.equal(sub.data[2 + 4 * (1 + 3 * 0)], 3);
  });

  it('an all-outside result is an empty region', () => {
    const r = cropToRegion(new Uint8Array(7 * 5 * 4), dims, 0);
    assert.deepEqual([r.lo, r.hi, r.data.length], [[0, 0, 0], [0, 0, 0], 0]);
    assert.ok(regionToVolume(r, grid).data.every((v) => v === 0));
  });
});
