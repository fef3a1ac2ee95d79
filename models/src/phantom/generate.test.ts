import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { indexToWorld, sameGrid, worldToIndex, type Mat3, type Vec3, type Volume } from '../geometry/volume.ts';
import { readDicomSeries } from '../io/dicom.ts';
import { readNifti, writeNifti } from '../io/nifti.ts';
import { readNrrd } from '../io/nrrd.ts';
import { buildAnatomy, HEAD_LABELS, rotation, TORSO_LABELS as L, unwarp, warp } from './anatomy.ts';
import { gaussianBlur } from './blur.ts';
import { generatePhantom, type Phantom, type PhantomOptions } from './generate.ts';
import { createRng } from './random.ts';
import { writePhantomFiles } from './write.ts';

// ---- fixtures: 4 mm grids keep each phantom at a few hundred ms -------------------------------------------

const SMALL: Partial<PhantomOptions> = { dims: [96, 80, 64], spacing: [4, 4, 4.5] };
const cache = new Map<string, Phantom>();
function phantom(opts: PhantomOptions): Phantom {
  const key = JSON.stringify(opts);
  if (!cache.has(key)) cache.set(key, generatePhantom(opts));
  return cache.get(key)!;
}

const voxelMl = (v: Volume) => (v.spacing[0] * v.spacing[1] * v.spacing[2]) / 1000;

/** Per label: voxel count, centroid (LPS mm) and HU values. */
function byLabel(p: Phantom): Map<number, { n: number; centroid: Vec3; hu: number[] }> {
  const out = new Map<number, { n: number; sum: Vec3; hu: number[] }>();
  const [nx, ny] = p.labels.dims;
  p.labels.data.forEach((l, v) => {
    let s = out.get(l);
    if (!s) out.set(l, (s = { n: 0, sum: [0, 0, 0], hu: [] }));
    s.n++;
    s.sum[0] += v % nx;
    s.sum[1] += Math.floor(v / nx) % ny;
    s.sum[2] += Math.floor(v / (nx * ny));
    s.hu.push(p.image.data[v]);
  });
  // indexToWorld is affine: the world centroid is the world point of the mean index.
  return new Map([...out].map(([l, s]) => [l, { n: s.n, centroid: indexToWorld(p.labels, s.sum.map((x) => x / s.n)), hu: s.hu }]));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Row-major matrix whose columns are the given index-axis unit vectors. */
const columns = (a: Vec3, b: Vec3, c: Vec3): Mat3 => [a[0], b[0], c[0], a[1], b[1], c[1], a[2], b[2], c[2]];

// ---- building blocks ---------------------------------------------------------------------------------------

describe('random', () => {
  test('same seed, same stream; forks depend on the tag, not on draws made', () => {
    const a = createRng(42);
    const b = createRng('42');
    assert.deepEqual([a.next(), a.uniform(-5, 5), a.normal(), a.int(1, 6)], [b.next(), b.uniform(-5, 5), b.normal(), b.int(1, 6)]);
    const fresh = createRng(42).fork('x').next();
    assert.equal(a.fork('x').next(), fresh);
    assert.notEqual(createRng(42).fork('y').next(), fresh);
    assert.notEqual(createRng(43).next(), createRng(42).next());
  });

  test('quickNormal and normal have mean 0 and sd 1; uniform stays in range', () => {
    const r = createRng(1);
    for (const draw of [() => r.quickNormal(), () => r.normal()]) {
      const xs = Array.from({ length: 20000 }, draw);
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
      assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `mean ${mean}, sd ${sd}`);
    }
    for (let n = 0; n < 1000; n++) {
      const u = r.uniform(2, 3);
      assert.ok(u >= 2 && u < 3);
    }
  });
});

