import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import dicomParser from 'dicom-parser';
import { COMPRESSORS, encapsulate, encodeWithCodec, pixelsOf, toolsMissing, withPixels, type CodecEncoding, type DicomFile } from '../../../test/support/compressDicom.ts';
import { InvalidImageError } from '../../errors.ts';
import { IDENTITY3, type Volume } from '../../geometry/volume.ts';
import { readDicomSeries, readDicomSeriesWithInfoAsync } from '../dicom.ts';
import { writeDicomSeries } from '../dicomWrite.ts';

const missing = toolsMissing();
if (missing && process.env.CI) throw new Error(`${missing} (CI is set: the compressed-DICOM tests need DCMTK, GDCM and OpenJPH)`);

/**
 * A synthetic CT: 40 columns × 32 rows × 3 slices, HU. Air (−1000) around an elliptic body of soft tissue
 * (40 ± 25 of noise), a lung (−850 ± 25), a bone ring (1200 ± 25): edges, flat runs and noise, as in a real slice.
 */
function ctVolume(): Volume<Int16Array> {
  const dims: [number, number, number] = [40, 32, 3];
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  let s = 11;
  const noise = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 50;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const r = Math.hypot((i - 19.5) / 17, (j - 15.5) / 13);
        const lung = Math.hypot((i - 12 - k) / 5, (j - 14) / 6) < 1;
        const hu = r > 1 ? -1000 : r > 0.85 ? 1200 + noise() : lung ? -850 + noise() : 40 + noise();
        data[i + dims[0] * (j + dims[1] * k)] = Math.round(hu);
      }
  return { data, dims, spacing: [0.8, 0.8, 2.5], direction: [...IDENTITY3] as typeof IDENTITY3, origin: [-16, -12.8, 40] };
}

const ct = ctVolume();
const DATE = new Date('2025-01-02T03:04:05Z');
/** int16 pixels, BitsStored 16, PixelRepresentation 1 (what writeDicomSeries writes). */
const signed16 = writeDicomSeries(ct, { seed: 'compressed-test', date: DATE });
/** The same HU as CT scanners often store them: unsigned, BitsStored 12, RescaleIntercept −1024. */
const unsigned12 = signed16.map((f) => {
  const stored = new Uint16Array(new Int16Array(pixelsOf(f).bytes.slice().buffer).map((v) => v + 1024));
  return withPixels(f, new Uint8Array(stored.buffer), { '00280101': ['US', [12]], '00280102': ['US', [11]], '00280103': ['US', [0]], '00281052': ['DS', ['-1024']] });
});
const KINDS: [string, DicomFile[]][] = [
  ['int16 (BitsStored 16, signed)', signed16],
  ['uint16, BitsStored 12, intercept −1024', unsigned12],
];

function maxDifference(a: Volume, b: Volume): number {
  assert.deepEqual(a.dims, b.dims);
  let d = 0;
  for (let p = 0; p < a.data.length; p++) d = Math.max(d, Math.abs(a.data[p] - b.data[p]));
  return d;
}

async function read(files: readonly DicomFile[]): Promise<{ volume: Volume; warnings: string[] }> {
  const warnings: string[] = [];
  const { volume } = await readDicomSeriesWithInfoAsync(files, { onWarning: (w) => warnings.push(w) });
  return { volume, warnings };
}

/** Mean absolute difference allowed for lossy cases without a bound (irreversible wavelets): the image, blurred. */
const LOSSY_MEAN_HU = 40;

/**
 * Asserts the volume equals the original CT, with the same geometry: voxel for voxel, or within `tolerance` HU
 * (a bound such as JPEG-LS NEAR), or, with `tolerance` Infinity, within LOSSY_MEAN_HU on average.
 */
function assertSameCt(volume: Volume, tolerance = 0): void {
  const d = maxDifference(volume, ct);
  if (tolerance === 0) assert.deepEqual(Array.from(volume.data), Array.from(ct.data));
  else assert.ok(d <= tolerance, `max difference ${d} HU, over ${tolerance}`);
  if (tolerance === Infinity) {
    let sum = 0;
    for (let p = 0; p < ct.data.length; p++) sum += Math.abs(volume.data[p] - ct.data[p]);
    assert.ok(sum / ct.data.length < LOSSY_MEAN_HU, `mean difference ${sum / ct.data.length} HU`);
  }
  assert.deepEqual(volume.spacing, ct.spacing);
  assert.deepEqual(volume.origin, ct.origin);
}

