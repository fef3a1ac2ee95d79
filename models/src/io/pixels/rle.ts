/**
 * DICOM RLE lossless (PS3.5 Annex G): a 64-byte header (number of segments, then up to 15 segment offsets, all
 * uint32 little endian) and one PackBits-coded segment per byte plane, most significant byte first.
 */
import { InvalidImageError } from '../../errors.ts';

/**
 * Decodes one RLE frame of `pixels` grey-level samples of `bytesPerSample` bytes (1, 2 or 4) into little-endian
 * sample bytes, row by row (column index fastest): `pixels × bytesPerSample` bytes, nothing else is allocated.
 *
 * The frame must hold exactly `bytesPerSample` segments, at increasing offsets inside it, each decoding to
 * `pixels` bytes: fewer, or more than one byte more (the padding some writers leave; a run cut off by the end of
 * a segment that is already complete is padding too), is an InvalidImageError naming `what`.
 */
export function decodeRle(frame: Uint8Array, pixels: number, bytesPerSample: number, what: string): Uint8Array {
  if (frame.length < 64) throw new InvalidImageError(`${what}: an RLE frame of ${frame.length} bytes has no complete 64-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, 64);
  const segments = view.getUint32(0, true);
  if (segments !== bytesPerSample) {
    throw new InvalidImageError(`${what}: the RLE frame has ${segments} segments; ${bytesPerSample} expected (one per byte of a grey-level sample)`);
  }
  const offsets = Array.from({ length: segments }, (_, s) => view.getUint32(4 + 4 * s, true));
  offsets.push(frame.length);
  for (let s = 0; s < segments; s++) {
    if (offsets[s] < 64 || offsets[s] > offsets[s + 1]) {
      throw new InvalidImageError(`${what}: RLE segment ${s + 1} has offset ${offsets[s]}, outside the frame's ${frame.length} bytes or before the previous segment's end`);
    }
  }
  const out = new Uint8Array(pixels * bytesPerSample);
  for (let s = 0; s < segments; s++) {
    // segment s holds byte (bytesPerSample - 1 - s) of each little-endian sample
    const label = `${what}: RLE segment ${s + 1}`;
    const decoded = unpackBits(frame, offsets[s], offsets[s + 1], out, bytesPerSample - 1 - s, bytesPerSample, pixels, label);
    if (decoded < pixels || decoded > pixels + 1) throw new InvalidImageError(`${label} decodes to ${decoded} bytes, ${pixels} (Rows × Columns) needed`);
  }
  return out;
}

/**
 * PackBits from `src[start, end)` into every `stride`-th byte of `out` from `first`, at most `count` bytes written;
 * returns how many bytes the whole segment decodes to.
 */
function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array, first: number, stride: number, count: number, what: string): number {
  let p = start;
  let n = 0;
  while (p < end) {
    const h = src[p++];
    if (h === 128) continue; // −128: no operation
    const literal = h < 128;
    const len = literal ? h + 1 : 257 - h;
    const available = literal ? end - p : Math.min(end - p, 1);
    if (available < (literal ? len : 1)) {
      if (n >= count) break; // padding after a complete segment
      throw new InvalidImageError(literal ? `${what}: a literal run of ${len} bytes at byte ${p - 1 - start} runs past the segment's end` : `${what}: a replicate run at byte ${p - 1 - start} has no byte to repeat`);
    }
    const take = Math.max(0, Math.min(len, count - n));
    if (literal) for (let q = 0; q < take; q++) out[first + (n + q) * stride] = src[p + q];
    else for (let q = 0, v = src[p]; q < take; q++) out[first + (n + q) * stride] = v;
    n += len;
    p += literal ? len : 1;
  }
  return n;
}
