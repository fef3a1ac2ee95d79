import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBackend } from '../backend/onnxNode.ts';
import type { Mat3, Vec3, Volume } from '../geometry/volume.ts';
import { exactBundle, type ExactBundleOptions } from '../../test/support/testBundles.ts';
import { Vista3dPipeline } from './segment.ts';

/** Intensity 0.9 (bright: the exact point head's structure) where `bright`, 0 elsewhere; identity geometry unless given. */
function image(dims: Vec3, bright: (i: number, j: number, k: number) => boolean, geom: Partial<Omit<Volume, 'data'>> = {}): Volume<Float32Array> {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let o = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, o++) data[o] = bright(i, j, k) ? 0.9 : 0;
  return { data, dims, spacing: [1, 1, 1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0], ...geom };
}

const pipeline = (o: ExactBundleOptions = {}) => Vista3dPipeline.create(exactBundle({ roi: [8, 8, 8], overlap: 0.25, ...o }), createBackend({ device: 'cpu', threads: 1 }));

/** A volume whose voxel reads are counted (the point pass must read only around its windows). */
function counted<T extends Volume>(v: T): { vol: T; read: Set<number> } {
  const read = new Set<number>();
  const data = new Proxy(v.data, {
    get(target, prop) {
      if (typeof prop === 'string' && /^\d+$/.test(prop)) read.add(Number(prop));
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { vol: { ...v, data } as T, read };
}

describe('point pass: local, and never cut by a window edge', () => {
  it('reads, runs and returns only the region around the click', async () => {
    const p = await pipeline({ radius: 2.5 });
    const { vol, read } = counted(image([40, 40, 40], () => true));
    const click: Vec3 = [20, 21, 22];
    const r = await p.segment(vol, { points: { '3': [click] } });
    // one window of 8³ (+1 voxel of interpolation stencil): far less than the 64 000 voxels of the image
    assert.ok(read.size <= 10 ** 3, `${read.size} voxels read`);
    for (const i of read) {
      const ijk = [i % 40, Math.floor(i / 40) % 40, Math.floor(i / 1600)];
      assert.ok(ijk.every((v, a) => Math.abs(v - click[a]) <= 5), `voxel ${ijk} read, far from the click`);
    }
    const d = r.region.hi.map((h, a) => h - r.region.lo[a]);
    assert.ok(d.every((x) => x <= 9), `region ${d}`);
    assert.equal(r.region.outside, 255);
    // the sphere of radius 2.5 around the click, exactly, on the full grid too
    const full = r.labels.data;
    let n = 0;
    for (let o = 0; o < full.length; o++) {
      const ijk = [o % 40, Math.floor(o / 40) % 40, Math.floor(o / 1600)];
      const d2 = ijk.reduce((s, v, a) => s + (v - click[a]) ** 2, 0);
      if (d2 < 6.25) assert.equal(full[o], 3, `voxel ${ijk}`);
      else assert.notEqual(full[o], 3, `voxel ${ijk}`);
      if (full[o] === 3) n++;
    }
    assert.equal(n, 81);
    await p.dispose();
  });

  // A bright bar 30 voxels long, much longer than the 8-voxel window, in several storage orders.
  const table: Array<[string, Vec3, (i: number, j: number, k: number) => boolean, Vec3, Mat3]> = [
    ['along i', [40, 12, 12], (i, j, k) => i >= 5 && i < 35 && Math.abs(j - 6) <= 1 && Math.abs(k - 6) <= 1, [20, 6, 6], [1, 0, 0, 0, 1, 0, 0, 0, 1]],
    ['along k, axes permuted and flipped', [12, 12, 40], (i, j, k) => k >= 5 && k < 35 && Math.abs(i - 6) <= 1 && Math.abs(j - 6) <= 1, [6, 6, 20], [0, 0, -1, 1, 0, 0, 0, -1, 0]],
  ];
  for (const [name, dims, bright, click, direction] of table) {
    it(`a structure longer than a window is followed into the neighbouring windows (${name})`, async () => {
      const p = await pipeline();
      const vol = image(dims, bright, { direction });
      const truth = image(dims, bright).data;
      const cut = await p.segment(vol, { points: { '3': [click] } }, { maxPointWindows: 1 });
      const grown = await p.segment(vol, { points: { '3': [click] } });
      const count = (d: Uint8Array) => d.reduce((s, v) => s + (v === 3 ? 1 : 0), 0);
      const want = truth.reduce((s, v) => s + (v > 0.5 ? 1 : 0), 0);
      assert.equal(cut.timings.pointCut, true, 'one window cuts the bar');
      assert.ok(count(cut.labels.data) < want);
      assert.equal(grown.timings.pointCut, false, 'grown windows reach both ends');
      assert.ok(grown.timings.pointWindowsGrown! >= 2);
      assert.equal(count(grown.labels.data), want, 'the whole bar');
      grown.labels.data.forEach((v, o) => assert.equal(v === 3, truth[o] > 0.5, `voxel ${o}`));
      await p.dispose();
    });
  }
});