describe('anatomy', () => {
  test('every shape is absent outside its box', () => {
    for (const kind of ['torso', 'head', 'empty'] as const) {
      const anatomy = buildAnatomy(kind, 3);
      const r = createRng('box probe');
      for (const shape of anatomy.shapes) {
        const { min, max } = shape.box;
        for (let n = 0; n < 300; n++) {
          const p = [0, 1, 2].map((a) => r.uniform(Math.max(min[a], -1000) - 25, Math.min(max[a], 1000) + 25));
          if (p.every((x, a) => x >= min[a] && x <= max[a])) continue;
          assert.equal(shape.at(p[0], p[1], p[2]), 0, `${kind} ${shape.name} at ${p.map((x) => x.toFixed(1))}`);
        }
      }
    }
  });

  test('unwarp inverts warp', () => {
    const { deformation } = buildAnatomy('torso', 8);
    const out = [0, 0, 0];
    for (const p of [[0, 0, 0], [120, -80, 60], [-150, 90, -140]] as Vec3[]) {
      const w = unwarp(deformation, p);
      warp(deformation, w[0], w[1], w[2], out);
      assert.ok(Math.hypot(out[0] - p[0], out[1] - p[1], out[2] - p[2]) < 1e-6);
      assert.ok(Math.hypot(w[0] - p[0], w[1] - p[1], w[2] - p[2]) <= Math.sqrt(3) * deformation.maxMm);
    }
  });
});

describe('gaussianBlur', () => {
  test('keeps a constant volume and the sum of an interior impulse; sigma 0 changes nothing', () => {
    const dims: Vec3 = [9, 8, 7];
    const flat = new Float32Array(9 * 8 * 7).fill(-1000);
    gaussianBlur(flat, dims, [1, 2, 0.5]);
    assert.ok(flat.every((v) => Math.abs(v + 1000) < 1e-3));
    const impulse = new Float32Array(9 * 8 * 7);
    impulse[4 + 9 * (4 + 8 * 3)] = 1000;
    gaussianBlur(impulse, dims, [0.8, 0.8, 0.6]);
    assert.ok(Math.abs(impulse.reduce((s, v) => s + v, 0) - 1000) < 0.01);
    assert.ok(impulse[4 + 9 * (4 + 8 * 3)] < 1000 && impulse[5 + 9 * (4 + 8 * 3)] > 0);
    const same = Float32Array.from({ length: 9 * 8 * 7 }, (_, v) => v);
    gaussianBlur(same, dims, [0, 0.05, 0]);
    assert.ok(same.every((v, i) => v === i));
  });
});

// ---- the torso ---------------------------------------------------------------------------------------------

