import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidImageError, LimitExceededError } from '../errors.ts';
import { IDENTITY3, sameGrid, type Mat3, type Vec3, type Volume } from '../geometry/volume.ts';
import { gzip, isGzip } from './gzip.ts';
import type { VoxelArrayConstructor } from './voxelBytes.ts';
import { readNrrd, writeNrrd } from './nrrd.ts';

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

/** An oblique, improper direction (row-major, columns = axes): 20° about z then 25° about x, third axis negated. */
const OBLIQUE: Mat3 = (() => {
  const [c, s, C, S] = [Math.cos(0.349), Math.sin(0.349), Math.cos(0.436), Math.sin(0.436)];
  return [c, -s * C, -s * S, s, c * C, c * S, 0, S, -C];
})();

function sample(ctor: VoxelArrayConstructor, extremes: number[]): Volume {
  const data = new ctor(4 * 3 * 2);
  data.forEach((_, k) => (data[k] = k * 3));
  data[5] = extremes[0];
  data[17] = extremes[1];
  return { data, dims: [4, 3, 2], spacing: [0.7, 1.3, 2.5], direction: OBLIQUE, origin: [-12.5, 40.25, 1e-7] };
}

const enc = new TextEncoder();
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};

/** A NRRD file from header lines (after the magic) and a payload. */
const nrrd = (lines: string[], payload: Uint8Array = new Uint8Array(), eol = '\n') => concat(enc.encode(['NRRD0004', ...lines, '', ''].join(eol)), payload);

const int16LE = (values: number[]) => new Uint8Array(new Int16Array(values).buffer);
const values24 = Array.from({ length: 24 }, (_, k) => 100 * k - 1000);
const BASE = ['type: short', 'dimension: 3', 'sizes: 4 3 2', 'endian: little', 'encoding: raw'];

function assertClose(actual: readonly number[], expected: readonly number[], what: string, tol = 1e-9): void {
  assert.ok(actual.every((x, k) => Math.abs(x - expected[k]) <= tol), `${what}: got [${actual.join(', ')}], expected [${expected.join(', ')}]`);
}

describe('writeNrrd → readNrrd round trip', () => {
  for (const [ctor, extremes] of TYPES) {
    for (const gz of [true, false]) {
      test(`${ctor.name}, ${gz ? 'gzip' : 'raw'}`, () => {
        const vol = sample(ctor, extremes);
        const bytes = writeNrrd(vol, { gzip: gz });
        const header = new TextDecoder('latin1').decode(bytes.subarray(0, 600));
        assert.match(header, /^NRRD0004\n/);
        assert.match(header, /\nspace: left-posterior-superior\n/);
        assert.match(header, new RegExp(`\nencoding: ${gz ? 'gzip' : 'raw'}\n`));
        const back = readNrrd(bytes);
        assert.equal(back.data.constructor, ctor);
        assert.deepEqual(back.data, vol.data);
        assert.deepEqual(back.dims, vol.dims);
        assert.ok(sameGrid(back, vol, 1e-12), `grid differs: ${JSON.stringify(back)}`);
      });
    }
  }
});

