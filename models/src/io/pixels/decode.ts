/**
 * Decoding of one compressed DICOM frame into stored pixel values, bounded: the codestream's own frame header is
 * read first and must agree with Rows, Columns, one sample per pixel and BitsAllocated before any codec allocates
 * for it, and what the codec hands back must be exactly Rows × Columns samples.
 *
 * Codecs: RLE (rle.ts, PS3.5 Annex G) and JPEG lossless process 14 (@cornerstonejs/jpeg-lossless-decoder-js)
 * are plain JavaScript, always ready. JPEG-LS (@cornerstonejs/codec-charls), JPEG 2000 (codec-openjpeg), HTJ2K
 * (codec-openjph) and 8-bit JPEG baseline (codec-libjpeg-turbo-8bit) are wasm modules that start asynchronously
 * once (`loadDicomDecoders`); after that, decoding is synchronous.
 */
import { Decoder as JpegLosslessDecoder } from '@cornerstonejs/jpeg-lossless-decoder-js';
import { startWasmCodec } from '#pixelCodecs';
import { InvalidImageError } from '../../errors.ts';
import { j2kCodestream, readJ2kHeader, readJpegHeader, type CodestreamHeader } from './headers.ts';
import { decodeRle } from './rle.ts';
import { isWasmCodec, TRANSFER_SYNTAXES, type Codec, type TransferSyntax, type WasmCodec } from './syntaxes.ts';
import type { WasmDecoderFactory } from './wasm.ts';

export type StoredArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
interface StoredArrayConstructor {
  new (length: number): StoredArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): StoredArray;
}
/** BitsAllocated → [unsigned, signed] (PixelRepresentation 0, 1) array type. */
export const STORED_TYPES: Record<number, [StoredArrayConstructor, StoredArrayConstructor]> = {
  8: [Uint8Array, Int8Array],
  16: [Uint16Array, Int16Array],
  32: [Uint32Array, Int32Array],
};

/** The DICOM attributes a frame is decoded against. */
export interface FrameFormat {
  rows: number;
  columns: number;
  /** 8, 16 or 32. */
  bitsAllocated: number;
  /** 1 … bitsAllocated: stored values are the low bitsStored bits of each sample. */
  bitsStored: number;
  /** PixelRepresentation 1: two's complement in bitsStored bits. */
  signed: boolean;
}

export interface DecodedFrame {
  /** Rows × Columns stored values, row by row (column index fastest), in STORED_TYPES[bitsAllocated]. */
  values: StoredArray;
  /** Why the frame's values differ from the original (a lossy codestream), or null. */
  lossy: string | null;
}

/** A compressed syntax met by the synchronous reader before its wasm decoder was started: a caller's mistake. */
export class DecoderNotLoadedError extends Error {
  override name = 'DecoderNotLoadedError';
}

const started = new Map<WasmCodec, WasmDecoderFactory>();
const starting = new Map<WasmCodec, Promise<void>>();
/** The last lines each wasm module printed (its own error messages), for the next InvalidImageError. */
const printed = new Map<WasmCodec, string[]>();

/**
 * Starts the wasm decoders the given transfer syntaxes need (all of them when none are given), once per process:
 * later calls return at once. Unknown and uncompressed syntaxes need nothing. A module that trapped on a bad
 * codestream is dropped, and started afresh by the next call.
 */
export async function loadDicomDecoders(transferSyntaxUids?: Iterable<string>): Promise<void> {
  const codecs = new Set<WasmCodec>();
  const uids = transferSyntaxUids ? [...transferSyntaxUids] : [...TRANSFER_SYNTAXES.keys()];
  for (const uid of uids) {
    const codec = TRANSFER_SYNTAXES.get(uid)?.codec;
    if (codec && isWasmCodec(codec)) for (const c of needs(codec)) codecs.add(c);
  }
  await Promise.all([...codecs].map(start));
}

function start(codec: WasmCodec): Promise<void> {
  if (started.has(codec)) return Promise.resolve();
  let p = starting.get(codec);
  if (!p) {
    const lines: string[] = [];
    printed.set(codec, lines);
    p = startWasmCodec(codec, (line) => {
      if (line.startsWith('[INFO]')) return; // OpenJPEG's progress
      lines.push(line);
      if (lines.length > 4) lines.shift();
    })
      .then((factory) => void started.set(codec, factory))
      .finally(() => starting.delete(codec));
    starting.set(codec, p);
  }
  return p;
}

/** The wasm modules a codec's syntaxes need: an HTJ2K syntax may hold a plain JPEG 2000 codestream (no HT blocks). */
const needs = (codec: WasmCodec): WasmCodec[] => (codec === 'htj2k' ? ['htj2k', 'jpeg2000'] : [codec]);

