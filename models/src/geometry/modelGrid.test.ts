import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestOrientation, makeModelGrid, modelToSourceIndex, sourcePointToModel } from './modelGrid.ts';
import { indexToWorld, type Mat3, type Vec3 } from './volume.ts';
import { labelsToSource, resampleToModel } from '../pipeline/resample.ts';

describe('closestOrientation', () => {
  const table: [string, Mat3, string, Vec3, Vec3][] = [
    ['LPS identity to RAS', [1, 0, 0, 0, 1, 0, 0, 0, 1], 'RAS', [0, 1, 2], [-1, -1, 1]],
    ['LPS identity to LPS', [1, 0, 0, 0, 1, 0, 0, 0, 1], 'LPS', [0, 1, 2], [1, 1, 1]],
    // sagittal: i along A (−y), j along I (−z), k along L (+x)
    ['sagittal to RAS', [0, 0, 1, -1, 0, 0, 0, -1, 0], 'RAS', [2, 0, 1], [-1, 1, -1]],
    ['coronal to RAS', [1, 0, 0, 0, 0, 1, 0, -1, 0], 'RAS', [0, 2, 1], [-1, -1, -1]],
  ];
  for (const [name, dir, o, perm, sign] of table) {
    it(name, () => assert.deepEqual(closestOrientation(dir, o), { perm, sign }));
  }
  it('picks the nearest axes of an oblique direction', () => {
    const c = Math.cos(0.3), s = Math.sin(0.3);
    assert.deepEqual(closestOrientation([c, -s, 0, s, c, 0, 0, 0, 1], 'RAS'), { perm: [0, 1, 2], sign: [-1, -1, 1] });
  });
});

describe('model grid', () => {
  const src = { dims: [5, 4, 3] as Vec3, spacing: [1, 2, 3] as Vec3, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3, origin: [10, 20, 30] as Vec3 };
  it('same spacing: model index maps to a flipped/permuted source index exactly', () => {
    const g = makeModelGrid(src, 'RAS', [1, 2, 3]);
    assert.deepEqual(g.dims, [5, 4, 3]);
    assert.deepEqual([0, 1, 2, 3, 4].map((u) => modelToSourceIndex(g, 0, u)), [4, 3, 2, 1, 0]);
    assert.deepEqual([0, 1, 2].map((u) => modelToSourceIndex(g, 2, u)), [0, 1, 2]);
    // model origin is the world position of source voxel (4, 3, 0); model axes are −x, −y, +z
    assert.deepEqual(g.origin, indexToWorld(src, [4, 3, 0]));
    assert.deepEqual(g.direction, [-1, -0, 0, -0, -1, 0, -0, -0, 1]);
  });
  it('resampling keeps the extent centred and the target spacing exact', () => {
    const g = makeModelGrid(src, 'LPS', [0.5, 1, 1.5]);
    assert.deepEqual(g.dims, [10, 8, 6]);
    // centre of the grid maps to the centre of the source
    assert.ok(Math.abs(modelToSourceIndex(g, 0, 4.5) - 2) < 1e-12);
    assert.ok(Math.abs(modelToSourceIndex(g, 0, 5.5) - modelToSourceIndex(g, 0, 4.5) - 0.5) < 1e-12);
    const u = sourcePointToModel(g, [2, 1.5, 1]);
    assert.deepEqual(u, [4.5, 3.5, 2.5]);
  });
  it('trilinear resampling of a linear ramp is exact inside the image; nearest inversion returns labels', () => {
    const n = 5 * 4 * 3;
    const ramp = Float32Array.from({ length: n }, (_, o) => 2 * (o % 5) + 3 * (Math.floor(o / 5) % 4) + 5 * Math.floor(o / 20));
    const g = makeModelGrid(src, 'RAS', [0.5, 1, 1.5]);
    const r = resampleToModel(ramp, g);
    for (let o = 0; o < r.length; o++) {
      const u = [o % g.dims[0], Math.floor(o / g.dims[0]) % g.dims[1], Math.floor(o / (g.dims[0] * g.dims[1]))];
      const x = u.map((v, t) => modelToSourceIndex(g, t, v));
      const ijk = [0, 0, 0];
      g.perm.forEach((a, t) => (ijk[a] = Math.min(Math.max(x[t], 0), src.dims[a] - 1)));
      assert.ok(Math.abs(r[o] - (2 * ijk[0] + 3 * ijk[1] + 5 * ijk[2])) < 1e-4);
    }
    const labels = Uint8Array.from({ length: r.length }, (_, o) => Math.round(r[o]) % 7);
    const back = labelsToSource(labels, { lo: [0, 0, 0], hi: g.dims }, g);
    assert.equal(back.length, n);
    // source voxel (0, 0, 0) ↔ nearest model voxel: along −x, −y the far end
    const u0 = sourcePointToModel(g, [0, 0, 0]).map(Math.round);
    assert.equal(back[0], labels[u0[0] + g.dims[0] * (u0[1] + g.dims[1] * u0[2])]);
  });
});
