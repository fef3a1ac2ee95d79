import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidImageError } from '../errors.ts';
import {
  checkGeometry,
  checkVoxelValues,
  geometryFromAffine,
  IDENTITY3,
  MAX_SPACING_MM,
  MIN_DIRECTION_DETERMINANT,
  MIN_SPACING_MM,
  type Mat3,
  type Vec3,
  type Volume,
  type VoxelArray,
} from './volume.ts';

type Geometry = Pick<Volume, 'spacing' | 'direction' | 'origin'>;
const GOOD: Geometry = { spacing: [0.7, 1.3, 2.5], direction: IDENTITY3, origin: [-12.5, 40.25, 7] };
const t = Math.PI / 4;
/** A 45° gantry tilt: k axis (0, sin 45°, cos 45°), |det| = cos 45°. */
const TILT_45: Mat3 = [1, 0, 0, 0, 1, Math.sin(t), 0, 0, Math.cos(t)];

function assertRefused(g: Partial<Geometry>, message: RegExp): void {
  assert.throws(() => checkGeometry({ ...GOOD, ...g }, 'NIfTI'), (e: unknown) => e instanceof InvalidImageError && message.test(e.message), String(message));
}

describe('checkGeometry', () => {
  const accepted: Array<[string, Partial<Geometry>]> = [
    ['identity, sub-mm spacing', {}],
    ['spacing at the bounds', { spacing: [MIN_SPACING_MM, MAX_SPACING_MM, 1] }],
    ['negative spacing is a size of |s|', { spacing: [-2, 1, 1] }],
    ['an improper oblique direction', { direction: [0, 0, -1, -1, 0, 0, 0, 1, 0] }],
    ['a 45° gantry tilt (sheared, not rank-deficient)', { direction: TILT_45 }],
    ['an origin far away', { origin: [1e9, -1e9, 0] }],
  ];
  for (const [name, g] of accepted) test(`accepts ${name}`, () => checkGeometry({ ...GOOD, ...g }, 'NIfTI'));

  const refused: Array<[string, Partial<Geometry>, RegExp]> = [
    ['spacing NaN', { spacing: [1, NaN, 1] }, /^NIfTI spacing\[1\] is NaN$/],
    ['spacing Infinity', { spacing: [Infinity, 1, 1] }, /^NIfTI spacing\[0\] is Infinity$/],
    ['spacing 0', { spacing: [1, 1, 0] }, /^NIfTI spacing\[2\] is 0 mm: a voxel size must be from 0\.001 to 10000 mm$/],
    ['spacing 1e-30', { spacing: [1e-30, 1, 1] }, /^NIfTI spacing\[0\] is 1e-30 mm/],
    ['spacing just under the minimum', { spacing: [1, MIN_SPACING_MM * 0.99, 1] }, /^NIfTI spacing\[1\] is 0\.00099 mm/],
    ['spacing over the maximum', { spacing: [1, 1, MAX_SPACING_MM * 2] }, /^NIfTI spacing\[2\] is 20000 mm/],
    ['origin Infinity', { origin: [0, Infinity, 0] }, /^NIfTI origin holds Infinity: the origin must be 3 finite numbers$/],
    ['origin NaN', { origin: [NaN, 0, 0] }, /^NIfTI origin holds NaN/],
    ['direction NaN', { direction: [1, 0, 0, 0, NaN, 0, 0, 0, 1] }, /^NIfTI direction holds NaN: the direction must be 9 finite numbers$/],
    ['a zero direction axis', { direction: [1, 0, 0, 0, 1, 0, 0, 0, 0] }, /^NIfTI direction axis 2 has length 0: direction axes must be unit vectors$/],
    ['a direction axis of length 2', { direction: [2, 0, 0, 0, 1, 0, 0, 0, 1] }, /^NIfTI direction axis 0 has length 2/],
    ['two equal axes', { direction: [1, 1, 0, 0, 0, 0, 0, 0, 1] }, /^NIfTI direction is rank-deficient: its axes are \(nearly\) linearly dependent \(\|det\| of the unit axes is 0, at least 0\.1 is needed\)$/],
    ['three axes in one plane', { direction: [1, 0, Math.SQRT1_2, 0, 1, Math.SQRT1_2, 0, 0, 0] }, /^NIfTI direction is rank-deficient/],
    [`axes with |det| just under ${MIN_DIRECTION_DETERMINANT}`, { direction: [1, 0, 0, 0, 1, Math.sqrt(1 - 0.099 ** 2), 0, 0, 0.099] }, /^NIfTI direction is rank-deficient: .*is 0\.099,/],
  ];
  for (const [name, g, message] of refused) test(`refuses ${name}`, () => assertRefused(g, message));

  test('names the fields it is given', () => {
    const fields = { spacing: ['PixelSpacing[1]', 'PixelSpacing[0]', 'slice step'] as const, origin: 'ImagePositionPatient', direction: 'ImageOrientationPatient' };
    const cases: Array<[Partial<Geometry>, RegExp]> = [
      [{ spacing: [1, NaN, 1] }, /^DICOM PixelSpacing\[0\] is NaN$/],
      [{ spacing: [1, 1, 5e4] }, /^DICOM slice step is 50000 mm/],
      [{ origin: [0, 0, -Infinity] }, /^DICOM ImagePositionPatient holds -Infinity/],
      [{ direction: [1, 1, 0, 0, 0, 0, 0, 0, 1] }, /^DICOM ImageOrientationPatient is rank-deficient/],
    ];
    for (const [g, message] of cases) {
      assert.throws(() => checkGeometry({ ...GOOD, ...g }, 'DICOM', fields), (e: unknown) => e instanceof InvalidImageError && message.test(e.message), String(message));
    }
  });
});