/** Whether the decoders for `syntax` are ready for the synchronous reader. */
export function decoderReady(syntax: TransferSyntax): boolean {
  return !isWasmCodec(syntax.codec) || needs(syntax.codec).every((c) => started.has(c));
}

/**
 * Decodes one encapsulated frame (all its fragments, joined) of a single-sample image. InvalidImageError, naming
 * `what`, for: a codestream whose header disagrees with `format` (size, more than one component, more bits than
 * BitsAllocated, a process the codec does not read such as 12-bit JPEG), a codec error, or a decoded size other
 * than Rows × Columns samples. DecoderNotLoadedError for a wasm codec not started (see loadDicomDecoders).
 */
export function decodeFrame(encoded: Uint8Array, syntax: TransferSyntax, format: FrameFormat, what: string): DecodedFrame {
  const { rows, columns, bitsAllocated, bitsStored } = format;
  if (!STORED_TYPES[bitsAllocated]) throw new InvalidImageError(`${what}: BitsAllocated ${bitsAllocated} is not read (8, 16 or 32)`);
  if (!(bitsStored >= 1 && bitsStored <= bitsAllocated)) throw new InvalidImageError(`${what}: BitsStored ${bitsStored} is not from 1 to BitsAllocated (${bitsAllocated})`);
  const pixels = rows * columns;
  const label = `${what} (${syntax.name})`;
  if (syntax.codec === 'rle') {
    const bytes = decodeRle(encoded, pixels, bitsAllocated / 8, label);
    return { values: toStored(samplesOf(bytes, bitsAllocated / 8), format), lossy: null };
  }
  const header = checkedHeader(syntax.codec, encoded, format, label);
  const sampleBytes = header.precision <= 8 ? 1 : 2;
  // OpenJPH reads only codestreams that announce HT blocks; OpenJPEG reads the others
  const codec = syntax.codec === 'htj2k' && !header.ht ? 'jpeg2000' : syntax.codec;
  const samples = codec === 'jpeg-lossless' ? decodeJpegLossless(encoded, sampleBytes, pixels, label) : decodeWasm(codec as WasmCodec, header.codestream, sampleBytes, format, label);
  return { values: toStored(samples, format), lossy: lossyReason(syntax, header) };
}

type Header = CodestreamHeader & { codestream: Uint8Array };

/** Markers (SOFn) of the JPEG processes each JPEG codec reads. */
const JPEG_FRAMES: Partial<Record<Codec, number[]>> = {
  'jpeg-baseline': [0xffc0, 0xffc1, 0xffc2],
  'jpeg-lossless': [0xffc3],
  'jpeg-ls': [0xfff7],
};

function checkedHeader(codec: Codec, encoded: Uint8Array, f: FrameFormat, what: string): Header {
  let header: Header;
  if (codec === 'jpeg2000' || codec === 'htj2k') {
    const codestream = j2kCodestream(encoded, what);
    header = { ...readJ2kHeader(codestream, what), codestream };
  } else {
    header = { ...readJpegHeader(encoded, what), codestream: encoded };
    const markers = JPEG_FRAMES[codec] ?? [];
    if (!markers.includes(header.marker!)) {
      throw new InvalidImageError(`${what}: the JPEG stream is of a process this syntax does not use (frame marker 0x${header.marker!.toString(16)}, expected ${markers.map((m) => `0x${m.toString(16)}`).join(' or ')})`);
    }
  }
  if (header.width !== f.columns || header.height !== f.rows) {
    throw new InvalidImageError(`${what}: the codestream is ${header.width}×${header.height} pixels, the DICOM attributes say ${f.columns}×${f.rows} (Columns × Rows)`);
  }
  if (header.components !== 1) throw new InvalidImageError(`${what}: the codestream has ${header.components} components; only grey-level images are read`);
  const [lo, hi] = codec === 'jpeg-baseline' ? [8, 8] : [codec === 'jpeg2000' || codec === 'htj2k' ? 1 : 2, 16];
  if (header.precision < lo || header.precision > hi) {
    const why = codec === 'jpeg-baseline' ? 'only 8-bit lossy JPEG is read (12-bit JPEG extended is not)' : `${lo} to ${hi} bits are read`;
    throw new InvalidImageError(`${what}: the codestream has ${header.precision}-bit samples; ${why}`);
  }
  if (header.precision > f.bitsAllocated) throw new InvalidImageError(`${what}: the codestream has ${header.precision}-bit samples, more than BitsAllocated (${f.bitsAllocated})`);
  return header;
}