test('the uncompressed samples read back as the CT (the reference for every case below)', () => {
  for (const [, files] of KINDS) assertSameCt(readDicomSeries(files));
});

describe('compressed with the codec packages’ own encoders, read voxel for voxel', () => {
  const cases: [string, string, CodecEncoding, { near?: number; lossy?: boolean; quality?: number }, number, RegExp | null][] = [
    ['JPEG-LS lossless', '1.2.840.10008.1.2.4.80', 'jpeg-ls', {}, 0, null],
    ['JPEG-LS NEAR 0 under the near-lossless syntax (lossless: no warning)', '1.2.840.10008.1.2.4.81', 'jpeg-ls', { near: 0 }, 0, null],
    ['JPEG-LS near-lossless NEAR 3 (within 3 HU, a warning)', '1.2.840.10008.1.2.4.81', 'jpeg-ls', { near: 3 }, 3, /3 of 3 slices are lossy compressed \(JPEG-LS near-lossless, NEAR 3\)/],
    ['JPEG 2000 lossless', '1.2.840.10008.1.2.4.90', 'jpeg2000', {}, 0, null],
    ['JPEG 2000 reversible under 1.2.840.10008.1.2.4.91 (lossless: no warning)', '1.2.840.10008.1.2.4.91', 'jpeg2000', {}, 0, null],
    ['JPEG 2000 irreversible 9/7 (a warning)', '1.2.840.10008.1.2.4.91', 'jpeg2000', { lossy: true, quality: 2 }, Infinity, /lossy compressed \(JPEG 2000, irreversible 9\/7 wavelet\)/],
    ['HTJ2K lossless', '1.2.840.10008.1.2.4.201', 'htj2k', {}, 0, null],
    ['HTJ2K lossless RPCL', '1.2.840.10008.1.2.4.202', 'htj2k', {}, 0, null],
    ['HTJ2K reversible under 1.2.840.10008.1.2.4.203', '1.2.840.10008.1.2.4.203', 'htj2k', {}, 0, null],
    ['HTJ2K irreversible (a warning)', '1.2.840.10008.1.2.4.203', 'htj2k', { lossy: true, quality: 0.002 }, Infinity, /lossy compressed \(HTJ2K, irreversible 9\/7 wavelet\)/],
  ];
  for (const [kind, files] of KINDS) {
    for (const [name, syntax, codec, options, tolerance, warning] of cases) {
      test(`${name}, ${kind}`, async () => {
        const compressed = await Promise.all(files.map(async (f) => encapsulate(f, syntax, await encodeWithCodec(f, codec, options))));
        const { volume, warnings } = await read(compressed);
        assertSameCt(volume, tolerance);
        if (warning) {
          assert.equal(warnings.length, 1, JSON.stringify(warnings));
          assert.match(warnings[0], warning);
        } else assert.deepEqual(warnings, []);
      });
    }
  }

  test('8-bit JPEG baseline (libjpeg-turbo): read, with a warning', async () => {
    // 8-bit stored values: HU = 12 × stored − 1000
    const files = signed16.map((f) => {
      const hu = new Int16Array(pixelsOf(f).bytes.slice().buffer);
      const stored = Uint8Array.from(hu, (v) => Math.max(0, Math.min(255, Math.round((v + 1000) / 12))));
      return withPixels(f, stored, { '00280100': ['US', [8]], '00280101': ['US', [8]], '00280102': ['US', [7]], '00280103': ['US', [0]], '00281053': ['DS', ['12']], '00281052': ['DS', ['-1000']] });
    });
    const exact = readDicomSeries(files);
    const compressed = await Promise.all(files.map(async (f) => encapsulate(f, '1.2.840.10008.1.2.4.50', await encodeWithCodec(f, 'jpeg-baseline', { quality: 95 }))));
    const { volume, warnings } = await read(compressed);
    assert.ok(maxDifference(volume, exact) <= 12 * 24, `max difference ${maxDifference(volume, exact)}`);
    assert.deepEqual(warnings.length, 1);
    assert.match(warnings[0], /3 of 3 slices are lossy compressed \(JPEG baseline \(process 1\)\)/);
  });
});

