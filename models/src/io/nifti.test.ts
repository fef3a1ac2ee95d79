import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidImageError, LimitExceededError } from '../errors.ts';
import { indexToWorld, sameGrid, worldToIndex, type Mat3, type Vec3, type Volume, type VoxelArray } from '../geometry/volume.ts';
import { loadMricron } from '../../test/support/realData.ts';
import { gzip, isGzip } from './gzip.ts';
import { readNifti, writeNifti } from './nifti.ts';
import type { VoxelArrayConstructor } from './voxelBytes.ts';

// ---- fixtures -------------------------------------------------------------------------------------------

/** Row-major rotation Rz(az)·Ry(ay)·Rx(ax), angles in degrees. */
function rotation(ax: number, ay: number, az: number): Mat3 {
  const [a, b, c] = [ax, ay, az].map((d) => (d * Math.PI) / 180);
  const rx = [1, 0, 0, 0, Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a)];
  const ry = [Math.cos(b), 0, Math.sin(b), 0, 1, 0, -Math.sin(b), 0, Math.cos(b)];
  const rz = [Math.cos(c), -Math.sin(c), 0, Math.sin(c), Math.cos(c), 0, 0, 0, 1];
  const mul = (p: number[], q: number[]) => p.map((_, k) => [0, 1, 2].reduce((s, t) => s + p[3 * Math.floor(k / 3) + t] * q[3 * t + (k % 3)], 0));
  return mul(rz, mul(ry, rx)) as Mat3;
}

const TYPES: Array<[VoxelArrayConstructor, number[]]> = [
  [Uint8Array, [0, 255]],
  [Int8Array, [-128, 127]],
  [Int16Array, [-32768, 32767]],
  [Uint16Array, [0, 65535]],
  [Int32Array, [-(2 ** 31), 2 ** 31 - 1]],
  [Uint32Array, [0, 2 ** 32 - 1]],
  [Float32Array, [-3.5e38, 1.5e-38]],
  [Float64Array, [-1.7e308, 4.9e-324]],
];

function sample(ctor: VoxelArrayConstructor, extremes: number[], direction: Mat3): Volume {
  const data = new ctor(4 * 3 * 2);
  data.forEach((_, k) => (data[k] = k * 3));
  data[5] = extremes[0];
  data[17] = extremes[1];
  return { data, dims: [4, 3, 2], spacing: [0.7, 1.3, 2.5], direction, origin: [-12.5, 40.25, 7] };
}

interface HeaderSpec {
  version?: 1 | 2;
  littleEndian?: boolean;
  /** dim[0], dim[1], … (the rest are 1). */
  dim: number[];
  datatype: number;
  pixdim?: number[];
  voxOffset?: number;
  sclSlope?: number;
  sclInter?: number;
  xyztUnits?: number;
  qformCode?: number;
  sformCode?: number;
  quatern?: number[];
  qoffset?: number[];
  srow?: number[];
  magic?: string;
}