describe('geometryFromAffine repairs nothing', () => {
  test('an oblique affine splits into spacing, unit direction and origin', () => {
    const g = geometryFromAffine([0, -2, 0, 5, 3, 0, 0, 6, 0, 0, 4, 7, 0, 0, 0, 1]);
    assert.deepEqual(g, { spacing: [3, 2, 4], direction: [0, -1, 0, 1, 0, 0, 0, 0, 1], origin: [5, 6, 7] });
  });

  const cases: Array<[string, number[], Vec3, string]> = [
    ['a zero column: spacing 0, then refused', [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], [1, 1, 0], 'spacing[2] is 0 mm'],
    ['an all-zero affine', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0], 'spacing[0] is 0 mm'],
    ['a NaN entry', [1, 0, 0, 0, 0, NaN, 0, 0, 0, 0, 1, 0], [1, NaN, 1], 'spacing[1] is NaN'],
  ];
  for (const [name, rows, spacing, message] of cases) {
    test(name, () => {
      const g = geometryFromAffine([...rows, 0, 0, 0, 1]);
      assert.deepEqual(g.spacing, spacing);
      assert.throws(() => checkGeometry(g, 'NIfTI'), (e: unknown) => e instanceof InvalidImageError && e.message.startsWith(`NIfTI ${message}`));
    });
  }
});

describe('checkVoxelValues', () => {
  const cases: Array<[string, VoxelArray, 'ok' | 'warn' | 'refuse', string?]> = [
    ['float32 finite', Float32Array.of(1, -2, 3.5), 'ok'],
    ['float32 one NaN of 4', Float32Array.of(1, NaN, 3, 4), 'warn', 'x: 1 of 4 voxels are NaN/Inf; they are left as they are'],
    ['float64 NaN and ±Infinity, 3 of 5', Float64Array.of(NaN, Infinity, -Infinity, 0, 1), 'warn', 'x: 3 of 5 voxels are NaN/Inf; they are left as they are'],
    ['float32 all NaN', new Float32Array(6).fill(NaN), 'refuse', 'x: all 6 voxels are NaN/Inf'],
    ['float64 all Infinity', new Float64Array(2).fill(-Infinity), 'refuse', 'x: all 2 voxels are NaN/Inf'],
    ['int16 is skipped', Int16Array.of(0, 0), 'ok'],
    ['uint8 is skipped', Uint8Array.of(255), 'ok'],
  ];
  for (const [name, data, outcome, message] of cases) {
    test(`${name}: ${outcome}`, () => {
      if (outcome === 'refuse') assert.throws(() => checkVoxelValues(data, 'x'), (e: unknown) => e instanceof InvalidImageError && e.message === message);
      else assert.equal(checkVoxelValues(data, 'x'), outcome === 'warn' ? message : null);
    });
  }
});
