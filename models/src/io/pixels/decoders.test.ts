// Runs in a process of its own (node --test): the wasm decoders start here, not in another test file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMPRESSORS, encapsulate, encodeWithCodec, toolsMissing } from '../../../test/support/compressDicom.ts';
import { IDENTITY3, type Volume } from '../../geometry/volume.ts';
import { DecoderNotLoadedError, loadDicomDecoders, readDicomSeries, readDicomSeriesWithInfo } from '../dicom.ts';
import { writeDicomSeries } from '../dicomWrite.ts';

const vol: Volume<Int16Array> = { data: Int16Array.from({ length: 6 * 5 * 2 }, (_, n) => (n * 37) % 500 - 250), dims: [6, 5, 2], spacing: [1, 1, 2], direction: [...IDENTITY3] as typeof IDENTITY3, origin: [0, 0, 0] };
const files = writeDicomSeries(vol, { seed: 'decoders-test', date: new Date('2025-01-01T00:00:00Z') });
const rle = COMPRESSORS.find((c) => c.syntax === '1.2.840.10008.1.2.5')!;
const lossless = COMPRESSORS.find((c) => c.syntax === '1.2.840.10008.1.2.4.70')!;
const dcmtk = toolsMissing([rle, lossless]);
if (dcmtk && process.env.CI) throw new Error(`${dcmtk} (CI is set)`);

test('before loadDicomDecoders: the synchronous reader reads RLE and JPEG lossless (plain JavaScript)', { skip: dcmtk ?? false }, () => {
  for (const c of [rle, lossless]) assert.deepEqual(readDicomSeries(files.map((f) => c.compress(f))), readDicomSeries(files), c.name);
});

test('before loadDicomDecoders: a wasm-decoded syntax is a DecoderNotLoadedError naming the way out; after it, the same read works', async () => {
  const jpegLs = await Promise.all(files.map(async (f) => encapsulate(f, '1.2.840.10008.1.2.4.80', await encodeWithCodec(f, 'jpeg-ls'))));
  assert.throws(
    () => readDicomSeriesWithInfo(jpegLs),
    (e: unknown) => e instanceof DecoderNotLoadedError && /^slice-0001\.dcm uses JPEG-LS lossless, whose wasm decoder is not started: await loadDicomDecoders\(\) first, or read with readDicomSeriesWithInfoAsync$/.test(e.message),
  );
  await loadDicomDecoders(['1.2.840.10008.1.2.4.80', '1.2.3.4', '1.2.840.10008.1.2.1']);
  assert.deepEqual(readDicomSeries(jpegLs), readDicomSeries(files));
  // HTJ2K needs OpenJPH, and OpenJPEG for codestreams without HT blocks
  const htj2k = await Promise.all(files.map(async (f) => encapsulate(f, '1.2.840.10008.1.2.4.201', await encodeWithCodec(f, 'htj2k'))));
  assert.throws(() => readDicomSeries(htj2k), DecoderNotLoadedError);
  await loadDicomDecoders();
  assert.deepEqual(readDicomSeries(htj2k), readDicomSeries(files));
  await loadDicomDecoders(); // once per process: a second call has nothing to do
});
