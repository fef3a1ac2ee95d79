import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import dicomParser from 'dicom-parser';
import { data as dcmjs } from 'dcmjs';
import { InvalidImageError, LimitExceededError } from '../errors.ts';
import { cross, IDENTITY3, indexToWorld, worldToIndex, type Mat3, type Vec3, type Volume } from '../geometry/volume.ts';
import { readDicomSeries, readDicomSeriesWithInfo, type DicomInput } from './dicom.ts';
import { writeDicomSeries, type WriteDicomOptions } from './dicomWrite.ts';

/** Volume with (i, j, k)-distinct int16 values, so a swapped axis or slice shows. */
function phantom(dims: Vec3, spacing: Vec3, direction: Mat3, origin: Vec3): Volume<Int16Array> {
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) data[i + dims[0] * (j + dims[1] * k)] = ((i * 7 + j * 31 + k * 211) % 3000) - 1024;
  return { data, dims, spacing, direction, origin };
}

/** Row-major matrix whose columns are the given index-axis unit vectors. */
function columns(a: readonly number[], b: readonly number[], c: readonly number[]): Mat3 {
  return [a[0], b[0], c[0], a[1], b[1], c[1], a[2], b[2], c[2]];
}

/** Rotation by `x`° about L, then `z`° about S. */
function rotation(x: number, z: number): Mat3 {
  const [cx, sx, cz, sz] = [Math.cos((x * Math.PI) / 180), Math.sin((x * Math.PI) / 180), Math.cos((z * Math.PI) / 180), Math.sin((z * Math.PI) / 180)];
  return [cz, -sz * cx, sz * sx, sz, cz * cx, -cz * sx, 0, sx, cx];
}

function assertClose(actual: readonly number[], expected: readonly number[], what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `${what}[${i}]: ${v} vs ${expected[i]} (${actual} vs ${expected})`));
}

function assertSameVolume(actual: Volume, expected: Volume): void {
  assert.deepEqual(actual.dims, expected.dims);
  assert.deepEqual(Array.from(actual.data), Array.from(expected.data));
  assertClose(actual.spacing, expected.spacing, 'spacing');
  assertClose(actual.direction, expected.direction, 'direction');
  assertClose(actual.origin, expected.origin, 'origin');
}

const sopInstanceUid = (file: DicomInput) => dicomParser.parseDicom(file.bytes).string('x00080018');

/** A fixed shuffle: odd positions first, then even ones. */
const shuffle = <T>(xs: readonly T[]) => [...xs.filter((_, n) => n % 2), ...xs.filter((_, n) => n % 2 === 0)];

/** Re-encodes a file after changing dataset attributes (tag → [VR, values]) or, for group 0002, file meta values. */
function rewrite(file: DicomInput, changes: Record<string, [string, unknown[]]>): DicomInput {
  const dicom = dcmjs.DicomMessage.readFile(file.bytes.slice().buffer);
  for (const [tag, [vr, values]] of Object.entries(changes)) {
    if (tag.startsWith('0002')) dicom.meta[tag].Value = values;
    else dicom.upsertTag(tag, vr, values);
  }
  return { name: file.name, bytes: new Uint8Array(dicom.write()) };
}

