import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidImageError } from '../../errors.ts';
import { j2kCodestream, readJ2kHeader, readJpegHeader } from './headers.ts';

const be16 = (v: number) => [v >> 8, v & 0xff];
const be32 = (v: number) => [(v >>> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
/** A JPEG marker segment: marker, length (2 + body), body. */
const segment = (marker: number, body: number[]) => [...be16(marker), ...be16(body.length + 2), ...body];
const sof = (marker: number, precision: number, rows: number, columns: number, components = 1) => segment(marker, [precision, ...be16(rows), ...be16(columns), components, ...Array(3 * components).fill(1)]);
/** SOS with one component; for JPEG-LS the byte after the components is NEAR. */
const sos = (near: number) => segment(0xffda, [1, 1, 0, near, 0, 0]);

/** SOC, SIZ (one tile, `components` components), optionally COD with the given wavelet, a tile, EOC unless `cut`. */
function j2k(o: { width: number; height: number; precision: number; signed?: boolean; components?: number; x0?: number; transform?: number; cut?: boolean }): Uint8Array {
  const c = o.components ?? 1;
  const siz = [0, 0, ...be32(o.width + (o.x0 ?? 0)), ...be32(o.height), ...be32(o.x0 ?? 0), ...be32(0), ...be32(o.width), ...be32(o.height), ...be32(0), ...be32(0), ...be16(c)];
  for (let i = 0; i < c; i++) siz.push((o.precision - 1) | (o.signed ? 0x80 : 0), 1, 1);
  const cod = o.transform === undefined ? [] : segment(0xff52, [0, 0, 0, 1, 0, 5, 4, 4, 0, o.transform]);
  return Uint8Array.from([...be16(0xff4f), ...segment(0xff51, siz), ...cod, ...be16(0xff90), 0, 10, ...(o.cut ? [] : be16(0xffd9))]);
}

describe('readJpegHeader', () => {
  test('SOF3 (lossless): precision, rows, columns, components', () => {
    const h = readJpegHeader(Uint8Array.from([0xff, 0xd8, ...segment(0xffc4, [0, 1, 2]), ...sof(0xffc3, 16, 24, 40), ...sos(0), 0x12]), 'f');
    assert.deepEqual([h.marker, h.precision, h.height, h.width, h.components, h.near], [0xffc3, 16, 24, 40, 1, undefined]);
  });
  test('SOF55 (JPEG-LS): NEAR from the first scan; fill bytes before a marker are skipped', () => {
    const h = readJpegHeader(Uint8Array.from([0xff, 0xd8, 0xff, ...sof(0xfff7, 12, 512, 256), ...sos(3), 0]), 'f');
    assert.deepEqual([h.marker, h.precision, h.height, h.width, h.near], [0xfff7, 12, 512, 256, 3]);
  });
  const invalid: [string, number[], RegExp][] = [
    ['no SOI', [0xff, 0xc3, 0, 0], /^f does not start with a JPEG SOI marker$/],
    ['a scan before any frame header', [0xff, 0xd8, ...sos(0)], /^f: the JPEG stream has no frame header \(SOF\) before its first scan$/],
    ['a segment longer than the data', [0xff, 0xd8, 0xff, 0xc3, 0x40, 0], /^f: JPEG marker 0xffc3 at byte 2 runs past the end of the data$/],
    ['garbage where a marker should be', [0xff, 0xd8, 0x12, 0x34, 0, 0], /^f: no JPEG marker at byte 2$/],
    ['a frame header of 4 bytes', [0xff, 0xd8, ...segment(0xffc0, [8, 0])], /^f: JPEG frame header of 4 bytes$/],
  ];
  for (const [name, bytes, pattern] of invalid) {
    test(`refused: ${name}`, () => assert.throws(() => readJpegHeader(Uint8Array.from(bytes), 'f'), (e: unknown) => e instanceof InvalidImageError && pattern.test(e.message)));
  }
});

describe('readJ2kHeader / j2kCodestream', () => {
  test('SIZ: size less the image offset, precision and sign; COD: reversible 5/3 or irreversible 9/7', () => {
    assert.deepEqual(readJ2kHeader(j2k({ width: 40, height: 24, precision: 13, signed: true, x0: 3, transform: 1 }), 'f'), { width: 40, height: 24, components: 1, precision: 13, signed: true, ht: false, reversible: true, complete: true });
    assert.equal(readJ2kHeader(j2k({ width: 8, height: 8, precision: 16, transform: 0 }), 'f').reversible, false);
    assert.equal(readJ2kHeader(j2k({ width: 8, height: 8, precision: 16 }), 'f').reversible, undefined);
    assert.equal(readJ2kHeader(j2k({ width: 8, height: 8, precision: 8, components: 3 }), 'f').components, 3);
  });
  test('complete: EOC at the end (a zero byte of fragment padding after it allowed), not when cut short', () => {
    const full = j2k({ width: 8, height: 8, precision: 8 });
    assert.equal(readJ2kHeader(Uint8Array.from([...full, 0]), 'f').complete, true);
    assert.equal(readJ2kHeader(j2k({ width: 8, height: 8, precision: 8, cut: true }), 'f').complete, false);
  });
  test('a JP2 file: the contents of its jp2c box', () => {
    const cs = j2k({ width: 4, height: 4, precision: 8 });
    const box = (type: string, body: ArrayLike<number>) => [...be32(8 + body.length), ...Array.from(type, (ch) => ch.charCodeAt(0)), ...Array.from(body)];
    const jp2 = Uint8Array.from([...box('jP  ', [0x0d, 0x0a, 0x87, 0x0a]), ...box('ftyp', [0x6a, 0x70, 0x32, 0x20, 0, 0, 0, 0]), ...box('jp2c', cs)]);
    assert.deepEqual(j2kCodestream(jp2, 'f'), cs);
    assert.equal(j2kCodestream(cs, 'f'), cs);
    assert.throws(() => j2kCodestream(jp2.subarray(0, 30), 'f'), /^InvalidImageError: f: a JP2 file without a complete codestream box \(jp2c\)$/);
  });
  const invalid: [string, Uint8Array, RegExp][] = [
    ['not SOC + SIZ', Uint8Array.from([0xff, 0xd8, 0xff, 0xc0]), /^f is not a JPEG 2000 codestream \(no SOC \+ SIZ markers\)$/],
    ['a SIZ cut short', j2k({ width: 4, height: 4, precision: 8 }).subarray(0, 30), /^f: JPEG 2000 SIZ marker of 41 bytes runs past the end of the data$/],
    [
      'a SIZ too short for its components',
      (() => {
        const b = j2k({ width: 4, height: 4, precision: 8 });
        b[40] = 0;
        b[41] = 200;
        return b;
      })(),
      /^f: JPEG 2000 SIZ marker too short for 200 components$/,
    ],
  ];
  for (const [name, bytes, pattern] of invalid) {
    test(`refused: ${name}`, () => assert.throws(() => readJ2kHeader(bytes, 'f'), (e: unknown) => e instanceof InvalidImageError && pattern.test(e.message)));
  }
});
