/**
 * Compressed DICOM for tests: Part 10 files (explicit VR little endian, as writeDicomSeries makes them) re-encoded
 * by independent tools from Debian — DCMTK (dcmcjpls, dcmcjpeg, dcmcrle), GDCM (gdcmconv: JPEG 2000, JPEG-LS
 * near-lossless) and OpenJPH (ojph_compress: HTJ2K, wrapped here) — or by the encoders of the Cornerstone codec
 * packages, in-process. scripts/install-system-deps.sh installs the tools.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dicomParser from 'dicom-parser';
import { data as dcmjs } from 'dcmjs';

export interface DicomFile {
  name: string;
  bytes: Uint8Array;
}

/** A way to compress a file, with the transfer syntax it gives. */
export interface Compressor {
  /** How the sample was made, for test titles. */
  name: string;
  syntax: string;
  /** The command it runs, and the Debian package that has it. */
  binary: string;
  pkg: string;
  /** The values may differ from the original (by at most `tolerance` stored units, when known). */
  lossy: boolean;
  tolerance?: number;
  compress(file: DicomFile): DicomFile;
}

const tool = (name: string, syntax: string, binary: string, pkg: string, args: string[], lossy = false, tolerance?: number): Compressor => ({
  name,
  syntax,
  binary,
  pkg,
  lossy,
  tolerance,
  compress: (file) => viaFiles(file, syntax, (input, output) => execFileSync(`/usr/bin/${binary}`, [...args, input, output], { stdio: ['ignore', 'ignore', 'pipe'] })),
});

/** Every tool-made sample the tests use. */
export const COMPRESSORS: readonly Compressor[] = [
  tool('JPEG-LS lossless (dcmcjpls)', '1.2.840.10008.1.2.4.80', 'dcmcjpls', 'dcmtk', []),
  tool('JPEG-LS near-lossless NEAR 2 (gdcmconv -L --lossy -e 2)', '1.2.840.10008.1.2.4.81', 'gdcmconv', 'libgdcm-tools', ['-L', '--lossy', '-e', '2'], true, 2),
  tool('JPEG lossless process 14 (dcmcjpeg +el)', '1.2.840.10008.1.2.4.57', 'dcmcjpeg', 'dcmtk', ['+el']),
  tool('JPEG lossless SV1 (dcmcjpeg +e1)', '1.2.840.10008.1.2.4.70', 'dcmcjpeg', 'dcmtk', ['+e1']),
  tool('RLE (dcmcrle)', '1.2.840.10008.1.2.5', 'dcmcrle', 'dcmtk', []),
  tool('JPEG 2000 lossless (gdcmconv --j2k)', '1.2.840.10008.1.2.4.90', 'gdcmconv', 'libgdcm-tools', ['--j2k']),
  tool('JPEG 2000 irreversible (gdcmconv --j2k --lossy --irreversible)', '1.2.840.10008.1.2.4.91', 'gdcmconv', 'libgdcm-tools', ['--j2k', '--lossy', '--irreversible', '-q', '80'], true),
  {
    name: 'HTJ2K lossless (ojph_compress, wrapped as 1.2.840.10008.1.2.4.201)',
    syntax: '1.2.840.10008.1.2.4.201',
    binary: 'ojph_compress',
    pkg: 'openjph-tools',
    lossy: false,
    compress: (file) => htj2kWithOpenJph(file),
  },
];

/** Why the tools of `compressors` cannot run here ("install …"), or null. */
export function toolsMissing(compressors: readonly Compressor[] = COMPRESSORS): string | null {
  const missing = compressors.filter((c) => !existsSync(`/usr/bin/${c.binary}`));
  if (!missing.length) return null;
  const pkgs = [...new Set(missing.map((c) => c.pkg))];
  return `${[...new Set(missing.map((c) => c.binary))].join(', ')} missing (Debian ${pkgs.join(', ')}); run: sudo scripts/install-system-deps.sh`;
}

