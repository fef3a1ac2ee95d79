import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidImageError, UnsupportedFormatError } from '../errors.ts';
import { sameGrid, type Volume } from '../geometry/volume.ts';
import { detectFormat, outputNameFor, readVolumeBytes, writeVolumeBytes } from './format.ts';
import { isGzip } from './gzip.ts';

const vol: Volume = {
  data: new Int16Array(24).map((_, k) => k * 7 - 50),
  dims: [4, 3, 2],
  spacing: [0.8, 0.9, 3],
  direction: [0, 0, 1, -1, 0, 0, 0, -1, 0],
  origin: [10, -20.5, 33],
};

describe('detectFormat', () => {
  const cases: Array<[string, ReturnType<typeof detectFormat>]> = [
    ['ct.nii', 'nifti'], ['ct.nii.gz', 'nifti'], ['CT.NII.GZ', 'nifti'], ['/data/a.b/ct.nii.gz', 'nifti'],
    ['seg.nrrd', 'nrrd'], ['seg.NRRD', 'nrrd'], ['seg.nhdr', 'nrrd'],
    ['slice.dcm', 'dicom'], ['slice.DICOM', 'dicom'],
    ['ct.gz', null], ['ct.mha', null], ['series', null], ['1.2.840.113619.2.55', null], ['ct.nii.zip', null], ['', null],
  ];
  for (const [name, format] of cases) test(`${JSON.stringify(name)} → ${format}`, () => assert.equal(detectFormat(name), format));
});

describe('outputNameFor', () => {
  const cases: Array<[string, string]> = [
    ['ct.nii.gz', 'ct_seg.nii.gz'],
    ['ct.nii', 'ct_seg.nii'],
    ['CT.NII.GZ', 'CT_seg.NII.GZ'],
    ['scan.v2.nrrd', 'scan.v2_seg.nrrd'],
    ['scan.nhdr', 'scan_seg.nrrd'],
    ['/data/in/ct.nii.gz', 'ct_seg.nii.gz'],
    ['slice001.dcm', 'slice001_seg.nii.gz'],
    ['patient1/series3', 'series3_seg.nii.gz'],
    ['series3/', 'series3_seg.nii.gz'],
    ['1.2.840.113619.2.55', '1.2.840.113619.2.55_seg.nii.gz'],
    // hostile names (a URL's last segment after percent-decoding): never a path, a quote or a hidden file
    ['../../pwned.nii', 'pwned_seg.nii'],
    ['..\\..\\pwned.nii', 'pwned_seg.nii'],
    ['..', 'image_seg.nii.gz'],
    ['.nii.gz', 'image_seg.nii.gz'],
    ['a"b\r\nSet-Cookie: x.nii.gz', 'a_b_Set-Cookie_x_seg.nii.gz'],
    ['bébé scan.nrrd', 'b_b_scan_seg.nrrd'],
    ['-rf.nii', 'rf_seg.nii'],
    [`${'x'.repeat(300)}.nii`, `${'x'.repeat(100)}_seg.nii`],
  ];
  for (const [input, output] of cases) test(`${input} → ${output}`, () => assert.equal(outputNameFor(input), output));
});

describe('readVolumeBytes / writeVolumeBytes', () => {
  test('dispatch by extension, both formats, gzipped by default', () => {
    for (const [format, name] of [['nifti', 'x.nii.gz'], ['nifti', 'x.nii'], ['nrrd', 'x.nrrd']] as const) {
      const bytes = writeVolumeBytes(vol, format);
      assert.equal(format === 'nifti' ? isGzip(bytes) : /encoding: gzip/.test(new TextDecoder('latin1').decode(bytes.subarray(0, 600))), true);
      const back = readVolumeBytes(bytes, name);
      assert.deepEqual(back.data, vol.data);
      assert.ok(sameGrid(back, vol, 1e-5), `${name}: ${JSON.stringify(back)}`);
    }
    assert.equal(isGzip(writeVolumeBytes(vol, 'nifti', { gzip: false })), false);
  });

  test('the reader is the extension\'s: NRRD bytes named .nii fail as NIfTI', () => {
    assert.throws(() => readVolumeBytes(writeVolumeBytes(vol, 'nrrd'), 'x.nii'), (e: unknown) => e instanceof InvalidImageError && /not a NIfTI file/.test(e.message));
  });

  test('options reach the reader: limits and resolveDataFile', () => {
    assert.throws(() => readVolumeBytes(writeVolumeBytes(vol, 'nifti'), 'x.nii.gz', { limits: { maxVoxels: 10 } }), /maxVoxels limit of 10/);
    const nhdr = new TextEncoder().encode('NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\ndata file: x.raw\n');
    const back = readVolumeBytes(nhdr, 'x.nhdr', { resolveDataFile: () => new Uint8Array(vol.data.buffer) });
    assert.deepEqual(back.data, vol.data);
  });

  test('options reach the reader: onWarning, for NIfTI and NRRD', () => {
    const nifti = writeVolumeBytes(vol, 'nifti', { gzip: false });
    nifti[254] = nifti[255] = 0; // sform_code 0: the qform is used, and said so
    const nrrd = new TextEncoder().encode('NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\nspacings: 0.8 0.9 3\n\n');
    const cases: Array<[Uint8Array, string, RegExp]> = [
      [nifti, 'x.nii', /^NIfTI sform_code is 0: geometry from the qform/],
      [new Uint8Array([...nrrd, ...new Uint8Array(vol.data.buffer)]), 'x.nrrd', /^NRRD has no space directions/],
    ];
    for (const [bytes, name, warning] of cases) {
      const warnings: string[] = [];
      readVolumeBytes(bytes, name, { onWarning: (w) => warnings.push(w) });
      assert.equal(warnings.length, 1, `${name}: ${JSON.stringify(warnings)}`);
      assert.match(warnings[0], warning);
    }
  });

  test('DICOM and unknown extensions: UnsupportedFormatError', () => {
    assert.throws(() => readVolumeBytes(new Uint8Array(200), 'slice.dcm'), (e: unknown) => e instanceof UnsupportedFormatError && /"slice.dcm" is DICOM/.test(e.message));
    assert.throws(() => readVolumeBytes(new Uint8Array(200), 'ct.mha'), (e: unknown) => e instanceof UnsupportedFormatError && e.code === 'unsupported_format' && /"ct.mha" has an unsupported extension: expected one of .nii.gz, .nii, .nrrd/.test(e.message));
  });
});
