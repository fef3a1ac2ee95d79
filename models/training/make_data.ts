#!/usr/bin/env -S node --import tsx
/**
 * Generates the demo model's training phantoms with the project's one phantom generator (models/src/phantom) and
 * writes them as NumPy arrays for models/training/train.py:
 *
 *   node --import tsx models/training/make_data.ts --out .cache/training --torso 1-300 --head 301-340 --empty 341-360
 *
 * Every phantom is sampled directly on the model's grid: RAS axes (index i → R, j → A, k → S), isotropic
 * `--spacing` mm, so that Python sees exactly what the pipeline feeds the network after its reorientation and
 * resampling. Files per phantom `<stem>`: `<stem>_image.npy` (int16 HU), `<stem>_labels.npy` (uint8 VISTA3D
 * indices), `<stem>_lesions.npy` (uint8 lesion ids), each C-order of shape [k, j, i] (i fastest in memory, as the
 * generator lays it out; train.py transposes to [X, Y, Z]); `index.json` lists them with their lesions.
 * Blur and noise vary per phantom (drawn from the seed) so that the network sees both sharp point-sampled edges
 * and the smoother edges of images resampled from finer grids.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Mat3, Vec3 } from '../src/geometry/volume.ts';
import { generatePhantom, type PhantomKind } from '../src/phantom/generate.ts';
import { createRng } from '../src/phantom/random.ts';
import { runIfMain } from '../src/node/cli.ts';

/** LPS columns of the RAS index axes: i → −x (right), j → −y (anterior), k → +z (superior). */
export const RAS_DIRECTION: Mat3 = [-1, 0, 0, 0, -1, 0, 0, 0, 1];
/** Field of view in mm (R, A, S) that holds a whole torso or head phantom. */
const FOV_MM: Vec3 = [400, 320, 300];

/** A NumPy .npy (format 1.0) file of a C-order array. */
export function npyBytes(data: Int16Array | Uint8Array, shape: number[]): Uint8Array {
  const descr = data instanceof Int16Array ? '<i2' : '|u1';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')},), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

function seedRange(s: string | undefined): number[] {
  if (!s) return [];
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad seed range ${JSON.stringify(part)}: expected N or N-M`);
    for (let v = Number(m[1]); v <= Number(m[2] ?? m[1]); v++) out.push(v);
  }
  return out;
}

export interface MakeDataOptions {
  out: string;
  spacing: number;
  seeds: { kind: PhantomKind; seed: number }[];
  /** Field of view in mm; default a whole phantom. */
  fovMm?: Vec3;
  log?: (s: string) => void;
}

export async function makeData(o: MakeDataOptions): Promise<void> {
  const out = resolve(o.out);
  await mkdir(out, { recursive: true });
  const fov = o.fovMm ?? FOV_MM;
  const dims = fov.map((f) => Math.round(f / o.spacing)) as Vec3;
  const entries = [];
  const t0 = performance.now();
  for (const { kind, seed } of o.seeds) {
    const rng = createRng(seed).fork('training/appearance');
    const blurMm = rng.uniform(0.5, 3.5);
    const noiseHU = rng.uniform(4, 16);
    const p = generatePhantom({ seed, kind, dims, spacing: [o.spacing, o.spacing, o.spacing], direction: RAS_DIRECTION, blurMm, noiseHU });
    const stem = `${kind}-${seed}`;
    const shape = [dims[2], dims[1], dims[0]];
    await writeFile(join(out, `${stem}_image.npy`), npyBytes(p.image.data, shape));
    await writeFile(join(out, `${stem}_labels.npy`), npyBytes(p.labels.data, shape));
    await writeFile(join(out, `${stem}_lesions.npy`), npyBytes(p.lesionMask.data, shape));
    entries.push({
      stem, kind, seed, dims, blurMm, noiseHU,
      lesions: p.lesions.filter((l) => l.voxels > 0).map((l) => ({ id: l.id, hostLabel: l.hostLabel, centreIndex: l.centreIndex, radiusMm: l.radiusMm, voxels: l.voxels })),
    });
    o.log?.(`${stem}: ${dims.join('×')} @ ${o.spacing} mm, ${p.lesions.length} lesion(s), ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const index = { orientation: 'RAS', spacing: [o.spacing, o.spacing, o.spacing], layout: 'npy C-order [k, j, i]', phantoms: entries };
  await writeFile(join(out, 'index.json'), `${JSON.stringify(index, null, 1)}\n`);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: '.cache/training' },
      spacing: { type: 'string', default: '5' },
      torso: { type: 'string' },
      head: { type: 'string' },
      empty: { type: 'string' },
      fov: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const seeds = [
    ...seedRange(values.torso).map((seed) => ({ kind: 'torso' as const, seed })),
    ...seedRange(values.head).map((seed) => ({ kind: 'head' as const, seed })),
    ...seedRange(values.empty).map((seed) => ({ kind: 'empty' as const, seed })),
  ];
  if (!seeds.length) throw new Error('no phantoms asked for: give --torso, --head and/or --empty seed ranges (e.g. 1-300)');
  const spacing = Number(values.spacing);
  if (!(spacing > 0)) throw new Error(`--spacing must be a positive number of mm, got ${values.spacing}`);
  const fovMm = values.fov ? (values.fov.split(',').map(Number) as Vec3) : undefined;
  await makeData({ out: values.out, spacing, seeds, fovMm, log: values.quiet ? undefined : (s) => console.error(s) });
  return 0;
}

runIfMain(import.meta.url, main);