describe('readNrrd header fields', () => {
  const spellings: Array<[string, VoxelArrayConstructor]> = [
    ['signed char', Int8Array], ['int8', Int8Array], ['int8_t', Int8Array],
    ['uchar', Uint8Array], ['unsigned char', Uint8Array], ['uint8', Uint8Array], ['uint8_t', Uint8Array],
    ['short', Int16Array], ['short int', Int16Array], ['signed short', Int16Array], ['signed short int', Int16Array], ['int16', Int16Array], ['int16_t', Int16Array],
    ['ushort', Uint16Array], ['unsigned short', Uint16Array], ['unsigned short int', Uint16Array], ['uint16', Uint16Array], ['uint16_t', Uint16Array],
    ['int', Int32Array], ['signed int', Int32Array], ['int32', Int32Array], ['int32_t', Int32Array],
    ['uint', Uint32Array], ['unsigned int', Uint32Array], ['uint32', Uint32Array], ['uint32_t', Uint32Array],
    ['float', Float32Array], ['double', Float64Array],
  ];
  test('every type spelling', () => {
    for (const [spelling, ctor] of spellings) {
      const payload = new Uint8Array(24 * ctor.BYTES_PER_ELEMENT);
      new DataView(payload.buffer).setUint8(0, 7);
      const vol = readNrrd(nrrd([`type: ${spelling}`, 'dimension: 3', 'sizes: 2 3 4', 'endian: little', 'encoding: raw'], payload));
      assert.equal(vol.data.constructor, ctor, spelling);
    }
  });

  // Axes (1,0,0), (0,2,0), (0,0,3) and origin (10,20,30) in the named space, seen in LPS.
  const spaces: Array<[string, Mat3, Vec3]> = [
    ['left-posterior-superior', [1, 0, 0, 0, 1, 0, 0, 0, 1], [10, 20, 30]],
    ['LPS', [1, 0, 0, 0, 1, 0, 0, 0, 1], [10, 20, 30]],
    ['scanner-xyz', [1, 0, 0, 0, 1, 0, 0, 0, 1], [10, 20, 30]],
    ['right-anterior-superior', [-1, 0, 0, 0, -1, 0, 0, 0, 1], [-10, -20, 30]],
    ['RAS', [-1, 0, 0, 0, -1, 0, 0, 0, 1], [-10, -20, 30]],
    ['left-anterior-superior', [1, 0, 0, 0, -1, 0, 0, 0, 1], [10, -20, 30]],
    ['LAS', [1, 0, 0, 0, -1, 0, 0, 0, 1], [10, -20, 30]],
  ];
  for (const [space, direction, origin] of spaces) {
    test(`space ${space} → LPS`, () => {
      const vol = readNrrd(nrrd([...BASE, `space: ${space}`, 'space directions: (1,0,0) (0,2,0) (0,0,3)', 'space origin: (10,20,30)'], int16LE(values24)));
      assert.deepEqual(vol.spacing, [1, 2, 3]);
      assertClose(vol.direction, direction, 'direction');
      assertClose(vol.origin, origin, 'origin');
    });
  }

  test('oblique RAS space directions with spacing folded in', () => {
    const c = Math.cos(Math.PI / 6);
    const vol = readNrrd(nrrd([...BASE, 'space: RAS', `space directions: (${2 * c},1,0) (-1.5,${3 * c},0) (0,0,-4)`, 'space origin: (1,2,3)'], int16LE(values24)));
    assertClose(vol.spacing, [2, 3, 4], 'spacing');
    assertClose(vol.direction, [-c, 0.5, 0, -0.5, -c, 0, 0, 0, -1], 'direction');
    assertClose(vol.origin, [-1, -2, 3], 'origin');
  });

  test('spacings fallback without space directions: identity direction, origin 0', () => {
    const vol = readNrrd(nrrd([...BASE, 'spacings: 2 3 4'], int16LE(values24)));
    assert.deepEqual([vol.spacing, vol.direction, vol.origin], [[2, 3, 4], [1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0]]);
    assert.deepEqual(readNrrd(nrrd(BASE, int16LE(values24))).spacing, [1, 1, 1]);
  });

  test('4D with a leading non-spatial axis of size 1 reads as 3D', () => {
    const lines = ['type: short', 'dimension: 4', 'sizes: 1 4 3 2', 'endian: little', 'encoding: raw', 'kinds: list domain domain domain', 'space: LPS', 'space directions: none (2,0,0) (0,3,0) (0,0,4)'];
    const vol = readNrrd(nrrd(lines, int16LE(values24)));
    assert.deepEqual([vol.dims, vol.spacing], [[4, 3, 2], [2, 3, 4]]);
    assert.deepEqual(Array.from(vol.data), values24);
    const spacings = readNrrd(nrrd(['type: short', 'dimension: 4', 'sizes: 1 4 3 2', 'endian: little', 'spacings: nan 2 3 4'], int16LE(values24)));
    assert.deepEqual(spacings.spacing, [2, 3, 4]);
    assert.throws(() => readNrrd(nrrd(['type: short', 'dimension: 4', 'sizes: 3 4 3 2', 'endian: little'], int16LE(values24))), (e: unknown) => e instanceof InvalidImageError && /dimension is 4 with sizes 3×4×3×2/.test(e.message));
  });

  test('big endian, gzip / gz encodings, byte skip, CRLF header, comments and key/values', () => {
    const be = new Uint8Array(48);
    values24.forEach((x, k) => new DataView(be.buffer).setInt16(2 * k, x, false));
    const cases: Uint8Array[] = [
      nrrd(['type: short', 'dimension: 3', 'sizes: 4 3 2', 'endian: big', 'encoding: raw'], be),
      nrrd([...BASE.slice(0, 4), 'encoding: gzip'], gzip(int16LE(values24))),
      nrrd([...BASE.slice(0, 4), 'encoding: gz'], gzip(int16LE(values24))),
      nrrd([...BASE, 'byte skip: 5'], concat(new Uint8Array(5), int16LE(values24))),
      nrrd([...BASE, 'byte skip: -1'], concat(new Uint8Array(9), int16LE(values24))),
      nrrd(['# a comment', ...BASE, 'my key:=a: value', 'content: x'], int16LE(values24), '\r\n'),
    ];
    for (const bytes of cases) assert.deepEqual(Array.from(readNrrd(bytes).data), values24);
  });

  test('detached data only through resolveDataFile', () => {
    const header = nrrd([...BASE, 'data file: ct.raw']).subarray(0, -1); // a .nhdr: no attached data
    const asked: string[] = [];
    const vol = readNrrd(header, { resolveDataFile: (name) => (asked.push(name), int16LE(values24)) });
    assert.deepEqual(asked, ['ct.raw']);
    assert.deepEqual(Array.from(vol.data), values24);
    assert.throws(() => readNrrd(header), (e: unknown) => e instanceof InvalidImageError && /detached NRRD data file "ct.raw" is not allowed/.test(e.message));
    assert.throws(() => readNrrd(nrrd([...BASE, 'data file: LIST'])), /detached NRRD data file "LIST" is not allowed/);
    assert.throws(() => readNrrd(nrrd([...BASE, 'data file: s%03d.raw 1 3 1']), { resolveDataFile: () => new Uint8Array() }), /multi-file data/);
  });
});