/** Writes `file` to a temporary folder, lets `run` make the output, reads it and checks its transfer syntax. */
function viaFiles(file: DicomFile, syntax: string, run: (input: string, output: string) => void): DicomFile {
  const dir = mkdtempSync(join(tmpdir(), 'vista3d-compress-'));
  try {
    const input = join(dir, 'in.dcm');
    const output = join(dir, 'out.dcm');
    writeFileSync(input, file.bytes);
    run(input, output);
    const bytes = new Uint8Array(readFileSync(output));
    const got = dicomParser.readPart10Header(bytes).string('x00020010');
    if (got !== syntax) throw new Error(`compressing ${file.name} gave transfer syntax ${got}, not ${syntax}`);
    return { name: file.name, bytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Image attributes and the (uncompressed, little-endian) pixel bytes of a file. */
export function pixelsOf(file: DicomFile): { rows: number; columns: number; bitsAllocated: number; bitsStored: number; signed: boolean; bytes: Uint8Array } {
  const ds = dicomParser.parseDicom(file.bytes);
  const el = ds.elements.x7fe00010;
  return {
    rows: ds.uint16('x00280010')!,
    columns: ds.uint16('x00280011')!,
    bitsAllocated: ds.uint16('x00280100')!,
    bitsStored: ds.uint16('x00280101')!,
    signed: ds.uint16('x00280103') === 1,
    bytes: file.bytes.slice(el.dataOffset, el.dataOffset + el.length),
  };
}

/**
 * HTJ2K by Debian's OpenJPH command line (raw samples in, codestream out), wrapped into the file. Its raw reader
 * takes 16-bit samples as unsigned: signed pixels go in as their 16-bit patterns (an unsigned 16-bit codestream
 * under PixelRepresentation 1, a mismatch DICOM readers resolve by the attributes).
 */
function htj2kWithOpenJph(file: DicomFile): DicomFile {
  const p = pixelsOf(file);
  const bitDepth = p.signed ? p.bitsAllocated : p.bitsStored;
  const dir = mkdtempSync(join(tmpdir(), 'vista3d-htj2k-'));
  try {
    writeFileSync(join(dir, 'in.yuv'), p.bytes);
    execFileSync(
      '/usr/bin/ojph_compress',
      ['-i', join(dir, 'in.yuv'), '-o', join(dir, 'out.j2c'), '-dims', `{${p.columns},${p.rows}}`, '-num_comps', '1', '-signed', 'false', '-bit_depth', String(bitDepth), '-downsamp', '{1,1}', '-reversible', 'true'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return encapsulate(file, '1.2.840.10008.1.2.4.201', new Uint8Array(readFileSync(join(dir, 'out.j2c'))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The file with its PixelData replaced by one compressed frame (encapsulated: an empty basic offset table and
 * one fragment) and TransferSyntaxUID set to `syntax`; every other attribute as it was, or as `changes` say
 * (tag → [VR, values]).
 */
export function encapsulate(file: DicomFile, syntax: string, frame: Uint8Array, changes: Record<string, [string, unknown[]]> = {}): DicomFile {
  const dicom = dcmjs.DicomMessage.readFile(file.bytes.slice().buffer);
  dicom.meta['00020010'].Value = [syntax];
  for (const [tag, [vr, values]] of Object.entries(changes)) dicom.upsertTag(tag, vr, values);
  dicom.dict['7FE00010'] = { vr: 'OB', Value: [frame.slice().buffer] };
  return { name: file.name, bytes: new Uint8Array(dicom.write()) };
}

/** The file with other attributes and pixel bytes (still explicit VR little endian): e.g. 12-bit unsigned. */
export function withPixels(file: DicomFile, bytes: Uint8Array, changes: Record<string, [string, unknown[]]>): DicomFile {
  const dicom = dcmjs.DicomMessage.readFile(file.bytes.slice().buffer);
  for (const [tag, [vr, values]] of Object.entries(changes)) dicom.upsertTag(tag, vr, values);
  dicom.dict['7FE00010'] = { vr: 'OW', Value: [bytes.slice().buffer] };
  return { name: file.name, bytes: new Uint8Array(dicom.write()) };
}

// In-process encoders of the Cornerstone codec packages (the same libraries as the decoders: a round-trip check).
const require = createRequire(import.meta.url);

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}
interface Encoder {
  getDecodedBuffer(info: FrameInfo): Uint8Array;
  getEncodedBuffer(): Uint8Array;
  encode(): void;
  delete(): void;
  setNearLossless?(near: number): void;
  /** JPEG 2000: (lossless, number of layers); HTJ2K: (lossless, quantisation step). */
  setQuality?(lossless: boolean, value: number): void;
  setCompressionRatio?(layer: number, ratio: number): void;
  setDecompositions?(levels: number): void;
}
type Module = Record<string, new () => Encoder>;
const modules = new Map<string, Promise<Module>>();
const load = (path: string) => {
  if (!modules.has(path)) modules.set(path, (require(path) as (o: object) => Promise<Module>)({ print: () => {}, printErr: () => {} }));
  return modules.get(path)!;
};

export type CodecEncoding = 'jpeg-ls' | 'jpeg2000' | 'htj2k' | 'jpeg-baseline';
const ENCODERS: Record<CodecEncoding, [string, string]> = {
  'jpeg-ls': ['@cornerstonejs/codec-charls/wasmjs', 'JpegLSEncoder'],
  jpeg2000: ['@cornerstonejs/codec-openjpeg/wasmjs', 'J2KEncoder'],
  htj2k: ['@cornerstonejs/codec-openjph/wasmjs', 'HTJ2KEncoder'],
  'jpeg-baseline': ['@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs', 'JPEGEncoder'],
};

/**
 * One frame of the file's pixels encoded with a Cornerstone codec's own encoder. `near`: JPEG-LS NEAR; `lossy`:
 * JPEG 2000 / HTJ2K with the irreversible 9/7 wavelet (JPEG 2000 at compression ratio `quality`, default 8; HTJ2K
 * with quantisation step `quality`, default 0.01); JPEG baseline at quality `quality` (default 90).
 */
export async function encodeWithCodec(file: DicomFile, codec: CodecEncoding, o: { near?: number; lossy?: boolean; quality?: number } = {}): Promise<Uint8Array> {
  const [path, className] = ENCODERS[codec];
  const module = await load(path);
  const p = pixelsOf(file);
  const encoder = new module[className]();
  try {
    const info = { width: p.columns, height: p.rows, bitsPerSample: p.bitsStored, componentCount: 1, isSigned: p.signed, isUsingColorTransform: false };
    encoder.getDecodedBuffer(info).set(p.bytes);
    // at most as many wavelet levels as the smaller side allows
    const levels = Math.min(5, Math.floor(Math.log2(Math.min(p.rows, p.columns))) - 2);
    if (codec === 'jpeg-ls') encoder.setNearLossless!(o.near ?? 0);
    if (codec === 'jpeg2000') {
      encoder.setDecompositions!(levels);
      encoder.setQuality!(!o.lossy, 1);
      encoder.setCompressionRatio!(0, o.lossy ? (o.quality ?? 8) : 0);
    }
    if (codec === 'htj2k') {
      encoder.setDecompositions!(levels);
      encoder.setQuality!(!o.lossy, o.lossy ? (o.quality ?? 0.01) : 0);
    }
    if (codec === 'jpeg-baseline') (encoder as unknown as { setQuality(q: number): void }).setQuality(o.quality ?? 90);
    encoder.encode();
    return encoder.getEncodedBuffer().slice();
  } finally {
    encoder.delete();
  }
}
