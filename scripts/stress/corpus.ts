/**
 * The valid inputs the fuzz starts from: one small torso phantom (24×24×16 voxels of 6 mm, int16 HU, LPS) as
 * NIfTI-1 (little and big endian, int16 and float32), NIfTI-2, NRRD (raw and gzip, space directions or spacings)
 * and a DICOM CT series (forward and reverse slice order). Small enough that one read takes well under a
 * millisecond and one inference one sliding window of the bundled model (48³ at 3 mm).
 */
import { writeNifti, writeNrrd, type Volume } from '@vista3d/models';
import { generatePhantom, phantomDicomSeries } from '@vista3d/models/phantom';
import { gzipSync } from 'fflate';

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

export interface Corpus {
  /** Uncompressed single-file NIfTI variants (the .nii.gz mutants are these, gzipped). */
  nifti: NamedBytes[];
  /** Attached-data NRRD variants. */
  nrrd: NamedBytes[];
  dicom: { name: string; files: NamedBytes[] }[];
  /** A gzip bomb: a valid NIfTI header followed by 64 MiB of zeros, gzipped (≈64 KB). */
  bomb: Uint8Array;
  /** The phantom itself, for building valid requests. */
  volume: Volume<Int16Array>;
}

/** The small phantom every valid request uses (different seeds give different voxels, the same grid). */
export function smallPhantom(seed = 11): Volume<Int16Array> {
  return generatePhantom({ seed, dims: [24, 24, 16], spacing: [6, 6, 6], lesions: 0 }).image;
}

export function buildCorpus(): Corpus {
  const phantom = generatePhantom({ seed: 11, dims: [24, 24, 16], spacing: [6, 6, 6], lesions: 0 });
  const vol = phantom.image;
  const f32: Volume<Float32Array> = { ...vol, data: Float32Array.from(vol.data) };
  const n1 = writeNifti(vol, { gzip: false });
  const nifti: NamedBytes[] = [
    { name: 'nifti1-le-int16.nii', bytes: n1 },
    { name: 'nifti1-le-float32.nii', bytes: writeNifti(f32, { gzip: false }) },
    { name: 'nifti1-be-int16.nii', bytes: nifti1BigEndian(n1) },
    { name: 'nifti2-le-int16.nii', bytes: nifti2FromNifti1(n1) },
  ];
  const nrrdRaw = writeNrrd(vol, { gzip: false });
  const nrrd: NamedBytes[] = [
    { name: 'int16-gzip.nrrd', bytes: writeNrrd(vol) },
    { name: 'int16-raw.nrrd', bytes: nrrdRaw },
    { name: 'float32-raw.nrrd', bytes: writeNrrd(f32, { gzip: false }) },
    { name: 'int16-spacings.nrrd', bytes: nrrdWithSpacings(nrrdRaw, vol.spacing) },
  ];
  const forward = phantomDicomSeries(phantom);
  const dicom = [
    { name: 'forward', files: forward },
    { name: 'reverse', files: [...forward].reverse().map((f, i) => ({ name: `slice-${String(i + 1).padStart(4, '0')}.dcm`, bytes: f.bytes })) },
  ];
  const bombPlain = new Uint8Array(64 * 1024 ** 2 + 352);
  bombPlain.set(n1.subarray(0, 352));
  return { nifti, nrrd, dicom, bomb: gzipSync(bombPlain, { level: 9 }), volume: vol };
}

/** NIfTI-1 numeric header fields: [offset, bytes per element, elements]. Strings and the magic are left as they are. */
export const NIFTI1_NUMERIC: ReadonlyArray<[number, number, number]> = [
  [0, 4, 1], [32, 4, 1], [36, 2, 1], [40, 2, 8], [56, 4, 3], [68, 2, 1], [70, 2, 1], [72, 2, 1], [74, 2, 1],
  [76, 4, 8], [108, 4, 1], [112, 4, 1], [116, 4, 1], [120, 2, 1], [124, 4, 1], [128, 4, 1], [132, 4, 1],
  [136, 4, 1], [140, 4, 1], [144, 4, 1], [252, 2, 1], [254, 2, 1], [256, 4, 3], [268, 4, 3], [280, 4, 12],
];

function swapBytes(b: Uint8Array, offset: number, size: number, count: number): void {
  for (let e = 0; e < count; e++) {
    const p = offset + e * size;
    for (let a = p, z = p + size - 1; a < z; a++, z--) [b[a], b[z]] = [b[z], b[a]];
  }
}

/** The same image as a big-endian NIfTI-1 file: every numeric header field and every voxel byte-swapped. */
function nifti1BigEndian(le: Uint8Array): Uint8Array {
  const b = le.slice();
  const view = new DataView(le.buffer, le.byteOffset, le.byteLength);
  const voxOffset = view.getFloat32(108, true);
  const bitpix = view.getInt16(72, true);
  for (const [o, s, n] of NIFTI1_NUMERIC) swapBytes(b, o, s, n);
  swapBytes(b, voxOffset, bitpix / 8, (b.length - voxOffset) / (bitpix / 8));
  return b;
}

/** The same image as a NIfTI-2 file (540-byte header, 64-bit dims and offsets, float64 geometry). */
function nifti2FromNifti1(n1: Uint8Array): Uint8Array {
  const v1 = new DataView(n1.buffer, n1.byteOffset, n1.byteLength);
  const voxOffset1 = v1.getFloat32(108, true);
  const payload = n1.subarray(voxOffset1);
  const out = new Uint8Array(544 + payload.length);
  const v = new DataView(out.buffer);
  v.setInt32(0, 540, true);
  out.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4); // "n+2\0\r\n\x1a\n"
  v.setInt16(12, v1.getInt16(70, true), true); // datatype
  v.setInt16(14, v1.getInt16(72, true), true); // bitpix
  for (let i = 0; i < 8; i++) v.setBigInt64(16 + 8 * i, BigInt(v1.getInt16(40 + 2 * i, true)), true);
  for (let i = 0; i < 8; i++) v.setFloat64(104 + 8 * i, v1.getFloat32(76 + 4 * i, true), true);
  v.setBigInt64(168, 544n, true);
  v.setFloat64(176, v1.getFloat32(112, true), true);
  v.setFloat64(184, v1.getFloat32(116, true), true);
  v.setInt32(344, v1.getInt16(252, true), true);
  v.setInt32(348, v1.getInt16(254, true), true);
  for (let i = 0; i < 6; i++) v.setFloat64(352 + 8 * i, v1.getFloat32(256 + 4 * i, true), true);
  for (let i = 0; i < 12; i++) v.setFloat64(400 + 8 * i, v1.getFloat32(280 + 4 * i, true), true);
  v.setInt32(500, n1[123], true); // xyzt_units
  out.set(payload, 544);
  return out;
}

/** The raw NRRD with `spacings` instead of `space`/`space directions`/`space origin`. */
function nrrdWithSpacings(raw: Uint8Array, spacing: readonly number[]): Uint8Array {
  const text = new TextDecoder('latin1').decode(raw.subarray(0, 2048));
  const end = text.indexOf('\n\n') + 2;
  const lines = text.slice(0, end - 2).split('\n').filter((l) => !/^(space|space directions|space origin):/.test(l));
  const head = new TextEncoder().encode(`${[...lines, `spacings: ${spacing.join(' ')}`].join('\n')}\n\n`);
  const out = new Uint8Array(head.length + raw.length - end);
  out.set(head);
  out.set(raw.subarray(end), head.length);
  return out;
}