describe('readNrrd refuses hostile and unsupported files with typed errors', () => {
  test('truncated data: says how many bytes were expected and present', () => {
    assert.throws(() => readNrrd(nrrd(BASE, int16LE(values24).subarray(0, 40))), (e: unknown) => e instanceof InvalidImageError && /NRRD data is truncated: expected 48 bytes .*only 40 are present/.test(e.message));
    const gz = writeNrrd(sample(Int16Array, [0, 0]));
    const shortGz = nrrd([...BASE.slice(0, 4), 'encoding: gzip'], gzip(int16LE(values24).subarray(0, 30)));
    assert.throws(() => readNrrd(shortGz), /expected 48 bytes .*only 30 are present/);
    assert.throws(() => readNrrd(nrrd([...BASE, 'byte skip: -1'], int16LE(values24).subarray(0, 40))), /expected 48 bytes .*only 40 are present/);
    assert.throws(() => readNrrd(gz.subarray(0, gz.length - 10)), InvalidImageError);
  });

  test('huge declared sizes on a small file: LimitExceededError before allocating', () => {
    const bytes = nrrd(['type: short', 'dimension: 3', 'sizes: 100000 100000 100000', 'endian: little', 'encoding: raw'], new Uint8Array(300));
    assert.ok(bytes.length < 500);
    assert.throws(() => readNrrd(bytes), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxVoxels' && /NRRD header declares 100000×100000×100000 voxels/.test(e.message));
    const within = nrrd(['type: short', 'dimension: 3', 'sizes: 500 500 500', 'endian: little', 'encoding: raw'], new Uint8Array(300));
    assert.throws(() => readNrrd(within), /expected 250000000 bytes .*only 300 are present/);
  });

  test('gzip bomb: stops at maxDecompressedBytes', () => {
    const bomb = nrrd(['type: short', 'dimension: 3', 'sizes: 256 256 128', 'endian: little', 'encoding: gzip'], gzip(new Uint8Array(256 * 256 * 128 * 2), { level: 9 }));
    assert.ok(bomb.length < 100_000);
    assert.throws(() => readNrrd(bomb, { limits: { maxDecompressedBytes: 1 << 20 } }), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxDecompressedBytes');
  });

  test('malformed headers and unsupported content are named', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [enc.encode('P5\n2 2\n255\n'), /not a NRRD file: it starts with "P5\\n2 2\\n2" \(expected "NRRD000x"\)/],
      [nrrd(['type: short', 'dimension: 3', 'endian: little']), /no "sizes" field/],
      [nrrd(['type: block', 'dimension: 3', 'sizes: 2 2 2']), /type "block" is not supported/],
      [nrrd(['type: longlong', 'dimension: 3', 'sizes: 2 2 2']), /type "longlong" is not supported/],
      [nrrd(['type: short', 'dimension: 3', 'sizes: 2 2 2', 'endian: little', 'encoding: ascii']), /encoding "ascii" is not supported/],
      [nrrd(['type: short', 'dimension: 3', 'sizes: 2 2 2', 'encoding: raw']), /endian is missing/],
      [nrrd(['type: short', 'dimension: 3', 'sizes: 2 2', 'endian: little']), /sizes "2 2" are not 3 positive integers/],
      [nrrd(['type: short', 'dimension: 2', 'sizes: 2 2', 'endian: little']), /dimension is 2/],
      [nrrd(['type: short', 'dimension: 5', 'sizes: 1 2 2 2 3', 'endian: little']), /dimension is 5/],
      [nrrd(['type: short', 'dimension: 3', 'sizes: 2 2 2', 'endian: little', 'encoding: gzip'], new Uint8Array(16)), /declared gzip but does not start with the gzip magic/],
      [nrrd([...BASE, 'space: right-anterior-superior-time'], int16LE(values24)), /space "right-anterior-superior-time" is not supported/],
      [nrrd([...BASE, 'space: LPS', 'space directions: (1,0,0) (0,1,0)'], int16LE(values24)), /do not give 3 spatial vectors/],
      [nrrd([...BASE, 'space: LPS', 'space directions: (1,0) (0,1,0) (0,0,1)'], int16LE(values24)), /vector \(1,0\) is not 3 finite numbers/],
      [nrrd([...BASE, 'this line has no colon'], int16LE(values24)), /line "this line has no colon" is not "field: value"/],
      [nrrd([...BASE, 'line skip: 2'], int16LE(values24)), /line skip/],
    ];
    for (const [bytes, message] of cases) assert.throws(() => readNrrd(bytes), (e: unknown) => e instanceof InvalidImageError && message.test(e.message), String(message));
  });
});