function assertInvalid(files: readonly DicomInput[], pattern: RegExp): void {
  assert.throws(() => readDicomSeries(files), (e: unknown) => {
    assert.ok(e instanceof InvalidImageError, `expected InvalidImageError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

const DATE = new Date('2024-05-06T07:08:09Z');
const sagittal = columns([0, 1, 0], [0, 0, -1], cross([0, 1, 0], [0, 0, -1]));
const oblique = rotation(20, 20);
const tilted = columns([1, 0, 0], [0, 1, 0], [0, Math.sin(Math.PI / 12), Math.cos(Math.PI / 12)]);

describe('writeDicomSeries → readDicomSeries round trip', () => {
  const cases: [string, Volume<Int16Array>][] = [
    ['axial, identity geometry', phantom([5, 4, 3], [1, 1, 1], IDENTITY3, [0, 0, 0])],
    ['axial, non-uniform spacing, non-zero origin', phantom([3, 7, 6], [0.5, 0.75, 3], IDENTITY3, [-250.3, -180.7, 1234.5])],
    ['sagittal (rows along A, columns along I, normal along R)', phantom([4, 6, 5], [0.8, 1.2, 2], sagittal, [10, -20, 30])],
    ['oblique (20° about L and about S)', phantom([6, 5, 4], [0.7, 0.9, 2.5], oblique, [-120.5, 33.25, -410.125])],
    ['gantry tilt 15° (sheared k axis)', phantom([4, 4, 5], [0.6, 0.6, 1.25], tilted, [-10, 20, -30])],
  ];
  for (const [name, vol] of cases) {
    for (const [order, mix] of [['forward', false], ['reverse', false], ['reverse', true]] as const) {
      test(`${name}: ${order}${mix ? ', files shuffled' : ''}`, () => {
        const files = writeDicomSeries(vol, { sliceOrder: order, seed: name, date: DATE });
        const info = readDicomSeriesWithInfo(mix ? shuffle(files) : files);
        assertSameVolume(info.volume, vol);
        assert.ok(info.volume.data instanceof Int16Array);
        const byK = order === 'forward' ? files : [...files].reverse();
        assert.deepEqual(info.sopInstanceUids, byK.map(sopInstanceUid));
      });
    }
  }

  test('a k axis against the row × column normal reads back reversed, each voxel at the same world point', () => {
    const vol = phantom([3, 4, 5], [1, 2, 3], columns([1, 0, 0], [0, 1, 0], [0, 0, -1]), [5, 6, 7]);
    const back = readDicomSeries(writeDicomSeries(vol, { date: DATE }));
    assertClose(back.direction, IDENTITY3, 'direction');
    assertClose(back.origin, indexToWorld(vol, [0, 0, 4]), 'origin');
    for (let k = 0; k < 5; k++)
      for (let j = 0; j < 4; j++)
        for (let i = 0; i < 3; i++) {
          const [a, b, c] = worldToIndex(vol, indexToWorld(back, [i, j, k])).map(Math.round);
          assert.equal(back.data[i + 3 * (j + 4 * k)], vol.data[a + 3 * (b + 4 * c)]);
        }
  });

  const values: [string, Volume, (v: number) => number][] = [
    ['int32 values within int16 stay exact', { ...phantom([4, 3, 2], [1, 1, 1], IDENTITY3, [0, 0, 0]), data: Int32Array.from({ length: 24 }, (_, n) => n * 100 - 1000) }, () => 0],
    ['uint16 values over 32767 stay exact (integer intercept)', { ...phantom([4, 3, 2], [1, 1, 1], IDENTITY3, [0, 0, 0]), data: Uint16Array.from({ length: 24 }, (_, n) => n * 2600) }, () => 0],
    ['float values are quantised to within half a step', { ...phantom([4, 3, 2], [1, 1, 1], IDENTITY3, [0, 0, 0]), data: Float32Array.from({ length: 24 }, (_, n) => Math.sin(n) * 8.3 + 4.6) }, () => (16.6 / 65535) * 0.51],
  ];
  for (const [name, vol, tolerance] of values) {
    test(name, () => {
      const back = readDicomSeries(writeDicomSeries(vol, { date: DATE }));
      vol.data.forEach((v, n) => assert.ok(Math.abs(back.data[n] - v) <= tolerance(v), `voxel ${n}: ${back.data[n]} vs ${v}`));
    });
  }
});

describe('writeDicomSeries output', () => {
  const vol = phantom([5, 4, 3], [0.5, 0.75, 2], oblique, [1, 2, 3]);

  test('is Part 10 explicit VR little endian CT with the geometry tags', () => {
    const [file] = writeDicomSeries(vol, { patientName: 'Phantom^One', patientId: 'P1', seriesDescription: 'ramp', date: DATE });
    assert.equal(new TextDecoder().decode(file.bytes.subarray(128, 132)), 'DICM');
    const ds = dicomParser.parseDicom(file.bytes);
    const expected: [string, string | undefined][] = [
      ['x00020010', '1.2.840.10008.1.2.1'],
      ['x00080016', '1.2.840.10008.5.1.4.1.1.2'],
      ['x00020002', '1.2.840.10008.5.1.4.1.1.2'],
      ['x00080060', 'CT'],
      ['x00100010', 'Phantom^One'],
      ['x00100020', 'P1'],
      ['x0008103e', 'ramp'],
      ['x00080020', '20240506'],
      ['x00280030', '0.75\\0.5'],
      ['x00200013', '1'],
      ['x00281053', '1'],
      ['x00281052', '0'],
    ];
    for (const [tag, value] of expected) assert.equal(ds.text(tag), value, tag);
    assert.deepEqual([ds.uint16('x00280010'), ds.uint16('x00280011'), ds.uint16('x00280100'), ds.uint16('x00280103')], [4, 5, 16, 1]);
    assert.equal(ds.string('x00020003'), ds.string('x00080018'));
    assertClose([0, 1, 2].map((n) => ds.floatString('x00200032', n) ?? NaN), [1, 2, 3], 'ImagePositionPatient');
    assertClose([0, 1, 2, 3, 4, 5].map((n) => ds.floatString('x00200037', n) ?? NaN), [oblique[0], oblique[3], oblique[6], oblique[1], oblique[4], oblique[7]], 'ImageOrientationPatient', 1e-12);
  });

  test('UIDs are valid and follow the seed', () => {
    const uids = (opts: WriteDicomOptions) =>
      writeDicomSeries(vol, { date: DATE, ...opts }).flatMap((f) => ['x0020000d', 'x0020000e', 'x00200052', 'x00080018'].map((t) => dicomParser.parseDicom(f.bytes).string(t) ?? ''));
    const a = uids({ seed: 'a' });
    for (const uid of a) assert.match(uid, /^2\.25\.[1-9]\d{0,38}$/);
    assert.equal(new Set(a).size, 3 + 3, 'one study, series and frame of reference UID, three SOP instance UIDs');
    assert.deepEqual(uids({ seed: 'a' }), a);
    assert.notDeepEqual(uids({ seed: 'b' }), a);
    assert.notDeepEqual(uids({}), uids({}));
    for (const uid of uids({ seed: 1, uidRoot: '1.2.826.0.1.3680043.10.1234567' })) {
      assert.match(uid, /^1\.2\.826\.0\.1\.3680043\.10\.1234567\.[1-9]\d*$/);
      assert.ok(uid.length <= 64);
    }
    assert.equal(uids({ studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.4', seed: 1 })[0], '1.2.3');
    assert.throws(() => uids({ uidRoot: '1.02' }), RangeError);
  });

  test('same seed and date give byte-identical files', () => {
    const once = writeDicomSeries(vol, { seed: 7, date: DATE });
    assert.deepEqual(writeDicomSeries(vol, { seed: 7, date: DATE }), once);
  });

  test('rejects direction columns 0 and 1 that are not orthonormal', () => {
    assert.throws(() => writeDicomSeries({ ...vol, direction: [1, 1, 0, 0, 0, 0, 0, 0, 1] }), InvalidImageError);
  });
});

describe('readDicomSeries rejects what is not one consistent series', () => {
  const vol = phantom([4, 3, 6], [1, 1, 2], IDENTITY3, [0, 0, 0]);
  const files = writeDicomSeries(vol, { seed: 'hostile', date: DATE });

  test('two series, each listed with its number of files', () => {
    const other = writeDicomSeries(phantom([4, 3, 2], [1, 1, 2], IDENTITY3, [0, 0, 50]), { seriesInstanceUid: '2.25.2222', date: DATE });
    assertInvalid([...writeDicomSeries(vol, { seriesInstanceUid: '2.25.1111', date: DATE }), ...other], /2\.25\.1111 \(6 files\).*2\.25\.2222 \(2 files\)/);
  });

  const inconsistent: [string, [string, unknown[]], RegExp][] = [
    ['orientation', ['DS', [0, 1, 0, -1, 0, 0]], /ImageOrientationPatient differs.*slice-0003\.dcm/],
    ['pixel spacing', ['DS', [2, 2]], /PixelSpacing differs.*slice-0003\.dcm/],
    ['rows', ['US', [5]], /Rows differs.*slice-0003\.dcm/],
  ];
  const tags: Record<string, string> = { orientation: '00200037', 'pixel spacing': '00280030', rows: '00280010' };
  for (const [name, change, pattern] of inconsistent) {
    test(`inconsistent ${name}`, () => assertInvalid(files.map((f, n) => (n === 2 ? rewrite(f, { [tags[name]]: change }) : f)), pattern));
  }

  test('a missing slice', () => assertInvalid(files.filter((_, n) => n !== 3), /not uniform: slice-0003\.dcm .* to slice-0005\.dcm .* is 4 mm .* step 2 mm \(a missing slice\?\)/));
  test('a duplicate position', () => assertInvalid([...files, { ...files[1], name: 'copy.dcm' }], /two slices at one position: .*(slice-0002\.dcm.*copy\.dcm|copy\.dcm.*slice-0002\.dcm)/));
  test('a slice off the line of the others', () =>
    assertInvalid(files.map((f, n) => (n === 2 ? rewrite(f, { '00200032': ['DS', [0.5, 0, 4]] }) : f)), /not on a straight line: slice-0003\.dcm .* 0\.5 mm off/));
  test('a file that is not DICOM', () => assertInvalid([...files, { name: 'notes.txt', bytes: new TextEncoder().encode('not an image '.repeat(20)) }], /notes\.txt is not a readable DICOM/));
  test('a truncated file', () => assertInvalid([...files.slice(1), { ...files[0], bytes: files[0].bytes.subarray(0, files[0].bytes.length - 9) }], /slice-0001\.dcm is not a readable DICOM Part 10 file: .*overrun/));
  test('PixelData shorter than Rows × Columns', () => assertInvalid(files.map((f) => rewrite(f, { '00280010': ['US', [5]] })), /slice-0001\.dcm: PixelData holds 24 bytes, Rows × Columns × BitsAllocated needs 40/));
  test('a transfer syntax not read (deflate), named', () =>
    assertInvalid([rewrite(files[0], { '00020010': ['UI', ['1.2.840.10008.1.2.1.99']] }), ...files.slice(1)], /slice-0001\.dcm uses transfer syntax 1\.2\.840\.10008\.1\.2\.1\.99, which is not read; these are: .*1\.2\.840\.10008\.1\.2\.5 \(RLE lossless\)/));
  test('a compressed transfer syntax over pixels that are not compressed', () =>
    assertInvalid([rewrite(files[0], { '00020010': ['UI', ['1.2.840.10008.1.2.5']] }), ...files.slice(1)], /slice-0001\.dcm \(RLE lossless\): an RLE frame of 24 bytes has no complete 64-byte header/));
  test('a multi-frame image', () => assertInvalid([rewrite(files[0], { '00280008': ['IS', [2]] })], /multi-frame/));
  test('no files at all', () => assertInvalid([], /none of the 0 files/));

  test('a declared size over maxVoxels fails before allocating', () => {
    const huge = files.map((f) => rewrite(f, { '00280010': ['US', [40000]], '00280011': ['US', [40000]] }));
    assert.throws(() => readDicomSeries(huge, { limits: { maxVoxels: 1e6 } }), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxVoxels' && /40000×40000×6/.test(e.message));
  });
});

describe('readDicomSeries checks the geometry before copying pixels, and the values after', () => {
  const vol = phantom([4, 3, 6], [1, 1, 2], IDENTITY3, [0, 0, 0]);
  const files = writeDicomSeries(vol, { seed: 'geometry', date: DATE });
  const all = (changes: Record<string, [string, unknown[]]>) => files.map((f) => rewrite(f, changes));
  /** Re-encodes a file without one dataset attribute. */
  const without = (file: DicomInput, tag: string): DicomInput => {
    const dicom = dcmjs.DicomMessage.readFile(file.bytes.slice().buffer);
    delete dicom.dict[tag];
    return { name: file.name, bytes: new Uint8Array(dicom.write()) };
  };

  const rejected: [string, () => DicomInput[], RegExp][] = [
    ['PixelSpacing 1e-30', () => all({ '00280030': ['DS', ['1e-30', '1e-30']] }), /^DICOM PixelSpacing\[1\] \(between columns\) is 1e-30 mm: a voxel size must be from 0\.001 to 10000 mm$/],
    ['PixelSpacing of 20 m between rows', () => all({ '00280030': ['DS', [20000, 1]] }), /^DICOM PixelSpacing\[0\] \(between rows\) is 20000 mm/],
    ['slices 20 m apart', () => writeDicomSeries(phantom([4, 3, 3], [1, 1, 20000], IDENTITY3, [0, 0, 0]), { date: DATE }), /^DICOM slice step \(from ImagePositionPatient\) is 20000 mm/],
    ['a single slice with SliceThickness 1e-30', () => [rewrite(files[0], { '00180050': ['DS', ['1e-30']] })], /^DICOM SliceThickness is 1e-30 mm/],
    ['RescaleSlope NaN on every slice', () => all({ '00281053': ['DS', ['NaN']] }), /^DICOM series [\d.]+: all 72 voxels are NaN\/Inf$/],
  ];
  for (const [name, make, pattern] of rejected) test(`refused: ${name}`, () => assertInvalid(make(), pattern));

  const read = (input: DicomInput[]) => {
    const warnings: string[] = [];
    return { volume: readDicomSeries(input, { onWarning: (w) => warnings.push(w) }), warnings };
  };

  test('a single slice without SliceThickness: 1 mm, one warning', () => {
    const { volume, warnings } = read([without(files[0], '00180050')]);
    assert.deepEqual(volume.spacing, [1, 1, 1]);
    assert.deepEqual(warnings, ['DICOM slice-0001.dcm is a single slice without a positive SliceThickness: 1 mm assumed along the slice normal']);
    assert.deepEqual(read(files).warnings, [], 'a whole series: none');
  });

  test('RescaleSlope NaN on one slice: its 12 voxels kept as NaN, one warning', () => {
    const { volume, warnings } = read(files.map((f, n) => (n === 2 ? rewrite(f, { '00281053': ['DS', ['NaN']] }) : f)));
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0], /^DICOM series [\d.]+: 12 of 72 voxels are NaN\/Inf; they are left as they are$/);
    assert.equal(Array.from(volume.data).filter(Number.isNaN).length, 12);
  });
});

const PYDICOM = new URL('../../../.cache/test-data/python3-pydicom/usr/lib/python3/dist-packages/pydicom/data/test_files/', import.meta.url);
const skip = !existsSync(PYDICOM) && 'real DICOM files missing: run scripts/fetch-test-data.sh';
const real = (...paths: string[]) => paths.map((path) => ({ name: path, bytes: new Uint8Array(readFileSync(new URL(path, PYDICOM))) }));
function sliceSums({ data, dims }: Volume): number[] {
  const n = dims[0] * dims[1];
  return Array.from({ length: dims[2] }, (_, k) => {
    let sum = 0;
    for (let p = k * n; p < (k + 1) * n; p++) sum += data[p];
    return sum;
  });
}

// Expected values from pydicom 2.3.1 (raw PixelData × RescaleSlope + RescaleIntercept), computed independently.
describe('real DICOM files (pydicom test data)', { skip }, () => {
  test('a 5-slice CT folder with a DICOMDIR and an SR: sorted by position, not InstanceNumber', () => {
    const ct = ['3353', '3023', '2693', '2392', '2062'].map((f) => `dicomdirtests/98892001/CT5N/${f}`);
    const info = readDicomSeriesWithInfo(real('dicomdirtests/DICOMDIR', 'test-SR.dcm', ...[...ct].reverse()));
    const v = info.volume;
    assert.deepEqual(v.dims, [16, 16, 5]);
    assert.ok(v.data instanceof Int16Array);
    assertClose(v.spacing, [0.488281, 0.488281, 2.5], 'spacing');
    assertClose(v.direction, IDENTITY3, 'direction');
    assertClose(v.origin, [-72.199997, -143, -1.2375], 'origin');
    assert.deepEqual(sliceSums(v), [-17594, -9701, -10964, -48364, -90697]);
    assert.deepEqual([v.data[0], v.data[5 * 16 + 3], v.data[2 * 256 + 255]], [-33, -156, -666]);
    assert.deepEqual(info.sopInstanceUids, [16, 15, 14, 13, 12].map((n) => `1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.${n}`));
    assert.equal(info.seriesInstanceUid, '1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.6');
  });

  test('CT_small.dcm, one slice', () => {
    const v = readDicomSeries(real('CT_small.dcm'));
    assert.deepEqual(v.dims, [128, 128, 1]);
    assertClose(v.spacing, [0.661468, 0.661468, 5], 'spacing');
    assertClose(v.origin, [-158.135803, -179.035797, -75.699997], 'origin');
    assert.deepEqual(sliceSums(v), [-1950906]);
    assert.deepEqual([v.data[0], v.data[20 * 128 + 10], v.data[128 * 128 - 1]], [-849, -690, -115]);
  });

  test('MR_small in explicit little, implicit little and explicit big endian gives the same volume', () => {
    const [le, implicit, be] = ['MR_small.dcm', 'MR_small_implicit.dcm', 'MR_small_bigendian.dcm'].map((f) => readDicomSeries(real(f)));
    assert.deepEqual(sliceSums(le), [2125338]);
    assert.deepEqual([le.data[0], le.data[20 * 64 + 10], le.data[64 * 64 - 1]], [905, 228, 862]);
    assertClose(le.spacing, [0.3125, 0.3125, 0.8], 'spacing');
    assertSameVolume(implicit, le);
    assertSameVolume(be, le);
  });

  const rejected: [string, string[], RegExp][] = [
    ['multi-frame RT dose', ['rtdose.dcm'], /rtdose\.dcm is a multi-frame image \(15 frames\)/],
    ['a gap of 202.5 mm in a 1.25 mm stack', ['17106', '17136', '17166', '17196'].map((f) => `dicomdirtests/77654033/CT2/${f}`), /not uniform: .*17106 .* 202\.5 mm .* step 1\.25 mm/],
    ['two localizers of different orientation', ['6293', '6924'].map((f) => `dicomdirtests/98892001/CT2N/${f}`), /ImageOrientationPatient differs/],
    ['only non-image files', ['dicomdirtests/DICOMDIR', 'test-SR.dcm'], /none of the 2 files is a DICOM image/],
  ];
  for (const [name, paths, pattern] of rejected) test(`rejects ${name}`, () => assertInvalid(real(...paths), pattern));
});

describe('malformed elements found by the stress fuzz (npm run stress) are InvalidImageErrors, not crashes', () => {
  const vol: Volume<Int16Array> = { data: new Int16Array(4 * 3 * 2).fill(7), dims: [4, 3, 2], spacing: [0.75, 0.75, 2], direction: [...IDENTITY3] as Mat3, origin: [0, 0, 0] };
  /** The offset of an explicit-VR little-endian element's value, and its length. */
  const find = (bytes: Uint8Array, group: number, element: number): { at: number; length: number } => {
    for (let o = 132; o + 8 < bytes.length; o++) {
      if (bytes[o] === (group & 0xff) && bytes[o + 1] === group >> 8 && bytes[o + 2] === (element & 0xff) && bytes[o + 3] === element >> 8 && bytes[o + 4] >= 0x41 && bytes[o + 4] <= 0x5a) {
        return { at: o + 8, length: bytes[o + 6] | (bytes[o + 7] << 8) };
      }
    }
    throw new Error('element not found');
  };
  test('PixelSpacing with one value instead of two', () => {
    const files = writeDicomSeries(vol, { date: DATE }).map((f) => {
      const bytes = f.bytes.slice();
      const { at, length } = find(bytes, 0x0028, 0x0030);
      bytes.set(new TextEncoder().encode('6'.padEnd(length, ' ')), at);
      return { ...f, bytes };
    });
    assert.throws(() => readDicomSeries(files), (e: Error) => e instanceof InvalidImageError && /PixelSpacing: 1 value, 2 needed/.test(e.message));
  });
  test('a TransferSyntaxUID whose length runs past the end of the file', () => {
    const files = writeDicomSeries(vol, { date: DATE });
    const bytes = files[0].bytes.slice();
    const { at } = find(bytes, 0x0002, 0x0010);
    bytes[at - 2] = 0xfe;
    bytes[at - 1] = 0xff;
    assert.throws(() => readDicomSeries([{ ...files[0], bytes }, ...files.slice(1)]), (e: Error) => e instanceof InvalidImageError);
  });
});