function decodeJpegLossless(encoded: Uint8Array, sampleBytes: number, pixels: number, what: string): Uint8Array | Uint16Array {
  const decoder = new JpegLosslessDecoder();
  let out: Uint8Array | Uint16Array;
  try {
    out = decoder.decode(encoded.buffer as ArrayBuffer, encoded.byteOffset, encoded.length, sampleBytes);
  } catch (e) {
    throw new InvalidImageError(`${what}: the JPEG lossless stream could not be decoded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // the decoder reads on past the end of a truncated stream (as zeros): that is an error here, not an image
  const read = (decoder as unknown as { stream?: { index: number } }).stream?.index ?? 0;
  if (read > encoded.length) throw new InvalidImageError(`${what}: the JPEG lossless stream ends before its last pixel (truncated)`);
  if (out.length !== pixels) throw new InvalidImageError(`${what}: the JPEG lossless stream decoded to ${out.length} samples, Rows × Columns is ${pixels}`);
  return out;
}

function decodeWasm(codec: WasmCodec, codestream: Uint8Array, sampleBytes: number, f: FrameFormat, what: string): Uint8Array | Uint16Array {
  const make = started.get(codec);
  if (!make) throw new DecoderNotLoadedError(`the ${codec} decoder is not started: await loadDicomDecoders() first, or read with readDicomSeriesWithInfoAsync`);
  const lines = printed.get(codec)!;
  lines.length = 0;
  let decoder;
  try {
    decoder = make();
    decoder.getEncodedBuffer(codestream.length).set(codestream);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (!info.width || !info.height) throw new InvalidImageError(`${what}: the codestream could not be decoded${printedLines(lines)}`);
    if (info.width !== f.columns || info.height !== f.rows || info.componentCount !== 1) {
      throw new InvalidImageError(`${what}: the decoder gave ${info.width}×${info.height} pixels × ${info.componentCount} components, Columns × Rows is ${f.columns}×${f.rows}`);
    }
    const decoded = decoder.getDecodedBuffer();
    const expected = f.rows * f.columns * sampleBytes;
    if (decoded.length !== expected) throw new InvalidImageError(`${what}: the decoder gave ${decoded.length} bytes, Rows × Columns × ${sampleBytes} bytes is ${expected}`);
    return samplesOf(decoded.slice(), sampleBytes) as Uint8Array | Uint16Array;
  } catch (e) {
    if (e instanceof InvalidImageError) throw e;
    // a trap (abort, out of bounds) leaves the module unusable: start it afresh next time
    if (e instanceof WebAssembly.RuntimeError) started.delete(codec);
    // the modules throw C++ exceptions as bare numbers (pointers): the codec refused the data
    const why = e instanceof Error ? `: ${e.message}` : typeof e === 'number' ? ' (the decoder refused it)' : `: ${String(e)}`;
    throw new InvalidImageError(`${what}: the codestream could not be decoded${why}${printedLines(lines)}`, { cause: e });
  } finally {
    try {
      decoder?.delete();
    } catch {
      /* a dropped module */
    }
  }
}

const printedLines = (lines: readonly string[]) => (lines.length ? ` (${lines.join('; ')})` : '');

/** Little-endian sample bytes (our own copy) as unsigned samples of `bytes` bytes. */
function samplesOf(b: Uint8Array, bytes: number): Uint8Array | Uint16Array | Uint32Array {
  if (bytes === 1) return b;
  const Samples = bytes === 2 ? Uint16Array : Uint32Array;
  return new Samples(b.buffer as ArrayBuffer, b.byteOffset, b.length / bytes);
}

/** Stored values from unsigned samples: the low bitsStored bits, sign-extended when PixelRepresentation is 1. */
function toStored(samples: Uint8Array | Uint16Array | Uint32Array, f: FrameFormat): StoredArray {
  const Stored = STORED_TYPES[f.bitsAllocated][f.signed ? 1 : 0];
  if (f.bitsStored === f.bitsAllocated && samples.BYTES_PER_ELEMENT * 8 === f.bitsAllocated) return new Stored(samples.buffer, samples.byteOffset, samples.length);
  const out = new Stored(samples.length);
  const shift = 32 - f.bitsStored;
  if (f.signed) for (let p = 0; p < samples.length; p++) out[p] = (samples[p] << shift) >> shift;
  else for (let p = 0; p < samples.length; p++) out[p] = (samples[p] << shift) >>> shift;
  return out;
}

function lossyReason(syntax: TransferSyntax, h: CodestreamHeader): string | null {
  if (h.complete === false) return `${syntax.name}, a codestream without its end marker (EOC): cut short, decoded as far as it goes`;
  if (syntax.lossy === 'yes') return syntax.name;
  if (syntax.lossy === 'no') return null;
  if (h.near !== undefined && h.near > 0) return `${syntax.name}, NEAR ${h.near}`;
  if (h.reversible === false) return `${syntax.name}, irreversible 9/7 wavelet`;
  return null;
}