describe('compressed by DCMTK, GDCM and OpenJPH (Debian), read voxel for voxel', { skip: missing ?? false }, () => {
  for (const [kind, files] of KINDS) {
    for (const c of COMPRESSORS) {
      test(`${c.name}, ${kind}`, async () => {
        const compressed = files.map((f) => c.compress(f));
        const { volume, warnings } = await read(compressed);
        assertSameCt(volume, c.lossy ? (c.tolerance ?? Infinity) : 0);
        if (c.lossy) assert.ok(warnings.length >= 1 && warnings.every((w) => /lossy compressed/.test(w)), JSON.stringify(warnings));
        else assert.deepEqual(warnings, []);
      });
    }
  }
});

/** JPEG 2000 codestreams (no HT blocks) of the three signed slices. */
const j2kStreams = await Promise.all(signed16.map((f) => encodeWithCodec(f, 'jpeg2000')));

/** The one frame of an encapsulated file, its fragments joined. */
function frameOf(file: DicomFile): Uint8Array {
  const ds = dicomParser.parseDicom(file.bytes);
  const el = ds.elements.x7fe00010;
  return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, el.fragments!.length).slice();
}

describe('bounded: a codestream that is not what the attributes say is refused, before it is decoded', () => {
  const file = signed16[0];
  const byTool = (syntax: string) => async () => frameOf(COMPRESSORS.find((c) => c.syntax === syntax)!.compress(file));
  const streams: [string, string, () => Promise<Uint8Array>][] = [
    ['JPEG-LS', '1.2.840.10008.1.2.4.80', () => encodeWithCodec(file, 'jpeg-ls')],
    ['JPEG 2000', '1.2.840.10008.1.2.4.90', () => encodeWithCodec(file, 'jpeg2000')],
    ['HTJ2K', '1.2.840.10008.1.2.4.201', () => encodeWithCodec(file, 'htj2k')],
    ...(missing ? [] : ([['JPEG lossless (dcmcjpeg)', '1.2.840.10008.1.2.4.70', byTool('1.2.840.10008.1.2.4.70')]] as [string, string, () => Promise<Uint8Array>][])),
  ];
  const assertInvalid = (files: DicomFile[], pattern: RegExp) =>
    assert.rejects(read(files), (e: unknown) => {
      assert.ok(e instanceof InvalidImageError, `expected InvalidImageError, got ${e}`);
      assert.match(e.message, pattern);
      return true;
    });
  for (const [name, syntax, encode] of streams) {
    test(`${name}: Rows smaller than the codestream's height`, async () =>
      assertInvalid([encapsulate(file, syntax, await encode(), { '00280010': ['US', [30]] })], /slice-0001\.dcm \(.+\): the codestream is 40×32 pixels, the DICOM attributes say 40×30 \(Columns × Rows\)/));
    test(`${name}: BitsAllocated 8 under a 16-bit codestream`, async () =>
      assertInvalid([encapsulate(file, syntax, await encode(), { '00280100': ['US', [8]], '00280101': ['US', [8]] })], /: the codestream has 16-bit samples, more than BitsAllocated \(8\)/));
    test(`${name}: cut short`, async () => {
      const cut = (await encode()).slice(0, 400);
      if (name === 'HTJ2K') {
        // OpenJPH decodes what there is: read, but said to be incomplete
        const { warnings } = await read([encapsulate(file, syntax, cut)]);
        assert.match(warnings.join('\n'), /a codestream without its end marker \(EOC\): cut short/);
      } else await assertInvalid([encapsulate(file, syntax, cut)], /: the codestream could not be decoded|the JPEG lossless stream ends before its last pixel \(truncated\)/);
    });
    if (syntax !== '1.2.840.10008.1.2.4.70') {
      test(`${name}: the codestream under a JPEG lossless syntax`, async () =>
        assertInvalid([encapsulate(file, '1.2.840.10008.1.2.4.70', await encode())], name === 'JPEG-LS' ? /frame marker 0xfff7, expected 0xffc3/ : /does not start with a JPEG SOI marker/));
    }
  }
  test('RLE of a larger image than Rows × Columns: refused, not cut to size', { skip: missing ?? false }, async () =>
    assertInvalid([encapsulate(file, '1.2.840.10008.1.2.5', await byTool('1.2.840.10008.1.2.5')(), { '00280010': ['US', [30]] })], /RLE segment 1 decodes to 1280 bytes, 1200 \(Rows × Columns\) needed/));
  test('a JPEG 2000 codestream (no HT blocks) under an HTJ2K syntax is decoded by OpenJPEG', async () => {
    const { volume } = await read(signed16.map((f, k) => encapsulate(f, '1.2.840.10008.1.2.4.201', j2kStreams[k])));
    assertSameCt(volume);
  });
  test('encapsulated PixelData without fragments', async () => assertInvalid([encapsulate(file, '1.2.840.10008.1.2.4.80', new Uint8Array(0))], /^slice-0001\.dcm: the encapsulated PixelData has no fragments$/));
  test('a codestream with three components', async () => {
    const rgb = withPixels(file, new Uint8Array(40 * 32 * 3), { '00280100': ['US', [8]], '00280101': ['US', [8]], '00280102': ['US', [7]], '00280103': ['US', [0]] });
    const bytes = await encodeWithCodecRgb(rgb);
    await assertInvalid([encapsulate(file, '1.2.840.10008.1.2.4.80', bytes)], /the codestream is 40×32 pixels|the codestream has 3 components; only grey-level images are read/);
  });
});