/** A hand-built NIfTI-1 or NIfTI-2 file: header fields at the standard's offsets, then `payload` at vox_offset. */
function buildNifti(h: HeaderSpec, payload: Uint8Array = new Uint8Array()): Uint8Array {
  const v2 = h.version === 2;
  const le = h.littleEndian ?? true;
  const voxOffset = h.voxOffset ?? (v2 ? 544 : 352);
  const out = new Uint8Array(Math.max(voxOffset, v2 ? 540 : 348) + payload.length);
  const view = new DataView(out.buffer);
  const dim = [...h.dim, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  const pixdim = [...(h.pixdim ?? [1, 1, 1, 1]), 1, 1, 1, 1, 1].slice(0, 8);
  const magic = h.magic ?? (v2 ? 'n+2\0\r\n\x1a\n' : 'n+1\0');
  const put = (text: string, at: number) => out.set(Array.from(text, (ch) => ch.charCodeAt(0)), at);
  const floats = (values: number[] | undefined, at: number) =>
    values?.forEach((x, k) => (v2 ? view.setFloat64(at + 8 * k, x, le) : view.setFloat32(at + 4 * k, x, le)));
  if (v2) {
    view.setInt32(0, 540, le);
    put(magic, 4);
    view.setInt16(12, h.datatype, le);
    dim.forEach((d, k) => view.setBigInt64(16 + 8 * k, BigInt(d), le));
    floats(pixdim, 104);
    view.setBigInt64(168, BigInt(voxOffset), le);
    floats([h.sclSlope ?? 0, h.sclInter ?? 0], 176);
    view.setInt32(344, h.qformCode ?? 0, le);
    view.setInt32(348, h.sformCode ?? 0, le);
    floats(h.quatern, 352);
    floats(h.qoffset, 376);
    floats(h.srow, 400);
    view.setInt32(500, h.xyztUnits ?? 2, le);
  } else {
    view.setInt32(0, 348, le);
    dim.forEach((d, k) => view.setInt16(40 + 2 * k, d, le));
    view.setInt16(70, h.datatype, le);
    floats(pixdim, 76);
    view.setFloat32(108, voxOffset, le);
    floats([h.sclSlope ?? 0, h.sclInter ?? 0], 112);
    out[123] = h.xyztUnits ?? 2;
    view.setInt16(252, h.qformCode ?? 0, le);
    view.setInt16(254, h.sformCode ?? 0, le);
    floats(h.quatern, 256);
    floats(h.qoffset, 268);
    floats(h.srow, 280);
    put(magic, 344);
  }
  out.set(payload, voxOffset);
  return out;
}

const SETTERS: Record<number, [number, (v: DataView, at: number, x: number, le: boolean) => void]> = {
  2: [1, (v, at, x) => v.setUint8(at, x)],
  4: [2, (v, at, x, le) => v.setInt16(at, x, le)],
  16: [4, (v, at, x, le) => v.setFloat32(at, x, le)],
  64: [8, (v, at, x, le) => v.setFloat64(at, x, le)],
};

/** Voxel values encoded as NIfTI `datatype` in the given byte order. */
function encode(values: number[], datatype: number, le = true): Uint8Array {
  const [size, set] = SETTERS[datatype];
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((x, k) => set(view, k * size, x, le));
  return out;
}

const ramp = (n: number) => Array.from({ length: n }, (_, k) => k - 7);

function assertClose(actual: readonly number[], expected: readonly number[], what: string, tol = 1e-5): void {
  assert.ok(actual.every((x, k) => Math.abs(x - expected[k]) <= tol), `${what}: got [${actual.join(', ')}], expected [${expected.join(', ')}]`);
}

// ---- tests ----------------------------------------------------------------------------------------------

describe('writeNifti → readNifti round trip', () => {
  for (const [ctor, extremes] of TYPES) {
    for (const gz of [true, false]) {
      test(`${ctor.name}, ${gz ? 'gzipped' : 'uncompressed'}, oblique improper direction`, () => {
        const direction = rotation(20, -35, 10).map((x, k) => (k % 3 === 1 ? -x : x)) as Mat3; // det −1
        const vol = sample(ctor, extremes, direction);
        const bytes = writeNifti(vol, { gzip: gz });
        assert.equal(isGzip(bytes), gz);
        const back = readNifti(bytes);
        assert.equal(back.data.constructor, ctor);
        assert.deepEqual(back.data, vol.data);
        assert.deepEqual(back.dims, vol.dims);
        assert.ok(sameGrid(back, vol, 1e-5), `grid differs: ${JSON.stringify(back)}`);
      });
    }
  }

  test('header fields: sform and qform both set (code 1), qfac −1 for an improper direction, scl_slope 1', () => {
    const proper = sample(Int16Array, [0, 0], rotation(10, 20, 30));
    const improper = { ...proper, direction: [1, 0, 0, 0, -1, 0, 0, 0, 1] as Mat3 };
    for (const [vol, qfac] of [[proper, 1], [improper, -1]] as const) {
      const view = new DataView(writeNifti(vol, { gzip: false }).buffer);
      assert.equal(view.getInt16(252, true), 1, 'qform_code');
      assert.equal(view.getInt16(254, true), 1, 'sform_code');
      assert.equal(view.getFloat32(76, true), qfac, 'pixdim[0] = qfac');
      assert.equal(view.getFloat32(112, true), 1, 'scl_slope');
      assert.equal(view.getInt16(70, true), 4, 'datatype int16');
    }
  });

  test('the qform alone (sform_code zeroed) gives back the same geometry, proper and improper', () => {
    for (const direction of [rotation(15, -40, 100), rotation(170, 5, -60).map((x, k) => (k % 3 === 2 ? -x : x)) as Mat3, [0, -1, 0, 0, 0, 1, -1, 0, 0] as Mat3]) {
      const vol = sample(Uint8Array, [0, 255], direction);
      const bytes = writeNifti(vol, { gzip: false });
      bytes[254] = bytes[255] = 0; // sform_code = 0
      assert.ok(sameGrid(readNifti(bytes), vol, 1e-5), `direction ${direction.join(', ')}`);
    }
  });

  test('NIfTI-2, little and big endian, give the same volume as NIfTI-1', () => {
    const values = ramp(24);
    const spec = { dim: [3, 4, 3, 2], datatype: 4, pixdim: [1, 2, 3, 4], sformCode: 1, srow: [0, 0, 4, -5, 2, 0, 0, 6, 0, 3, 0, 7] };
    const expected: Omit<Volume, 'data'> = { dims: [4, 3, 2], spacing: [2, 3, 4], direction: [0, 0, -1, -1, 0, 0, 0, 1, 0], origin: [5, -6, 7] };
    for (const version of [1, 2] as const) {
      for (const littleEndian of [true, false]) {
        const vol = readNifti(buildNifti({ ...spec, version, littleEndian }, encode(values, 4, littleEndian)));
        assert.ok(vol.data instanceof Int16Array);
        assert.deepEqual(Array.from(vol.data), values, `NIfTI-${version} ${littleEndian ? 'LE' : 'BE'}`);
        assert.ok(sameGrid(vol, expected), `NIfTI-${version} ${littleEndian ? 'LE' : 'BE'}: ${JSON.stringify(vol)}`);
      }
    }
  });

  test('big-endian float64 NIfTI-2 and float32 NIfTI-1, gzipped', () => {
    const values = ramp(6).map((x) => x / 4);
    for (const [version, datatype] of [[2, 64], [1, 16]] as const) {
      const file = gzip(buildNifti({ version, littleEndian: false, dim: [3, 3, 2, 1], datatype }, encode(values, datatype, false)));
      assert.deepEqual(Array.from(readNifti(file).data), values);
    }
  });
});

describe('readNifti geometry: the standard\'s choice of sform, qform or pixdim, converted to LPS', () => {
  const c30 = Math.cos(Math.PI / 6);
  const QFORM = /^NIfTI sform_code is 0: geometry from the qform \(qform_code 1\)$/;
  const METHOD1 = /^NIfTI sform_code and qform_code are both 0: geometry from pixdim alone \(NIfTI method 1: axes along RAS, origin 0\)$/;
  const cases: Array<{ name: string; spec: Partial<HeaderSpec>; spacing: Vec3; direction: Mat3; origin: Vec3; warning?: RegExp }> = [
    {
      name: 'sform_code > 0 wins over a different qform',
      spec: { sformCode: 2, srow: [2, 0, 0, 10, 0, 3, 0, 20, 0, 0, 4, 30], qformCode: 1, quatern: [0, 0, Math.SQRT1_2], qoffset: [1, 2, 3] },
      spacing: [2, 3, 4], direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1], origin: [-10, -20, 30],
    },
    {
      name: 'qform (sform_code 0): 90° about z',
      spec: { sformCode: 0, srow: [9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9], qformCode: 1, quatern: [0, 0, Math.SQRT1_2], qoffset: [1, 2, 3] },
      spacing: [2, 3, 4], direction: [0, 1, 0, -1, 0, 0, 0, 0, 1], origin: [-1, -2, 3], warning: QFORM,
    },
    {
      name: 'qform with qfac −1 (pixdim[0] = −1) flips the third axis',
      spec: { qformCode: 1, quatern: [0, 0, 0], qoffset: [1, 2, 3], pixdim: [-1, 2, 3, 4] },
      spacing: [2, 3, 4], direction: [-1, 0, 0, 0, -1, 0, 0, 0, -1], origin: [-1, -2, 3], warning: QFORM,
    },
    {
      name: 'qform 180° about x (b = 1, a = 0)',
      spec: { qformCode: 1, quatern: [1, 0, 0], qoffset: [0, 0, 0] },
      spacing: [2, 3, 4], direction: [-1, 0, 0, 0, 1, 0, 0, 0, -1], origin: [0, 0, 0], warning: QFORM,
    },
    {
      // a = cos 60°, (b, c, d) = sin 60° · (1,1,1)/√3 = (½, ½, ½): RAS R = [[0,0,1],[1,0,0],[0,1,0]]
      name: 'qform 120° about (1,1,1): a cyclic axis permutation',
      spec: { qformCode: 1, quatern: [0.5, 0.5, 0.5], qoffset: [10, -20, 30] },
      spacing: [2, 3, 4], direction: [0, 0, -1, -1, 0, 0, 0, 1, 0], origin: [-10, 20, 30], warning: QFORM,
    },
    {
      // a = cos 15°, d = sin 15°: RAS R = [[cos30, −sin30, 0], [sin30, cos30, 0], [0, 0, 1]]
      name: 'qform 30° about z (oblique)',
      spec: { qformCode: 1, quatern: [0, 0, Math.sin(Math.PI / 12)], qoffset: [5, 6, 7] },
      spacing: [2, 3, 4], direction: [-c30, 0.5, 0, -0.5, -c30, 0, 0, 0, 1], origin: [-5, -6, 7], warning: QFORM,
    },
    {
      name: 'neither code: pixdim scaling only (method 1), RAS axes, origin 0',
      spec: { qoffset: [1, 2, 3], srow: [9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9] },
      spacing: [2, 3, 4], direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1], origin: [0, 0, 0], warning: METHOD1,
    },
    {
      name: 'xyzt_units meter: sform scaled to mm',
      spec: { xyztUnits: 1, sformCode: 1, srow: [0.002, 0, 0, 0.01, 0, 0.003, 0, 0.02, 0, 0, 0.004, 0.03] },
      spacing: [2, 3, 4], direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1], origin: [-10, -20, 30],
    },
  ];
  for (const c of cases) {
    for (const version of [1, 2] as const) {
      test(`NIfTI-${version}: ${c.name}`, () => {
        const warnings: string[] = [];
        const vol = readNifti(buildNifti({ pixdim: [1, 2, 3, 4], ...c.spec, version, dim: [3, 2, 2, 2], datatype: 2 }, new Uint8Array(8)), { onWarning: (w) => warnings.push(w) });
        assert.equal(warnings.length, c.warning ? 1 : 0, `warnings: ${JSON.stringify(warnings)}`);
        if (c.warning) assert.match(warnings[0], c.warning);
        assertClose(vol.spacing, c.spacing, 'spacing');
        assertClose(vol.direction, c.direction, 'direction');
        assertClose(vol.origin, c.origin, 'origin', 1e-4);
      });
    }
  }

  test('the 120° case maps voxel (1,1,1) to the hand-computed LPS point', () => {
    // RAS: R·(2,3,4) + (10,−20,30) = (4,2,3) + (10,−20,30) = (14,−18,33) → LPS (−14, 18, 33)
    const vol = readNifti(buildNifti({ dim: [3, 2, 2, 2], datatype: 2, pixdim: [1, 2, 3, 4], qformCode: 1, quatern: [0.5, 0.5, 0.5], qoffset: [10, -20, 30] }, new Uint8Array(8)));
    assertClose(indexToWorld(vol, [1, 1, 1]), [-14, 18, 33], 'world');
  });
});

