import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeModelGrid } from '../geometry/modelGrid.ts';
import type { Mat3, Vec3, Volume } from '../geometry/volume.ts';
import { foregroundBox, sourceForegroundBox } from './preprocess.ts';
import { resampleToModel } from './resample.ts';

describe('sourceForegroundBox', () => {
  // a bright block in a dark image, stored in several orientations and spacings
  const table: Array<[string, Vec3, Vec3, Mat3]> = [
    ['axial LPS', [40, 30, 20], [1, 1.5, 2], [1, 0, 0, 0, 1, 0, 0, 0, 1]],
    ['flipped and permuted', [30, 20, 40], [1.5, 2, 1], [0, 0, -1, -1, 0, 0, 0, 1, 0]],
    ['anisotropic, reversed slices', [50, 50, 12], [0.7, 0.7, 3], [1, 0, 0, 0, 1, 0, 0, 0, -1]],
  ];
  for (const [name, dims, spacing, direction] of table) {
    it(`matches the crop found on the resampled image to within a voxel (${name})`, () => {
      const data = new Float32Array(dims[0] * dims[1] * dims[2]).fill(-1000);
      const lo = dims.map((d) => Math.floor(d * 0.2));
      const hi = dims.map((d) => Math.floor(d * 0.7));
      for (let k = lo[2]; k < hi[2]; k++) for (let j = lo[1]; j < hi[1]; j++) for (let i = lo[0]; i < hi[0]; i++) data[i + dims[0] * (j + dims[1] * k)] = 40;
      const vol: Volume<Float32Array> = { data, dims, spacing, direction, origin: [3, -2, 7] };
      const grid = makeModelGrid(vol, 'RAS', [2, 2, 2]);
      const fromSource = sourceForegroundBox(vol, grid, -500, 3);
      const fromModel = foregroundBox(resampleToModel(data, grid), grid.dims, -500, 3);
      for (let t = 0; t < 3; t++) {
        assert.ok(Math.abs(fromSource.lo[t] - fromModel.lo[t]) <= 1, `${name} lo[${t}]: ${fromSource.lo[t]} vs ${fromModel.lo[t]}`);
        assert.ok(Math.abs(fromSource.hi[t] - fromModel.hi[t]) <= 1, `${name} hi[${t}]: ${fromSource.hi[t]} vs ${fromModel.hi[t]}`);
      }
    });
  }
  it('an image with nothing above the threshold: the whole grid', () => {
    const vol: Volume<Float32Array> = { data: new Float32Array(8 * 8 * 8).fill(-1000), dims: [8, 8, 8], spacing: [1, 1, 1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] };
    const grid = makeModelGrid(vol, 'RAS', [2, 2, 2]);
    assert.deepEqual(sourceForegroundBox(vol, grid, -500, 3), { lo: [0, 0, 0], hi: grid.dims });
  });
});