describe('readNrrd checks every geometry field; a file without space directions is read on LPS axes, saying so', () => {
  const read = (bytes: Uint8Array) => {
    const warnings: string[] = [];
    return { vol: readNrrd(bytes, { onWarning: (w) => warnings.push(w) }), warnings };
  };
  const LPS = [...BASE, 'space: LPS'];
  const rejected: Array<[string, string[], RegExp]> = [
    ['spacings NaN on a spatial axis', [...BASE, 'spacings: 2 nan 4'], /^NRRD spacings\[1\] is NaN$/],
    ['spacings 0', [...BASE, 'spacings: 0 3 4'], /^NRRD spacings\[0\] is 0 mm: a voxel size must be from 0\.001 to 10000 mm$/],
    ['spacings 1e-30', [...BASE, 'spacings: 2 3 1e-30'], /^NRRD spacings\[2\] is 1e-30 mm/],
    ['spacings Infinity', [...BASE, 'spacings: Infinity 3 4'], /^NRRD spacings\[0\] is Infinity$/],
    ['4D: spacings NaN on the first spatial axis (file axis 1)', ['type: short', 'dimension: 4', 'sizes: 1 4 3 2', 'endian: little', 'spacings: nan nan 3 4'], /^NRRD spacings\[1\] is NaN$/],
    ['space directions with a zero vector', [...LPS, 'space directions: (1,0,0) (0,0,0) (0,0,1)'], /^NRRD space directions vector 1 is 0 mm: a voxel size must be from/],
    ['space directions with a 1e-30 mm vector', [...LPS, 'space directions: (1e-30,0,0) (0,1,0) (0,0,1)'], /^NRRD space directions vector 0 is 1e-30 mm/],
    ['space directions with a 20 m vector', [...LPS, 'space directions: (1,0,0) (0,1,0) (0,0,20000)'], /^NRRD space directions vector 2 is 20000 mm/],
    ['space directions all zero', [...LPS, 'space directions: (0,0,0) (0,0,0) (0,0,0)'], /^NRRD space directions vector 0 is 0 mm/],
    ['rank-deficient space directions', [...LPS, 'space directions: (1,0,0) (2,0,0) (0,0,1)'], /^NRRD space directions is rank-deficient: its axes are \(nearly\) linearly dependent/],
    ['space directions in one plane', [...LPS, 'space directions: (1,0,0) (0,1,0) (1,1,0)'], /^NRRD space directions is rank-deficient/],
  ];
  for (const [name, lines, message] of rejected) {
    test(`refused: ${name}`, () => assert.throws(() => readNrrd(nrrd(lines, int16LE(values24))), (e: unknown) => e instanceof InvalidImageError && message.test(e.message), String(message)));
  }

  const fallbacks: Array<[string, string[], Omit<Volume, 'data' | 'dims'>, RegExp]> = [
    ['spacings without space directions', [...BASE, 'spacings: 2 3 4'], { spacing: [2, 3, 4], direction: IDENTITY3, origin: [0, 0, 0] },
      /^NRRD has no space directions: an axis-aligned grid \(identity direction in LPS, origin from space origin or 0\) with spacings 2, 3, 4 mm$/],
    ['neither space directions nor spacings', BASE, { spacing: [1, 1, 1], direction: IDENTITY3, origin: [0, 0, 0] },
      /^NRRD has neither space directions nor spacings: 1 mm voxels on an axis-aligned grid \(identity direction in LPS\) assumed$/],
  ];
  for (const [name, lines, expected, warning] of fallbacks) {
    test(`${name}: one warning`, () => {
      const { vol, warnings } = read(nrrd(lines, int16LE(values24)));
      assert.deepEqual([vol.spacing, vol.direction, vol.origin], [expected.spacing, expected.direction, expected.origin]);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0], warning);
    });
  }

  const floats = (values: number[]) => nrrd(['type: float', 'dimension: 3', 'sizes: 4 3 2', 'endian: little', 'encoding: raw', 'space: LPS', 'space directions: (1,0,0) (0,1,0) (0,0,1)'], new Uint8Array(new Float32Array(values).buffer));
  test('float voxels: all NaN/Inf refused, some kept with one warning', () => {
    assert.throws(() => readNrrd(floats(new Array(24).fill(NaN))), (e: unknown) => e instanceof InvalidImageError && /^NRRD: all 24 voxels are NaN\/Inf$/.test(e.message));
    const { vol, warnings } = read(floats(values24.map((x, k) => (k === 7 ? NaN : x))));
    assert.deepEqual(warnings, ['NRRD: 1 of 24 voxels are NaN/Inf; they are left as they are']);
    assert.ok(Number.isNaN(vol.data[7]), 'the NaN voxel is kept');
    assert.deepEqual(read(floats(values24)).warnings, []);
  });
});