describe('readNifti scl_slope / scl_inter', () => {
  const values = ramp(8);
  const cases: Array<[string, number, number, typeof Int16Array | typeof Float32Array, number[]]> = [
    ['slope 2, inter −1 → float32', 2, -1, Float32Array, values.map((x) => 2 * x - 1)],
    ['slope 0 means none', 0, 5, Int16Array, values],
    ['slope NaN means none', NaN, 5, Int16Array, values],
    ['slope 1, inter 0 is the identity: type kept', 1, 0, Int16Array, values],
    ['slope 1, inter 1000 → float32', 1, 1000, Float32Array, values.map((x) => x + 1000)],
  ];
  for (const [name, sclSlope, sclInter, ctor, expected] of cases) {
    test(name, () => {
      const vol = readNifti(buildNifti({ dim: [3, 2, 2, 2], datatype: 4, sclSlope, sclInter }, encode(values, 4)));
      assert.equal(vol.data.constructor, ctor);
      assert.deepEqual(Array.from(vol.data), expected);
    });
  }
});

describe('readNifti refuses hostile and unsupported files with typed errors', () => {
  const int16 = (dim: number[], extra: Partial<HeaderSpec> = {}) => buildNifti({ dim, datatype: 4, ...extra }, new Uint8Array(48));

  test('truncated data: says how many bytes were expected and present', () => {
    const bytes = writeNifti(sample(Int16Array, [0, 0], rotation(0, 0, 0)), { gzip: false });
    assert.equal(bytes.length, 400);
    assert.throws(() => readNifti(bytes.subarray(0, 390)), (e: unknown) => e instanceof InvalidImageError && /expected 400 bytes .*only 390 are present/.test(e.message));
    assert.throws(() => readNifti(gzip(bytes.subarray(0, 390))), /expected 400 bytes .*only 390 are present/);
  });

  test('truncated header', () => {
    assert.throws(() => readNifti(int16([3, 4, 3, 2]).subarray(0, 100)), (e: unknown) => e instanceof InvalidImageError && /348-byte header but only 100 bytes/.test(e.message));
  });

  test('huge declared dims on a small file: LimitExceededError before allocating', () => {
    const cases = [buildNifti({ version: 2, dim: [3, 100000, 100000, 100000], datatype: 4 }, new Uint8Array(48)), int16([3, 32767, 32767, 32767])];
    for (const bytes of cases) {
      assert.ok(bytes.length < 600);
      assert.throws(() => readNifti(bytes), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxVoxels' && /declares \d+×\d+×\d+ voxels/.test(e.message));
    }
  });

  test('dims within maxVoxels but beyond the file: truncation error, no 250 MB allocation', () => {
    assert.throws(() => readNifti(int16([3, 500, 500, 500])), (e: unknown) => e instanceof InvalidImageError && /expected 250000352 bytes .*only 400 are present/.test(e.message));
  });

  test('a small limit on voxels is honoured', () => {
    assert.throws(() => readNifti(int16([3, 4, 3, 2]), { limits: { maxVoxels: 10 } }), (e: unknown) => e instanceof LimitExceededError && e.max === 10 && e.value === 24);
  });

  test('gzip bomb: stops at maxDecompressedBytes', () => {
    const bomb = gzip(buildNifti({ dim: [3, 256, 256, 128], datatype: 4 }, new Uint8Array(256 * 256 * 128 * 2)), { level: 9 });
    assert.ok(bomb.length < 100_000, `bomb is ${bomb.length} bytes`);
    assert.throws(() => readNifti(bomb, { limits: { maxDecompressedBytes: 1 << 20 } }), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxDecompressedBytes' && /decompresses to more than allowed/.test(e.message));
  });

  test('bad magic, bad sizeof_hdr, two-file NIfTI, corrupt gzip', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [int16([3, 4, 3, 2], { magic: 'abc\0' }), /not a NIfTI-1 file: magic is "abc\\u0000" \(expected "n\+1"\)/],
      [buildNifti({ version: 2, dim: [3, 4, 3, 2], datatype: 4, magic: 'n+2\0xxxx' }), /not a NIfTI-2 file: magic/],
      [new Uint8Array(400).fill(7), /not a NIfTI file: sizeof_hdr is 117901063 \(expected 348 for NIfTI-1 or 540 for NIfTI-2\)/],
      [new Uint8Array(2), /not a NIfTI file: only 2 bytes/],
      [int16([3, 4, 3, 2], { magic: 'ni1\0' }), /two-file NIfTI-1/],
      [new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]), /not valid gzip data/],
    ];
    for (const [bytes, message] of cases) assert.throws(() => readNifti(bytes), (e: unknown) => e instanceof InvalidImageError && message.test(e.message), String(message));
  });

  test('more than one 3D volume: 5D and 4D with 2 timepoints refused; trailing dims of 1 accepted', () => {
    assert.throws(() => readNifti(int16([5, 4, 3, 2, 1, 3])), (e: unknown) => e instanceof InvalidImageError && /5D with dim = \[4, 3, 2, 1, 3\] \(3 volumes\)/.test(e.message));
    assert.throws(() => readNifti(int16([4, 2, 3, 2, 2])), /4D .*2 volumes/);
    assert.deepEqual(readNifti(int16([4, 4, 3, 2, 1])).dims, [4, 3, 2]);
    assert.deepEqual(readNifti(int16([5, 4, 3, 2, 1, 1])).dims, [4, 3, 2]);
    assert.deepEqual(readNifti(int16([2, 4, 3])).dims, [4, 3, 1]);
    assert.throws(() => readNifti(int16([3, 4, 0, 2])), /dims 4×0×2 are not positive integers/);
    assert.throws(() => readNifti(int16([9, 4, 3, 2])), /dim\[0\] is 9/);
  });

  test('unsupported datatypes are named', () => {
    for (const [code, name] of [[32, 'complex64'], [128, 'RGB24'], [2304, 'RGBA32'], [1024, 'int64'], [1, 'binary']] as const) {
      assert.throws(() => readNifti(buildNifti({ dim: [3, 1, 1, 1], datatype: code }, new Uint8Array(16))), (e: unknown) => e instanceof InvalidImageError && e.message.includes(`datatype ${code} (${name}) is not supported`));
    }
    assert.throws(() => readNifti(buildNifti({ dim: [3, 1, 1, 1], datatype: 999 })), /datatype 999 is not supported: expected one of uint8, int16/);
  });

  test('vox_offset inside the header', () => {
    assert.throws(() => readNifti(buildNifti({ dim: [3, 1, 1, 1], datatype: 4, voxOffset: 100 })), /vox_offset 100 is invalid: expected an integer of at least 348/);
  });
});