/** A 3-component 8-bit JPEG-LS stream of 40×32 (the charls encoder with componentCount 3). */
async function encodeWithCodecRgb(file: DicomFile): Promise<Uint8Array> {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const m = await (require('@cornerstonejs/codec-charls/wasmjs') as (o: object) => Promise<Record<string, new () => { getDecodedBuffer(i: object): Uint8Array; encode(): void; getEncodedBuffer(): Uint8Array; delete(): void; setNearLossless(n: number): void; setInterleaveMode(n: number): void }>>)({ print: () => {}, printErr: () => {} });
  const e = new m.JpegLSEncoder();
  try {
    e.getDecodedBuffer({ width: 40, height: 32, bitsPerSample: 8, componentCount: 3, isSigned: false }).set(pixelsOf(file).bytes);
    e.setInterleaveMode(2);
    e.setNearLossless(0);
    e.encode();
    return e.getEncodedBuffer().slice();
  } finally {
    e.delete();
  }
}

const PYDICOM = new URL('../../../../.cache/test-data/python3-pydicom/usr/lib/python3/dist-packages/pydicom/data/test_files/', import.meta.url);
const noData = !existsSync(PYDICOM) && 'real DICOM files missing: run scripts/fetch-test-data.sh';
const real = (path: string): DicomFile => ({ name: path, bytes: new Uint8Array(readFileSync(new URL(path, PYDICOM))) });

