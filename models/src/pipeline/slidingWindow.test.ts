import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Vec3 } from '../geometry/volume.ts';
import { accumulatePatch, centredStart, extractPatch, gridWindows, importanceMap, windowStarts } from './slidingWindow.ts';

describe('windowStarts', () => {
  const table: [number, number, number, number[]][] = [
    // size, roi, overlap, starts
    [10, 10, 0.25, [0]],
    [7, 10, 0.25, [-1]], // smaller than the ROI: centred, padded
    [6, 9, 0.5, [-1]],
    [20, 8, 0, [0, 8, 12]],
    [20, 8, 0.5, [0, 4, 8, 12]],
    [11, 4, 0.25, [0, 3, 6, 7]],
    [129, 128, 0.3, [0, 1]],
    [300, 128, 0.3, [0, 89, 172]],
  ];
  for (const [size, roi, overlap, want] of table) {
    it(`size ${size}, roi ${roi}, overlap ${overlap} → ${want}`, () => assert.deepEqual(windowStarts(size, roi, overlap), want));
  }
  it('covers every voxel and keeps windows inside the image when it is larger than the ROI', () => {
    for (let size = 1; size < 40; size++)
      for (const roi of [1, 3, 8])
        for (const overlap of [0, 0.25, 0.5, 0.9]) {
          const s = windowStarts(size, roi, overlap);
          const covered = new Set(s.flatMap((x) => Array.from({ length: roi }, (_, i) => x + i)));
          for (let v = 0; v < size; v++) assert.ok(covered.has(v), `size ${size} roi ${roi} overlap ${overlap}: voxel ${v}`);
          if (size >= roi) assert.ok(s.every((x) => x >= 0 && x + roi <= size));
        }
  });
  it('rejects bad arguments naming the value', () => {
    assert.throws(() => windowStarts(10, 4, 1), /overlap 1/);
    assert.throws(() => windowStarts(0, 4, 0), /size 0/);
  });
});

describe('centredStart', () => {
  const table: [number, number, number, number][] = [
    [10, 40, 8, 6],
    [1, 40, 8, 0],
    [39, 40, 8, 32],
    [3, 5, 8, -1],
    [4.6, 40, 8, 1],
  ];
  for (const [p, size, roi, want] of table) it(`p ${p}, size ${size}, roi ${roi} → ${want}`, () => assert.equal(centredStart(p, size, roi), want));
});

describe('importanceMap', () => {
  it('constant is all ones; gaussian peaks at the centre with max 1, symmetric, positive', () => {
    assert.ok(importanceMap([3, 4, 5], 'constant').every((v) => v === 1));
    const roi: Vec3 = [5, 6, 7];
    const g = importanceMap(roi, 'gaussian', 0.125);
    const at = (x: number, y: number, z: number) => g[(x * roi[1] + y) * roi[2] + z];
    assert.equal(Math.max(...g), at(2, 2, 3));
    assert.ok(Math.abs(at(2, 2, 3) - Math.exp(-(0.5 ** 2) / (2 * 0.75 ** 2))) < 1e-6); // y centre is 2.5
    assert.equal(at(0, 1, 2), at(4, 4, 4));
    assert.ok(g.every((v) => v >= 1e-3 && v <= 1));
  });
});

describe('extractPatch + accumulatePatch', () => {
  it('identity predictor: blending the windows back gives the image, for any ROI and overlap', () => {
    const dims: Vec3 = [9, 7, 5];
    const n = dims[0] * dims[1] * dims[2];
    const image = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 100);
    for (const roi of [[4, 4, 4], [3, 7, 2], [12, 3, 8]] as Vec3[])
      for (const mode of ['gaussian', 'constant'] as const) {
        const w = importanceMap(roi, mode);
        const acc = new Float32Array(n);
        const wsum = new Float32Array(n);
        for (const s of gridWindows(dims, roi, 0.4)) accumulatePatch(acc, wsum, dims, extractPatch(image, dims, s, roi), 1, s, roi, w);
        for (let i = 0; i < n; i++) assert.ok(Math.abs(acc[i] / wsum[i] - image[i]) < 1e-3, `roi ${roi} ${mode} voxel ${i}`);
      }
  });
  it('×2 predictor on two channels gives twice the image in each', () => {
    const dims: Vec3 = [6, 5, 4];
    const n = 120;
    const image = Float32Array.from({ length: n }, (_, i) => i);
    const roi: Vec3 = [4, 4, 4];
    const w = importanceMap(roi, 'gaussian');
    const acc = new Float32Array(2 * n);
    const wsum = new Float32Array(n);
    for (const s of gridWindows(dims, roi, 0.5)) {
      const p = extractPatch(image, dims, s, roi);
      const two = new Float32Array(2 * p.length);
      for (let i = 0; i < p.length; i++) two[i] = two[p.length + i] = 2 * p[i];
      accumulatePatch(acc, wsum, dims, two, 2, s, roi, w);
    }
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(acc[i] / wsum[i] - 2 * i) < 1e-3);
      assert.ok(Math.abs(acc[n + i] / wsum[i] - 2 * i) < 1e-3);
    }
  });
  it('patches are [X, Y, Z] with Z fastest and replicate the edges', () => {
    const dims: Vec3 = [3, 2, 2];
    const image = Float32Array.from({ length: 12 }, (_, i) => i); // value = i + 3j + 6k
    const p = extractPatch(image, dims, [-1, 0, 0], [2, 2, 3]);
    // x = −1 (replicated 0) and 0; y 0…1; z 0, 1, 1 (replicated)
    assert.deepEqual([...p], [0, 6, 6, 3, 9, 9, 0, 6, 6, 3, 9, 9]);
  });
});