describe('generatePhantom: torso', () => {
  test('same seed → identical bytes; another seed → other anatomy', () => {
    const a = generatePhantom({ seed: 5, ...SMALL });
    const b = phantom({ seed: 5, ...SMALL });
    assert.deepEqual(a.image.data, b.image.data);
    assert.deepEqual(a.labels.data, b.labels.data);
    assert.deepEqual(a.lesionMask.data, b.lesionMask.data);
    assert.deepEqual(a.lesions, b.lesions);
    const c = phantom({ seed: 6, ...SMALL });
    let differ = 0;
    c.labels.data.forEach((l, v) => (differ += l !== a.labels.data[v] ? 1 : 0));
    assert.ok(differ > 0.01 * c.labels.data.length, `only ${differ} voxels differ`);
  });

  const REQUIRED = [L.liver, L.spleen, L.rightKidney, L.leftKidney, L.aorta, L.inferiorVenaCava, L.stomach, L.heart, 28, 29, 30, 31, 32];
  for (const seed of [1, 2, 3, 4]) {
    test(`seed ${seed}: every required label, plausible volumes`, () => {
      const p = phantom({ seed, ...SMALL });
      const stats = byLabel(p);
      const ml = (l: number) => (stats.get(l)?.n ?? 0) * voxelMl(p.labels);
      for (const l of REQUIRED) assert.ok(ml(l) > 5, `label ${l}: ${ml(l)} mL`);
      const present = [...stats.keys()];
      assert.ok(present.filter((l) => l >= 33 && l <= 49).length >= 8, `vertebrae ${present}`);
      assert.ok(present.filter((l) => l >= 63 && l <= 86).length >= 12, `ribs ${present}`);
      const ranges: Array<[number, number, number]> = [
        [L.liver, 1000, 2500],
        [L.spleen, 100, 400],
        [L.rightKidney, 100, 300],
        [L.leftKidney, 100, 300],
        [L.heart, 300, 1000],
      ];
      for (const [l, lo, hi] of ranges) assert.ok(ml(l) >= lo && ml(l) <= hi, `label ${l}: ${ml(l).toFixed(0)} mL not in ${lo}…${hi}`);
      const known = new Set<number>([0, ...Object.values(L), ...Array.from({ length: 17 }, (_, n) => 33 + n), ...Array.from({ length: 24 }, (_, n) => 63 + n)]);
      for (const l of present) assert.ok(known.has(l), `unexpected label ${l}`);
    });
  }

  test('laterality and levels (LPS: +x patient left, +z superior)', () => {
    const stats = byLabel(phantom({ seed: 1, ...SMALL }));
    const c = (l: number) => stats.get(l)!.centroid;
    assert.ok(c(L.liver)[0] < 0, 'liver on the patient right (−x)');
    assert.ok(c(L.spleen)[0] > 0, 'spleen on the patient left (+x)');
    assert.ok(c(L.stomach)[0] > 0, 'stomach on the left');
    assert.ok(c(L.rightKidney)[0] < 0 && c(L.leftKidney)[0] > 0, 'kidneys');
    assert.ok(c(L.rightKidney)[1] > c(L.liver)[1], 'kidneys posterior to the liver');
    assert.ok(c(L.aorta)[0] > c(L.inferiorVenaCava)[0], 'aorta left of the IVC');
    assert.ok(c(30)[0] < 0 && c(28)[0] > 0, 'right lung at −x, left lung at +x');
    assert.ok(c(L.heart)[2] > c(L.liver)[2] && c(30)[2] > c(32)[2], 'heart above the liver, upper lobe above lower');
    assert.ok(c(L.heart)[1] < c(L.vertebraL5 + 5)[1], 'heart anterior to the spine');
    assert.ok(c(L.vertebraL5 + 4)[2] < c(L.vertebraL5 + 5)[2], 'L1 below T12');
  });

  test('HU per tissue', () => {
    const p = phantom({ seed: 2, ...SMALL });
    const stats = byLabel(p);
    const med = (l: number) => median(stats.get(l)!.hu);
    assert.ok(med(L.liver) >= 40 && med(L.liver) <= 80, `liver ${med(L.liver)}`);
    assert.ok(med(L.spleen) >= 35 && med(L.spleen) <= 70, `spleen ${med(L.spleen)}`);
    for (const l of [28, 29, 30, 31, 32]) assert.ok(med(l) < -700, `lung ${l}: ${med(l)}`);
    const vertebrae = [...stats].filter(([l]) => l >= 33 && l <= 49).flatMap(([, s]) => s.hu);
    assert.ok(median(vertebrae) > 200, `vertebrae ${median(vertebrae)}`);
    assert.ok(stats.get(L.stomach)!.hu.some((h) => h < -500), 'air in the stomach');
    const corner = p.image.data[0];
    assert.ok(corner < -900, `air outside the body: ${corner}`);
    assert.ok(p.image.data.every((h) => h >= -1024 && h <= 3071));
  });

  test('lesions lie inside their host organ, keep its label and differ from it in HU', () => {
    const p = phantom({ seed: 3, ...SMALL, lesions: 4 });
    assert.equal(p.lesions.length, 4);
    const stats = byLabel(p);
    const [nx, ny] = p.labels.dims;
    for (const lesion of p.lesions) {
      assert.ok([L.liver, L.spleen, L.rightKidney, L.leftKidney].includes(lesion.hostLabel as never));
      const hu: number[] = [];
      p.lesionMask.data.forEach((id, v) => {
        if (id !== lesion.id) return;
        assert.equal(p.labels.data[v], lesion.hostLabel, 'a lesion voxel keeps its host label');
        hu.push(p.image.data[v]);
      });
      assert.equal(hu.length, lesion.voxels);
      assert.ok(lesion.voxels > 0);
      // Wholly inside: every voxel within 0.75 r of the centre (the deformation stretches < 25 %) is host.
      const reach = Math.ceil(lesion.radiusMm / Math.min(...p.labels.spacing));
      const [ci, cj, ck] = lesion.centreIndex;
      for (let k = ck - reach; k <= ck + reach; k++) {
        for (let j = cj - reach; j <= cj + reach; j++) {
          for (let i = ci - reach; i <= ci + reach; i++) {
            const w = indexToWorld(p.labels, [i, j, k]);
            if (Math.hypot(w[0] - lesion.centreWorld[0], w[1] - lesion.centreWorld[1], w[2] - lesion.centreWorld[2]) > 0.75 * lesion.radiusMm) continue;
            assert.equal(p.labels.data[i + nx * (j + ny * k)], lesion.hostLabel, `lesion ${lesion.id} reaches another label at [${i}, ${j}, ${k}]`);
          }
        }
      }
      const [i, j, k] = lesion.centreIndex;
      assert.equal(p.lesionMask.data[i + nx * (j + ny * k)], lesion.id, 'the centre voxel is in the lesion');
      assert.ok(Math.hypot(...worldToIndex(p.labels, lesion.centreWorld).map((x, a) => x - lesion.centreIndex[a])) < 0.9);
      const delta = median(hu) - median(stats.get(lesion.hostLabel)!.hu);
      assert.ok(Math.abs(delta) >= 20 && Math.abs(delta) <= 70, `lesion ${lesion.id}: ${delta} HU against its host`);
    }
    assert.ok(![23, 24, 26, 116, 117, 128, 129, 130].some((l) => stats.has(l)), 'no tumour class');
    const none = generatePhantom({ seed: 3, dims: [24, 20, 16], spacing: [16, 16, 18], lesions: 0 });
    assert.deepEqual(none.lesions, []);
    assert.ok(none.lesionMask.data.every((v) => v === 0));
  });

  test('rejects bad options with the value in the message', () => {
    assert.throws(() => generatePhantom({ seed: 1, dims: [0, 10, 10] }), /dims .*0×10×10/);
    assert.throws(() => generatePhantom({ seed: 1, spacing: [1, -1, 1] }), /spacing .*-1/);
    assert.throws(() => generatePhantom({ seed: 1, direction: [1, 0, 0, 1, 0, 0, 0, 0, 1] }), /singular/);
    assert.throws(() => generatePhantom({ seed: 1, kind: 'leg' as never }), /leg/);
    assert.throws(() => generatePhantom({ seed: Number.NaN }), /seed/);
  });
});

