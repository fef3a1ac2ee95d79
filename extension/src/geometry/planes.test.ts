import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Mat3, SlicePlane, Vec3, Volume } from '@vista3d/models';
import { fullWindow, planeWindow, sampleOnPlane } from './planes.ts';

function lcg(seed: number) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A random rotation (product of rotations about z, y, x), row-major, columns = axes. */
function rotation(rnd: () => number): Mat3 {
  const [a, b, c] = [rnd() * 6.3, rnd() * 6.3, rnd() * 6.3];
  const rz = [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, 1];
  const ry = [Math.cos(b), 0, Math.sin(b), 0, 1, 0, -Math.sin(b), 0, Math.cos(b)];
  const rx = [1, 0, 0, 0, Math.cos(c), -Math.sin(c), 0, Math.sin(c), Math.cos(c)];
  const mul = (p: number[], q: number[]) => Array.from({ length: 9 }, (_, i) => [0, 1, 2].reduce((s, k) => s + p[3 * Math.floor(i / 3) + k] * q[3 * k + (i % 3)], 0));
  return mul(mul(rz, ry), rx) as Mat3;
}

/** Every pixel of the plane sampled whole, vs the window sampled and the rest taken as `outside`. */
function windowed(box: Volume<Uint8Array>, plane: SlicePlane, outside: number): Uint8Array {
  const out = new Uint8Array(plane.rows * plane.columns).fill(outside);
  const w = planeWindow(box, plane);
  if (!w) return out;
  const inside = sampleOnPlane(box, plane, outside, w);
  for (let r = 0; r < w.rows; r++) out.set(inside.subarray(r * w.columns, (r + 1) * w.columns), (w.r0 + r) * plane.columns + w.c0);
  return out;
}

describe('planeWindow + sampleOnPlane on a window: the same pixels as sampling the whole image', () => {
  it('random oblique boxes and planes (grids that differ): 400 cases, every pixel equal', () => {
    const rnd = lcg(5);
    let crossing = 0;
    let missed = 0;
    for (let n = 0; n < 400; n++) {
      const dims: Vec3 = [1 + Math.floor(rnd() * 6), 1 + Math.floor(rnd() * 6), 1 + Math.floor(rnd() * 6)];
      const data = Uint8Array.from({ length: dims[0] * dims[1] * dims[2] }, () => 1 + Math.floor(rnd() * 200));
      const box: Volume<Uint8Array> = { data, dims, spacing: [0.5 + rnd() * 2, 0.5 + rnd() * 2, 0.5 + rnd() * 3], direction: rotation(rnd), origin: [rnd() * 10 - 5, rnd() * 10 - 5, rnd() * 10 - 5] };
      const d = rotation(rnd);
      const plane: SlicePlane = {
        name: `p${n}`,
        rows: 10 + Math.floor(rnd() * 20),
        columns: 10 + Math.floor(rnd() * 20),
        orientation: [d[0], d[3], d[6], d[1], d[4], d[7]],
        pixelSpacing: [0.4 + rnd(), 0.4 + rnd()],
        position: [rnd() * 20 - 15, rnd() * 20 - 15, rnd() * 20 - 15],
      };
      const outside = n % 2 ? 255 : 0;
      const whole = sampleOnPlane(box, plane, outside);
      assert.deepEqual(windowed(box, plane, outside), whole, `case ${n}`);
      if (planeWindow(box, plane)) crossing++;
      if (!planeWindow(box, plane)) missed++;
      // a window never misses a pixel that lands in the box
      if (!planeWindow(box, plane)) assert.ok(whole.every((v) => v === outside), `case ${n}: a pixel inside a box the plane misses`);
    }
    assert.ok(crossing > 40 && missed > 40, `both kinds seen (${crossing} crossing, ${missed} missing)`);
  });

  it('a plane half a voxel beyond the box misses it; one through its last voxel centres does not; the window is the box\'s footprint', () => {
    const box: Volume<Uint8Array> = { data: new Uint8Array(4 * 3 * 2).fill(7), dims: [4, 3, 2], spacing: [1, 1, 2], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [10, 20, 30] };
    const axial = (z: number): SlicePlane => ({ name: 'a', rows: 50, columns: 60, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1], position: [0, 0, z] });
    assert.equal(planeWindow(box, axial(33.01)), null, 'beyond the last slice\'s extent (k = 1.5)');
    assert.equal(planeWindow(box, axial(28.99)), null, 'before the first (k = −0.5)');
    assert.deepEqual(planeWindow(box, axial(32)), { r0: 18, c0: 8, rows: 7, columns: 8 }, 'rows 19.5–22.5 and columns 9.5–13.5 (pixels 18–24, 8–15: one more each side)');
    assert.deepEqual(fullWindow(axial(0)), { r0: 0, c0: 0, rows: 50, columns: 60 });
  });
});