describe('readNifti checks every geometry field and takes the standard\'s fallbacks, saying so', () => {
  /** A valid NIfTI-1 file: sform and qform both code 1, one oblique geometry; header fields then patched. */
  const GOOD = sample(Int16Array, [0, 0], rotation(10, 20, 30));
  type Patch = [offset: number, type: 'f32' | 'i16', value: number];
  const f32 = (at: number, x: number): Patch => [at, 'f32', x];
  const pixdim = (i: number, x: number) => f32(76 + 4 * i, x);
  const quatern = (k: number, x: number) => f32(256 + 4 * k, x);
  const qoffset = (k: number, x: number) => f32(268 + 4 * k, x);
  const srow = (row: number, col: number, x: number) => f32(280 + 16 * row + 4 * col, x);
  /** The whole sform, rows srow_x, srow_y, srow_z. */
  const sform = (rows: number[][]) => rows.flatMap((r, row) => r.map((x, col) => srow(row, col, x)));
  const NO_QFORM: Patch = [252, 'i16', 0];
  const NO_SFORM: Patch = [254, 'i16', 0];

  function patched(patches: Patch[], vol: Volume = GOOD): Uint8Array {
    const bytes = writeNifti(vol, { gzip: false });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (const [at, type, x] of patches) (type === 'f32' ? view.setFloat32(at, x, true) : view.setInt16(at, x, true));
    return bytes;
  }

  function read(bytes: Uint8Array): { vol: Volume; warnings: string[] } {
    const warnings: string[] = [];
    return { vol: readNifti(bytes, { onWarning: (w) => warnings.push(w) }), warnings };
  }

  const rejected: Array<[string, Patch[], RegExp]> = [
    ['pixdim[2] NaN (even with a valid sform)', [pixdim(2, NaN)], /^NIfTI pixdim\[2\] is NaN$/],
    ['pixdim[1] 0', [pixdim(1, 0)], /^NIfTI pixdim\[1\] is 0 mm: a voxel size must be from 0\.001 to 10000 mm$/],
    ['pixdim[3] 1e-30', [pixdim(3, 1e-30)], /^NIfTI pixdim\[3\] is 1\.0*\d*e-30 mm: a voxel size must be from/],
    ['pixdim[1] Infinity', [pixdim(1, Infinity)], /^NIfTI pixdim\[1\] is Infinity$/],
    ['pixdim[2] 20 m', [pixdim(2, 20000)], /^NIfTI pixdim\[2\] is 20000 mm/],
    ['srow_x NaN, no qform', [srow(0, 1, NaN), NO_QFORM], /^NIfTI srow_x holds NaN \(sform_code 1; qform_code is 0: no qform to fall back on\)$/],
    ['srow_z offset Infinity, no qform', [srow(2, 3, Infinity), NO_QFORM], /^NIfTI srow_z holds Infinity /],
    ['srow_y −Infinity, no qform', [srow(1, 0, -Infinity), NO_QFORM], /^NIfTI srow_y holds -Infinity /],
    ['sform all zeros, no qform', [...sform([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]), NO_QFORM], /^NIfTI sform is all zeros \(srow_x, srow_y, srow_z\)/],
    ['sform with two equal axes, no qform', [...sform([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]]), NO_QFORM], /^NIfTI sform is rank-deficient: its axes are \(nearly\) linearly dependent \(\|det\| of the unit axes is 0, at least 0\.1 is needed\)/],
    ['sform with nearly equal axes, no qform', [...sform([[1, 1, 0, 0], [0, 0.01, 0, 0], [0, 0, 1, 0]]), NO_QFORM], /^NIfTI sform is rank-deficient: .*\|det\| of the unit axes is 0\.01[, ]/],
    ['sform with a zero axis, no qform', [...sform([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]), NO_QFORM], /^NIfTI sform axis 2 \(srow_x\/y\/z\[2\]\) is 0 mm: a voxel size must be from/],
    ['sform with a 1e-30 mm axis, no qform', [...sform([[1e-30, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]), NO_QFORM], /^NIfTI sform axis 0 \(srow_x\/y\/z\[0\]\) is 1\.0*\d*e-30 mm/],
    ['qform (sform_code 0) with quatern_b NaN', [NO_SFORM, quatern(0, NaN)], /^NIfTI quatern_b is NaN$/],
    ['qform (sform_code 0) with qoffset_y Infinity', [NO_SFORM, qoffset(1, Infinity)], /^NIfTI qoffset_y is Infinity$/],
    ['qform (sform_code 0) with |(b, c, d)| = 2', [NO_SFORM, quatern(0, 2), quatern(1, 0), quatern(2, 0)], /^NIfTI quatern_b\/c\/d \(2, 0, 0\) has length 2: the vector part of a unit quaternion is at most 1 long$/],
    ['an invalid sform and an invalid qform to fall back on', [srow(1, 2, NaN), quatern(1, NaN)], /^NIfTI srow_y holds NaN, and the qform to fall back on is invalid too: NIfTI quatern_c is NaN$/],
  ];
  for (const [name, patches, message] of rejected) {
    test(`refused: ${name}`, () => {
      assert.throws(() => readNifti(patched(patches)), (e: unknown) => e instanceof InvalidImageError && message.test(e.message), String(message));
    });
  }

  const method1: Omit<Volume, 'data'> = { dims: GOOD.dims, spacing: GOOD.spacing, direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1], origin: [0, 0, 0] };
  const fallbacks: Array<[string, Patch[], Omit<Volume, 'data'>, RegExp]> = [
    ['srow_x NaN → the qform', [srow(0, 1, NaN)], GOOD, /^NIfTI sform refused \(srow_x holds NaN\): geometry from the qform \(qform_code 1\) instead$/],
    ['sform all zeros → the qform', sform([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]), GOOD, /^NIfTI sform refused \(sform is all zeros \(srow_x, srow_y, srow_z\)\): geometry from the qform/],
    ['sform rank-deficient → the qform', sform([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]]), GOOD, /^NIfTI sform refused \(sform is rank-deficient: .*\): geometry from the qform \(qform_code 1\) instead$/],
    ['sform_code 0 → the qform', [NO_SFORM, srow(0, 0, NaN)], GOOD, /^NIfTI sform_code is 0: geometry from the qform \(qform_code 1\)$/],
    ['both codes 0 → pixdim alone (method 1)', [NO_SFORM, NO_QFORM, srow(0, 0, NaN), quatern(0, NaN)], method1, /^NIfTI sform_code and qform_code are both 0: geometry from pixdim alone \(NIfTI method 1: axes along RAS, origin 0\)$/],
  ];
  for (const [name, patches, expected, warning] of fallbacks) {
    test(`fallback: ${name}, with one warning`, () => {
      const { vol, warnings } = read(patched(patches));
      assert.ok(sameGrid(vol, expected, 1e-5), `grid: ${JSON.stringify({ ...vol, data: undefined })}`);
      assert.deepEqual(Array.from(vol.data), Array.from(GOOD.data));
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0], warning);
    });
  }

  test('onWarning is optional; a valid file gives no warning; a file that fails gives none either', () => {
    assert.ok(sameGrid(readNifti(patched([srow(0, 1, NaN)])), GOOD, 1e-5), 'the qform fallback, without onWarning');
    assert.deepEqual(read(patched([])).warnings, []);
    assert.deepEqual(read(writeNifti({ ...GOOD, data: Float32Array.from(GOOD.data, (x) => x / 3) }, { gzip: false })).warnings, []);
    const bytes = patched([NO_SFORM]);
    const warnings: string[] = [];
    assert.throws(() => readNifti(bytes.subarray(0, bytes.length - 2), { onWarning: (w) => warnings.push(w) }), /truncated/);
    assert.deepEqual(warnings, []);
  });

  test('NIfTI-2 fields are checked the same way', () => {
    const spec = { version: 2 as const, dim: [3, 2, 2, 2], datatype: 2, pixdim: [1, 2, 3, 4] };
    const cases: Array<[Partial<HeaderSpec>, RegExp]> = [
      [{ pixdim: [1, 2, NaN, 4] }, /^NIfTI pixdim\[2\] is NaN$/],
      [{ sformCode: 1, srow: [2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, NaN] }, /^NIfTI srow_z holds NaN .*no qform to fall back on/],
      [{ qformCode: 1, quatern: [0, 0, 0], qoffset: [0, -Infinity, 0] }, /^NIfTI qoffset_y is -Infinity$/],
    ];
    for (const [extra, message] of cases) assert.throws(() => readNifti(buildNifti({ ...spec, ...extra }, new Uint8Array(8))), (e: unknown) => e instanceof InvalidImageError && message.test(e.message), String(message));
  });

  test('a 2D image: pixdim[3] of 0 (beyond dim[0]) counts as 1 mm', () => {
    const { vol, warnings } = read(buildNifti({ dim: [2, 4, 3], datatype: 2, pixdim: [1, 2, 3, 0] }, new Uint8Array(12)));
    assert.deepEqual([vol.dims, vol.spacing], [[4, 3, 1], [2, 3, 1]]);
    assert.equal(warnings.length, 1);
  });
});