// ---- torso-free kinds --------------------------------------------------------------------------------------

describe('generatePhantom: head and empty', () => {
  test('head: skull and brain only', () => {
    const p = generatePhantom({ seed: 4, kind: 'head', dims: [64, 64, 56], spacing: [4, 4, 4] });
    const stats = byLabel(p);
    assert.deepEqual([...stats.keys()].sort((a, b) => a - b), [0, HEAD_LABELS.brain, HEAD_LABELS.skull]);
    assert.ok(median(stats.get(HEAD_LABELS.brain)!.hu) > 20 && median(stats.get(HEAD_LABELS.brain)!.hu) < 50);
    assert.ok(median(stats.get(HEAD_LABELS.skull)!.hu) > 400);
    for (const l of p.lesions) assert.equal(l.hostLabel, HEAD_LABELS.brain);
  });

  test('empty: no labels; air only or a water cylinder', () => {
    const kinds = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const p = generatePhantom({ seed, kind: 'empty', dims: [32, 32, 8], spacing: [12, 12, 12] });
      assert.ok(p.labels.data.every((l) => l === 0) && p.lesions.length === 0);
      const water = p.image.data.filter((h) => Math.abs(h) < 60).length;
      kinds.add(water > 0.1 * p.image.data.length ? 'water' : 'air');
    }
    assert.deepEqual([...kinds].sort(), ['air', 'water']);
  });
});

// ---- geometry: the same anatomy at the same world positions on any grid ------------------------------------

