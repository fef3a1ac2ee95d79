import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestOrientation, makeModelGrid, modelToSourceIndex, sourcePointToModel } from './modelGrid.ts';
import { indexToWorld, type Mat3, type Vec3 } from './volume.ts';
import { INSIDE, labelsToSource, logitsToSourceRegion, NOT_PROCESSED, OUTSIDE, resampleToModel } from '../pipeline/resample.ts';
import { regionToVolume } from './region.ts';

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
  it('point logits are thresholded on the original grid: a linear field cuts exactly where it crosses zero', () => {
    // original: permuted and flipped axes, finer than the model; model box starts inside the grid
    const fine = { dims: [20, 14, 11] as Vec3, spacing: [0.5, 0.7, 0.9] as Vec3, direction: [0, 0, -1, 1, 0, 0, 0, -1, 0] as Mat3, origin: [0, 0, 0] as Vec3 };
    const g = makeModelGrid(fine, 'RAS', [2, 2, 2]);
    const box = { lo: [1, 0, 1] as Vec3, hi: [g.dims[0], g.dims[1], g.dims[2]] as Vec3 };
    const bd = box.hi.map((h, t) => h - box.lo[t]);
    const field = (u: readonly number[]) => 0.7 * u[0] - 0.4 * u[1] + 0.3 * u[2] - 1.1; // of full-grid model indices
    const logits = new Float32Array(bd[0] * bd[1] * bd[2]);
    const processed = new Uint8Array(logits.length);
    for (let o = 0; o < logits.length; o++) {
      const u = [o % bd[0], Math.floor(o / bd[0]) % bd[1], Math.floor(o / (bd[0] * bd[1]))];
      logits[o] = field(u.map((v, t) => v + box.lo[t]));
      processed[o] = u[2] < bd[2] - 1 ? 1 : 0; // the last model slice ran no window
    }
    const r = logitsToSourceRegion(logits, processed, box, g, 0);
    // the region on the whole original grid: NOT_PROCESSED outside it
    const mask = regionToVolume({ lo: r.lo, hi: r.hi, data: r.mask, outside: NOT_PROCESSED }, fine).data;
    const seen = { [NOT_PROCESSED]: 0, [OUTSIDE]: 0, [INSIDE]: 0 };
    for (let o = 0; o < mask.length; o++) {
      const ijk = [o % fine.dims[0], Math.floor(o / fine.dims[0]) % fine.dims[1], Math.floor(o / (fine.dims[0] * fine.dims[1]))];
      const u = sourcePointToModel(g, ijk);
      const near = u.map(Math.round);
      const expected =
        near.some((v, t) => v < box.lo[t] || v >= box.hi[t]) || near[2] === box.hi[2] - 1 ? NOT_PROCESSED : field(u.map((v, t) => Math.min(Math.max(v, box.lo[t]), box.hi[t] - 1))) > 0 ? INSIDE : OUTSIDE;
      // the unprocessed slice pulls its neighbours down: only check voxels whose trilinear stencil is processed
      if (expected !== NOT_PROCESSED && u[2] > box.hi[2] - 2) continue;
      assert.equal(mask[o], expected, `voxel [${ijk}] at model [${u.map((v) => v.toFixed(2))}]`);
      seen[expected]++;
    }
    assert.ok(seen[NOT_PROCESSED] > 0 && seen[OUTSIDE] > 0 && seen[INSIDE] > 0, JSON.stringify(seen));
  });
});
