import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readImageNode, writeImageNode } from '@itk-wasm/image-io';
import type { Mat3, Volume, VoxelArray } from '../geometry/volume.ts';
import { loadHeadCT, loadMricron, testDataPath } from '../../test/support/realData.ts';
import { readVolumeBytes, writeVolumeBytes } from './format.ts';

/**
 * Our NIfTI/NRRD readers and writers against ITK's (`@itk-wasm/image-io`, which reports geometry in LPS with a
 * row-major direction whose columns are the index axes, as our `Volume`). Slow to load: kept apart.
 */

type ItkImage = Parameters<typeof writeImageNode>[0];

const COMPONENT_TYPES = new Map<Function, ItkImage['imageType']['componentType']>([
  [Int8Array, 'int8'], [Uint8Array, 'uint8'], [Int16Array, 'int16'], [Uint16Array, 'uint16'],
  [Int32Array, 'int32'], [Uint32Array, 'uint32'], [Float32Array, 'float32'], [Float64Array, 'float64'],
]);

function toItk(vol: Volume): ItkImage {
  return {
    imageType: { dimension: 3, componentType: COMPONENT_TYPES.get(vol.data.constructor)!, pixelType: 'Scalar', components: 1 },
    name: 'image',
    origin: [...vol.origin],
    spacing: [...vol.spacing],
    direction: Float64Array.from(vol.direction),
    size: [...vol.dims],
    metadata: new Map(),
    data: vol.data,
  };
}

function assertSame(ours: Volume, itk: ItkImage, what: string, tol = 1e-4): void {
  assert.deepEqual(itk.size, ours.dims, `${what}: size`);
  const data = itk.data as VoxelArray;
  assert.equal(data.constructor, ours.data.constructor, `${what}: voxel type`);
  assert.equal(data.length, ours.data.length, `${what}: voxel count`);
  const k = ours.data.findIndex((x, i) => x !== data[i]);
  assert.equal(k, -1, `${what}: voxel ${k} is ${ours.data[k]} in ours, ${data[k]} in ITK`);
  for (const [name, a, b] of [['spacing', ours.spacing, itk.spacing], ['direction', ours.direction, Array.from(itk.direction as Float64Array)], ['origin', ours.origin, itk.origin]] as const) {
    assert.ok(a.every((x, i) => Math.abs(x - b[i]) <= tol), `${what}: ${name} [${a.join(', ')}] in ours, [${b.join(', ')}] in ITK`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'io-crosscheck-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('real files: ours and ITK agree', () => {
  for (const name of ['ch2', 'aal'] as const) {
    test(`${name}.nii.gz read by both`, async () => {
      const itk = await readImageNode(testDataPath('mricron-data/usr/share/mricron/templates', `${name}.nii.gz`));
      assertSame(loadMricron(name), itk, name, 1e-6);
    });
  }

  test('head CT written by our NIfTI and NRRD writers, read by ITK', async () => {
    const ct = loadHeadCT();
    for (const [file, format, gzip] of [['ct.nii.gz', 'nifti', true], ['ct.nrrd', 'nrrd', false]] as const) {
      const path = join(dir, file);
      writeFileSync(path, writeVolumeBytes(ct, format, { gzip }));
      assertSame(ct, await readImageNode(path), file);
    }
  });
});

/** Row-major rotation Ry(ay)·Rx(ax), degrees. */
function rotation(ax: number, ay: number): Mat3 {
  const [a, b] = [ax, ay].map((d) => (d * Math.PI) / 180);
  const [ca, sa, cb, sb] = [Math.cos(a), Math.sin(a), Math.cos(b), Math.sin(b)];
  return [cb, sb * sa, sb * ca, 0, ca, -sa, -sb, cb * sa, cb * ca];
}

const negateColumn = (m: Mat3, c: number) => m.map((x, k) => (k % 3 === c ? -x : x)) as Mat3;

function synthetic(direction: Mat3, data: VoxelArray = new Int16Array(7 * 5 * 3).map((_, k) => 13 * k - 500)): Volume {
  return { data, dims: [7, 5, 3], spacing: [0.6, 1.7, 2.9], direction, origin: [-33.3, 12.5, 101.75] };
}

const SYNTHETIC: Array<[string, Volume]> = [
  ['permuted, flipped axes (i → −S, j → L, k → −P)', synthetic([0, 1, 0, 0, 0, -1, -1, 0, 0])],
  ['improper permutation (i ↔ j swapped)', synthetic([0, 1, 0, 1, 0, 0, 0, 0, 1])],
  ['oblique 20° about x and y', synthetic(rotation(20, 20))],
  ['oblique, improper (third axis negated)', synthetic(negateColumn(rotation(20, -20), 2))],
  ['oblique uint8 label map', synthetic(rotation(-15, 25), new Uint8Array(105).map((_, k) => k % 7))],
  ['oblique float32', synthetic(rotation(30, 10), new Float32Array(105).map((_, k) => k / 8 - 3.25))],
];

// Each file gets a fresh name: itk-wasm's Node reader can serve stale bytes for a path it has read before.
describe('synthetic volumes: written by ours and read by ITK, written by ITK and read by ours', () => {
  SYNTHETIC.forEach(([name, vol], n) => {
    test(name, async () => {
      for (const [file, format, gzip] of [['a.nii.gz', 'nifti', true], ['a.nii', 'nifti', false], ['a.nrrd', 'nrrd', true]] as const) {
        const path = join(dir, `${n}${file}`);
        writeFileSync(path, writeVolumeBytes(vol, format, { gzip }));
        assertSame(vol, await readImageNode(path), `ours → ITK ${file}`);
      }
      for (const [file, useCompression] of [['b.nii.gz', true], ['b.nrrd', true], ['c.nrrd', false]] as const) {
        const path = join(dir, `${n}${file}`);
        await writeImageNode(toItk(vol), path, { useCompression });
        assertSame(readVolumeBytes(readFileSync(path), file), toItk(vol), `ITK → ours ${file}`);
      }
    });
  });
});
