/**
 * The frame headers of compressed codestreams, read without decoding anything: what a codec would allocate for,
 * checked against the DICOM attributes before the codec sees the data.
 */
import { InvalidImageError } from '../../errors.ts';

export interface CodestreamHeader {
  width: number;
  height: number;
  components: number;
  /** Bits per sample (JPEG P, JPEG 2000 Ssiz + 1). */
  precision: number;
  /** The marker that described the frame (JPEG SOFn), for the message when it is not one the codec reads. */
  marker?: number;
  /** JPEG-LS: the NEAR parameter of the first scan (0 = lossless). */
  near?: number;
  /** JPEG 2000 / HTJ2K: the wavelet of the default coding style (false: irreversible 9/7, lossy). */
  reversible?: boolean;
  /** JPEG 2000 / HTJ2K: Ssiz says signed samples. */
  signed?: boolean;
  /** JPEG 2000 / HTJ2K: Rsiz says HT (Part 15) code-blocks may be present. */
  ht?: boolean;
  /** JPEG 2000 / HTJ2K: the codestream ends with EOC (else it was cut short; HTJ2K decoders then decode what is there). */
  complete?: boolean;
}

const u16 = (b: Uint8Array, p: number) => (b[p] << 8) | b[p + 1];
const u32 = (b: Uint8Array, p: number) => ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;

/** SOFn markers: 0xFFC0–0xFFCF except DHT (C4), JPG (C8) and DAC (CC); 0xFFF7 is the JPEG-LS SOF55. */
const isSof = (m: number) => (m >= 0xffc0 && m <= 0xffcf && m !== 0xffc4 && m !== 0xffc8 && m !== 0xffcc) || m === 0xfff7;

/**
 * The frame header (SOFn, or SOF55 for JPEG-LS) of a JPEG / JPEG-LS stream, and the NEAR of its first scan.
 * Throws InvalidImageError naming `what` when the stream does not start with SOI or ends before a frame header.
 */
export function readJpegHeader(b: Uint8Array, what: string): CodestreamHeader {
  if (b.length < 4 || u16(b, 0) !== 0xffd8) throw new InvalidImageError(`${what} does not start with a JPEG SOI marker`);
  let header: CodestreamHeader | null = null;
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) throw new InvalidImageError(`${what}: no JPEG marker at byte ${p}`);
    const marker = u16(b, p);
    if (marker === 0xffff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xffd9) break; // EOI
    if (marker === 0xff01 || (marker >= 0xffd0 && marker <= 0xffd7)) {
      p += 2; // no length
      continue;
    }
    const length = u16(b, p + 2);
    if (length < 2 || p + 2 + length > b.length) throw new InvalidImageError(`${what}: JPEG marker 0x${marker.toString(16)} at byte ${p} runs past the end of the data`);
    const s = p + 4;
    if (isSof(marker)) {
      if (length < 8) throw new InvalidImageError(`${what}: JPEG frame header of ${length} bytes`);
      header = { marker, precision: b[s], height: u16(b, s + 1), width: u16(b, s + 3), components: b[s + 5] };
    } else if (marker === 0xffda) {
      // SOS: Ns, Ns × (Cs, Td/Ta), then Ss (JPEG-LS: NEAR), Se (ILV), Ah/Al
      if (!header) break;
      const ns = b[s];
      if (header.marker === 0xfff7 && length >= 6 + 2 * ns) header.near = b[s + 1 + 2 * ns];
      return header;
    }
    p += 2 + length;
  }
  if (!header) throw new InvalidImageError(`${what}: the JPEG stream has no frame header (SOF) before its first scan`);
  return header;
}

/** The JPEG 2000 codestream of `b`: itself, or the contents of the 'jp2c' box of a JP2 file. */
export function j2kCodestream(b: Uint8Array, what: string): Uint8Array {
  const jp2 = b.length >= 12 && u32(b, 0) === 12 && u32(b, 4) === 0x6a502020;
  if (!jp2) return b;
  let p = 0;
  while (p + 8 <= b.length) {
    let size = u32(b, p);
    const type = u32(b, p + 4);
    let body = p + 8;
    if (size === 1) {
      if (p + 16 > b.length) break;
      size = u32(b, p + 8) * 2 ** 32 + u32(b, p + 12);
      body = p + 16;
    } else if (size === 0) size = b.length - p;
    if (size < body - p || p + size > b.length) break;
    if (type === 0x6a703263) return b.subarray(body, p + size); // 'jp2c'
    p += size;
  }
  throw new InvalidImageError(`${what}: a JP2 file without a complete codestream box (jp2c)`);
}

/**
 * The image size, components, precision and wavelet of a JPEG 2000 / HTJ2K codestream (SIZ and COD of its main
 * header). Throws InvalidImageError naming `what` when it does not start with SOC + SIZ.
 */
export function readJ2kHeader(b: Uint8Array, what: string): CodestreamHeader {
  if (b.length < 4 || u16(b, 0) !== 0xff4f || u16(b, 2) !== 0xff51) throw new InvalidImageError(`${what} is not a JPEG 2000 codestream (no SOC + SIZ markers)`);
  const lsiz = u16(b, 4);
  if (lsiz < 41 || 4 + lsiz > b.length) throw new InvalidImageError(`${what}: JPEG 2000 SIZ marker of ${lsiz} bytes runs past the end of the data`);
  const components = u16(b, 40);
  if (lsiz < 38 + 3 * components) throw new InvalidImageError(`${what}: JPEG 2000 SIZ marker too short for ${components} components`);
  const ssiz = b[42];
  const header: CodestreamHeader = {
    width: u32(b, 8) - u32(b, 16),
    height: u32(b, 12) - u32(b, 20),
    components,
    precision: (ssiz & 0x7f) + 1,
    signed: (ssiz & 0x80) !== 0,
    ht: (u16(b, 6) & 0x4000) !== 0,
    complete: endsWithEoc(b),
  };
  // the main header's markers up to the first tile (SOT): COD gives the wavelet
  let p = 4 + lsiz;
  while (p + 4 <= b.length) {
    const marker = u16(b, p);
    if (marker === 0xff90 || (marker & 0xff00) !== 0xff00) break;
    const length = u16(b, p + 2);
    if (length < 2 || p + 2 + length > b.length) break;
    if (marker === 0xff52 && length >= 12) header.reversible = b[p + 13] === 1;
    p += 2 + length;
  }
  return header;
}

/** Whether the codestream ends with EOC (0xFFD9), allowing the zero bytes that pad a DICOM fragment to even length. */
function endsWithEoc(b: Uint8Array): boolean {
  let end = b.length;
  while (end > 2 && b.length - end < 3 && b[end - 1] === 0) end--;
  return end >= 2 && b[end - 2] === 0xff && b[end - 1] === 0xd9;
}