describe('generatePhantom: geometry', () => {
  const base: PhantomOptions = { seed: 9, dims: [96, 80, 72], spacing: [4, 4, 4], noiseHU: 0, blurMm: 0 };

  test('a flipped and permuted grid with the same spacing gives the same labels at the same world points', () => {
    const a = phantom(base);
    // i_B along −y, j_B along +z, k_B along −x: dims follow; default centring puts both lattices on the same points.
    const b = generatePhantom({ ...base, dims: [80, 72, 96], direction: columns([0, -1, 0], [0, 0, 1], [-1, 0, 0]) });
    const [nx, ny, nz] = b.labels.dims;
    let mismatches = 0;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const ia = worldToIndex(a.labels, indexToWorld(b.labels, [i, j, k]));
          const r = ia.map(Math.round);
          assert.ok(ia.every((x, c) => Math.abs(x - r[c]) < 1e-6), 'the lattices coincide');
          const va = r[0] + 96 * (r[1] + 80 * r[2]);
          const vb = i + nx * (j + ny * k);
          if (a.labels.data[va] !== b.labels.data[vb] || a.lesionMask.data[va] !== b.lesionMask.data[vb] || a.image.data[va] !== b.image.data[vb]) mismatches++;
        }
      }
    }
    assert.equal(mismatches, 0);
    assert.deepEqual(b.lesions.map((l) => l.centreWorld.map((x) => x.toFixed(6))), a.lesions.map((l) => l.centreWorld.map((x) => x.toFixed(6))));
  });

  test('an oblique grid (rotated 15°) agrees on ≥ 99 % of interior voxels', () => {
    const a = phantom(base);
    const c = generatePhantom({ ...base, dims: [72, 64, 56], spacing: [3.5, 3.5, 4.5], direction: rotation(15, 0, 15) });
    const [nx, ny, nz] = c.labels.dims;
    const [ax, ay, az] = a.labels.dims;
    let compared = 0;
    let agree = 0;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const f = worldToIndex(a.labels, indexToWorld(c.labels, [i, j, k]));
          const lo = f.map(Math.floor);
          if (lo[0] < 0 || lo[1] < 0 || lo[2] < 0 || lo[0] + 1 >= ax || lo[1] + 1 >= ay || lo[2] + 1 >= az) continue;
          // Interior: the 8 surrounding voxels of A share one label.
          const first = a.labels.data[lo[0] + ax * (lo[1] + ay * lo[2])];
          let uniform = true;
          for (let n = 1; n < 8 && uniform; n++) uniform = a.labels.data[lo[0] + (n & 1) + ax * (lo[1] + ((n >> 1) & 1) + ay * (lo[2] + ((n >> 2) & 1)))] === first;
          if (!uniform) continue;
          compared++;
          if (c.labels.data[i + nx * (j + ny * k)] === first) agree++;
        }
      }
    }
    assert.ok(compared > 0.5 * c.labels.data.length, `only ${compared} interior voxels`);
    assert.ok(agree >= 0.99 * compared, `${agree} of ${compared} agree`);
  });
});

// ---- files ------------------------------------------------------------------------------------------------

describe('files', () => {
  test('a NIfTI round trip keeps labels, HU and geometry', () => {
    const p = phantom({ seed: 1, ...SMALL });
    for (const vol of [p.labels, p.image] as Volume[]) {
      const back = readNifti(writeNifti(vol, { gzip: false }));
      assert.ok(sameGrid(back, vol, 1e-4));
      assert.deepEqual(back.data, vol.data);
    }
  });

  test('writePhantomFiles: NIfTI, NRRD, DICOM (reversed slices) and JSON describe the same phantom', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'phantom-'));
    try {
      const opts = { seed: 12, dims: [40, 32, 24] as Vec3, spacing: [10, 10, 12] as Vec3, sliceOrder: 'reverse' as const };
      const { phantom: p, paths } = await writePhantomFiles(dir, opts);
      assert.ok(p.image.direction[8] < 0, 'k runs superior → inferior');
      const forward = generatePhantom({ ...opts, noiseHU: 0 });
      const labels = readNifti(await readFile(paths.nifti!.labels));
      assert.deepEqual(labels.data, p.labels.data);
      assert.ok(sameGrid(labels, p.labels));
      // Same world points as the forward grid, k reversed.
      const [nx, ny, nz] = p.labels.dims;
      for (let k = 0; k < nz; k++) {
        const a = p.labels.data.subarray(nx * ny * k, nx * ny * (k + 1));
        const b = forward.labels.data.subarray(nx * ny * (nz - 1 - k), nx * ny * (nz - k));
        assert.deepEqual(a, b);
      }
      const nrrd = readNrrd(await readFile(paths.nrrd!.image));
      assert.deepEqual(nrrd.data, p.image.data);
      assert.ok(sameGrid(nrrd, p.image));
      const names = (await readdir(paths.dicom!)).sort();
      assert.equal(names.length, nz);
      const dicom = readDicomSeries(await Promise.all(names.map(async (name) => ({ name, bytes: await readFile(join(paths.dicom!, name)) }))));
      // The DICOM reader stacks slices along the row × column normal: forward order, same world points.
      for (let k = 0; k < nz; k++) {
        const w = indexToWorld(dicom, [0, 0, k]);
        const kp = Math.round(worldToIndex(p.image, w)[2]);
        assert.deepEqual(Array.from(dicom.data.subarray(nx * ny * k, nx * ny * (k + 1))), Array.from(p.image.data.subarray(nx * ny * kp, nx * ny * (kp + 1))));
      }
      const json = JSON.parse(await readFile(paths.json, 'utf8'));
      assert.equal(json.seed, 12);
      assert.deepEqual(json.lesions, JSON.parse(JSON.stringify(p.lesions)));
      assert.equal(json.voxelsPerLabel[L.liver], p.labels.data.filter((l) => l === L.liver).length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