describe('readNifti float voxels: all NaN/Inf refused, some NaN/Inf kept with one warning', () => {
  const float = (values: number[], ctor: typeof Float32Array | typeof Float64Array = Float32Array): Uint8Array =>
    writeNifti({ ...sample(ctor, [0, 0], rotation(0, 0, 0)), data: ctor.from(values) }, { gzip: false });
  const some = Array.from({ length: 24 }, (_, k) => (k === 3 || k === 10 ? NaN : k === 20 ? -Infinity : k));
  const ALL = /^NIfTI: all 24 voxels are NaN\/Inf$/;
  const SOME = /^NIfTI: 3 of 24 voxels are NaN\/Inf; they are left as they are$/;
  const cases: Array<[string, Uint8Array, 'refused' | 'warned', RegExp]> = [
    ['float32, all NaN', float(new Array(24).fill(NaN)), 'refused', ALL],
    ['float64, all ±Infinity', float(Array.from({ length: 24 }, (_, k) => (k % 2 ? Infinity : -Infinity)), Float64Array), 'refused', ALL],
    ['float32, 3 of 24 NaN/Inf', float(some), 'warned', SOME],
    ['float64, 3 of 24 NaN/Inf', float(some, Float64Array), 'warned', SOME],
    // ramp(8) is −7…0: × 3e38 overflows float32 for −7…−2, −3e38 and 0 stay finite
    ['int16 scaled past float32 (scl_slope 3e38)', buildNifti({ dim: [3, 2, 2, 2], datatype: 4, sclSlope: 3e38 }, encode(ramp(8), 4)), 'warned', /^NIfTI: 6 of 8 voxels are NaN\/Inf/],
  ];
  for (const [name, bytes, outcome, message] of cases) {
    test(`${name}: ${outcome}`, () => {
      const warnings: string[] = [];
      const read = () => readNifti(bytes, { onWarning: (w) => warnings.push(w) });
      if (outcome === 'refused') {
        assert.throws(read, (e: unknown) => e instanceof InvalidImageError && message.test(e.message), String(message));
        return;
      }
      const vol = read();
      const valueWarnings = warnings.filter((w) => /voxels/.test(w));
      assert.equal(valueWarnings.length, 1, JSON.stringify(warnings));
      assert.match(valueWarnings[0], message);
      if (message === SOME) assert.ok(Number.isNaN(vol.data[3]) && vol.data[20] === -Infinity && vol.data[4] === 4, 'NaN/Inf voxels kept as they are');
    });
  }
});

