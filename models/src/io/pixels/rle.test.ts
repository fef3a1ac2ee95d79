import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidImageError } from '../../errors.ts';
import { decodeRle } from './rle.ts';

/** An RLE frame (PS3.5 G.5): header with `segments.length` offsets, then the segments as given. */
function frame(segments: number[][]): Uint8Array {
  const header = new Uint8Array(64);
  const view = new DataView(header.buffer);
  view.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((s, n) => {
    view.setUint32(4 + 4 * n, offset, true);
    offset += s.length;
  });
  return Uint8Array.from([...header, ...segments.flat()]);
}

/** PackBits as PS3.5 G.3.1 describes it: replicate runs of 2–128 equal bytes, literal runs of up to 128, even length. */
function packBits(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let p = 0;
  while (p < bytes.length) {
    let run = 1;
    while (p + run < bytes.length && run < 128 && bytes[p + run] === bytes[p]) run++;
    if (run >= 2) {
      out.push(257 - run, bytes[p]);
      p += run;
      continue;
    }
    let lit = 1;
    while (p + lit < bytes.length && lit < 128 && !(p + lit + 1 < bytes.length && bytes[p + lit] === bytes[p + lit + 1])) lit++;
    out.push(lit - 1, ...bytes.subarray(p, p + lit));
    p += lit;
  }
  if (out.length % 2) out.push(128); // a no-op pads the segment to even length
  return out;
}

/** The RLE frame of little-endian samples: one segment per byte plane, most significant first. */
function encode(bytes: Uint8Array, bytesPerSample: number): Uint8Array {
  const n = bytes.length / bytesPerSample;
  const planes = Array.from({ length: bytesPerSample }, (_, s) => Uint8Array.from({ length: n }, (_, p) => bytes[p * bytesPerSample + (bytesPerSample - 1 - s)]));
  return frame(planes.map(packBits));
}

describe('decodeRle (PS3.5 Annex G)', () => {
  const cases: [string, number[][], number, number, number[]][] = [
    ['a literal run', [[3, 1, 2, 3, 4]], 4, 1, [1, 2, 3, 4]],
    ['a replicate run (−3: 4 times)', [[0xfd, 9]], 4, 1, [9, 9, 9, 9]],
    ['−128 is a no-op', [[0x80, 1, 7, 8, 0x80]], 2, 1, [7, 8]],
    ['runs cross rows (one segment per plane, not per row)', [[0xfb, 5]], 6, 1, [5, 5, 5, 5, 5, 5]],
    ['16-bit: segment 1 is the high byte, segment 2 the low byte', [[1, 0x12, 0xff], [1, 0x34, 0x00]], 2, 2, [0x34, 0x12, 0x00, 0xff]],
    ['32-bit: four segments, most significant first', [[0, 0x01, 0x80], [0, 0x02, 0x80], [0, 0x03, 0x80], [0, 0x04, 0x80]], 1, 4, [0x04, 0x03, 0x02, 0x01]],
    ['one byte decoded past Rows × Columns (padding some writers add) is dropped', [[0xfd, 6]], 3, 1, [6, 6, 6]],
    ['a zero byte padding a complete segment to even length', [[0xfe, 6, 0]], 3, 1, [6, 6, 6]],
  ];
  for (const [name, segments, pixels, bytes, want] of cases) {
    test(name, () => assert.deepEqual(Array.from(decodeRle(frame(segments), pixels, bytes, 'f')), want));
  }

  test('round trip of random 16-bit samples through a PackBits encoder, runs and literals mixed', () => {
    let s = 7;
    const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const samples = Int16Array.from({ length: 40 * 32 }, (_, p) => (p % 97 < 40 ? -1000 : Math.round(rand() * 3000 - 1000)));
    const bytes = new Uint8Array(samples.buffer);
    assert.deepEqual(decodeRle(encode(bytes, 2), samples.length, 2, 'f'), bytes);
  });

  const invalid: [string, Uint8Array, number, number, RegExp][] = [
    ['a frame shorter than its header', new Uint8Array(10), 4, 1, /^f: an RLE frame of 10 bytes has no complete 64-byte header$/],
    ['one segment for 16-bit samples', frame([[0xfd, 1]]), 4, 2, /^f: the RLE frame has 1 segments; 2 expected/],
    ['a segment decoding to too few bytes', frame([[1, 1, 2]]), 4, 1, /^f: RLE segment 1 decodes to 2 bytes, 4 \(Rows × Columns\) needed$/],
    ['a literal run past the segment end', frame([[5, 1, 2]]), 4, 1, /^f: RLE segment 1: a literal run of 6 bytes at byte 0 runs past the segment's end$/],
    ['a replicate run with no byte', frame([[0xfd]]), 4, 1, /^f: RLE segment 1: a replicate run at byte 0 has no byte to repeat$/],
    ['a segment decoding to more than Rows × Columns + 1 bytes (the image is larger)', frame([[0xfd, 6, 0xfd, 7]]), 4, 1, /^f: RLE segment 1 decodes to 8 bytes, 4 \(Rows × Columns\) needed$/],
    [
      'an offset past the end of the frame',
      (() => {
        const f = frame([[0xfd, 1], [0xfd, 2]]);
        new DataView(f.buffer).setUint32(8, 1000, true);
        return f;
      })(),
      4,
      2,
      /^f: RLE segment 2 has offset 1000, outside the frame's 68 bytes/,
    ],
    [
      'an offset inside the header',
      (() => {
        const f = frame([[0xfd, 1]]);
        new DataView(f.buffer).setUint32(4, 12, true);
        return f;
      })(),
      4,
      1,
      /^f: RLE segment 1 has offset 12/,
    ],
  ];
  for (const [name, f, pixels, bytes, pattern] of invalid) {
    test(`refused: ${name}`, () => assert.throws(() => decodeRle(f, pixels, bytes, 'f'), (e: unknown) => e instanceof InvalidImageError && pattern.test(e.message)));
  }

  test('a declared segment count of 2^32 − 1 allocates nothing before failing', () => {
    const f = frame([[0xfd, 1]]);
    new DataView(f.buffer).setUint32(0, 0xffffffff, true);
    assert.throws(() => decodeRle(f, 4, 1, 'f'), /4294967295 segments/);
  });
});