/** GDCM's own decoding of a file (gdcmconv --raw), an independent reference. */
function gdcmRaw(file: DicomFile): DicomFile {
  const dir = mkdtempSync(join(tmpdir(), 'vista3d-gdcm-'));
  try {
    execFileSync('/usr/bin/gdcmconv', ['--raw', join(PYDICOM.pathname, file.name), join(dir, 'raw.dcm')], { stdio: 'ignore' });
    return { name: file.name, bytes: new Uint8Array(readFileSync(join(dir, 'raw.dcm'))) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('real compressed files (pydicom test data, made by other writers)', { skip: noData }, () => {
  test('MR_small in RLE, JPEG-LS lossless and JPEG 2000 lossless equals MR_small uncompressed', async () => {
    const want = readDicomSeries([real('MR_small.dcm')]);
    for (const name of ['MR_small_RLE.dcm', 'MR_small_jpeg_ls_lossless.dcm', 'MR_small_jp2klossless.dcm']) {
      const { volume, warnings } = await read([real(name)]);
      assert.deepEqual(volume, want, name);
      assert.deepEqual(warnings, []);
    }
  });

  test('32-bit RLE (four segments): rtdose_rle_1frame equals rtdose_1frame', async () => {
    const { volume } = await read([real('rtdose_rle_1frame.dcm')]);
    assert.deepEqual(volume, readDicomSeries([real('rtdose_1frame.dcm')]));
  });

  test('12-bit JPEG extended (1.2.840.10008.1.2.4.51) is refused, naming why', async () => {
    const jpeg = real('JPGExtended.dcm');
    const ds = dicomParser.parseDicom(jpeg.bytes);
    const el = ds.elements.x7fe00010;
    const frame = dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, el.fragments!.length);
    const file = encapsulate(signed16[0], '1.2.840.10008.1.2.4.51', frame, { '00280010': ['US', [1024]], '00280011': ['US', [256]], '00280101': ['US', [12]], '00280103': ['US', [0]] });
    await assert.rejects(read([file]), /the codestream has 12-bit samples; only 8-bit lossy JPEG is read \(12-bit JPEG extended is not\)/);
  });

  test('JPEG 2000 whose codestream says unsigned under PixelRepresentation 1 (13 bits): sign-extended from BitsStored', { skip: !existsSync('/usr/bin/gdcmconv') && !process.env.CI && 'gdcmconv missing' }, async () => {
    const file = real('J2K_pixelrep_mismatch.dcm');
    const { volume } = await read([file]);
    // GDCM leaves the 13-bit patterns as they are: sign-extending them must give our values
    const raw = readDicomSeries([gdcmRaw(file)]);
    assert.deepEqual(Array.from(volume.data), Array.from(raw.data, (v) => (v << 19) >> 19));
    assert.equal(Math.min(...volume.data.subarray(0, 4096)), -2000, 'padding outside the field of view is −2000 HU, not 6192');
  });

  test('lossy JPEG 2000 (693_J2KI.dcm): as GDCM decodes it, with the LossyImageCompression warning', { skip: !existsSync('/usr/bin/gdcmconv') && !process.env.CI && 'gdcmconv missing' }, async () => {
    const file = real('693_J2KI.dcm');
    const { volume, warnings } = await read([file]);
    assert.deepEqual(volume.data, readDicomSeries([gdcmRaw(file)]).data);
    assert.deepEqual(warnings, [`DICOM series ${dicomParser.parseDicom(file.bytes).string('x0020000e')}: 1 of 1 slices are lossy compressed (LossyImageCompression 01): their values are not those of the original image`]);
  });
});

describe('the asynchronous reader lets other work run between slices, and stops when aborted', () => {
  // 8 slices of 256² in JPEG 2000 lossless: tens of milliseconds of decoding each
  const big: Volume<Int16Array> = {
    data: Int16Array.from({ length: 256 * 256 * 8 }, (_, n) => Math.round(Math.sin(n / 97) * 800 + Math.cos(n / 13) * 200 + ((n * 2654435761) % 97))),
    dims: [256, 256, 8],
    spacing: [1, 1, 2],
    direction: [...IDENTITY3] as typeof IDENTITY3,
    origin: [0, 0, 0],
  };
  const files = writeDicomSeries(big, { seed: 'async-reader', date: DATE });
  const compressed = Promise.all(files.map(async (f) => encapsulate(f, '1.2.840.10008.1.2.4.90', await encodeWithCodec(f, 'jpeg2000'))));

  test('timers fire while a series decodes; the volume is the same as the synchronous reader’s', async () => {
    const series = await compressed;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const t0 = performance.now();
      const { volume } = await read(series);
      const took = performance.now() - t0;
      assert.deepEqual(volume.data, big.data);
      assert.ok(took < 60 || ticks >= 2, `${ticks} timer ticks during ${took.toFixed(0)} ms of decoding`);
    } finally {
      clearInterval(timer);
    }
  });

  test('an aborted signal stops the read at the next turn with its reason', async () => {
    const series = await compressed;
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('the client went away')), 1);
    await assert.rejects(readDicomSeriesWithInfoAsync(series, { signal: ac.signal }), /^Error: the client went away$/);
  });
});