describe('writeNifti input checks', () => {
  test('data length must match dims; dims must fit NIfTI-1', () => {
    const vol = sample(Uint8Array, [0, 1], rotation(0, 0, 0));
    assert.throws(() => writeNifti({ ...vol, dims: [4, 3, 3] }), /data has 24 voxels, dims 4×3×3 need 36/);
    assert.throws(() => writeNifti({ ...vol, data: new Uint8Array(40000), dims: [40000, 1, 1] }), /exceed NIfTI-1's 32767/);
    assert.throws(() => writeNifti({ ...vol, data: new BigInt64Array(24) as unknown as VoxelArray }), /cannot write BigInt64Array/);
  });
});

describe('real files: MRIcron ch2 T1 and its atlases', () => {
  test('ch2, aal and brodmann share one 1 mm MNI grid; labels are small integers', () => {
    const [ch2, aal, brodmann] = (['ch2', 'aal', 'brodmann'] as const).map(loadMricron);
    assert.deepEqual(ch2.dims, [181, 217, 181]);
    assert.ok(sameGrid(ch2, aal, 1e-6) && sameGrid(ch2, brodmann, 1e-6));
    assertClose(ch2.spacing, [1, 1, 1], 'spacing');
    assertClose(ch2.direction, [-1, 0, 0, 0, -1, 0, 0, 0, 1], 'direction (RAS-ordered axes in LPS)');
    assertClose(worldToIndex(ch2, [0, 0, 0]), [90, 125, 71], 'MNI origin voxel', 1e-4);
    const labels = new Set(aal.data);
    assert.ok(labels.has(0) && labels.size > 100 && Math.max(...labels) <= 255, `aal has ${labels.size} labels`);
    assert.ok(ch2.data.some((x) => x > 100), 'ch2 has bright voxels');
  });
});
