/**
 * Seeded mutations of NIfTI, NRRD and gzip bytes: bit flips, byte overwrites with interesting values, typed
 * overwrites of header fields (0, −1, extremes, NaN, ±Inf, 1e30…), swaps of header fields, truncation, extension,
 * NRRD header line edits, and corruption of the gzip wrapper (flags, CRC, ISIZE, deflate data, members). Every
 * mutant carries the list of operations that made it (`ops`), printed with any finding.
 */
import { gzipSync } from 'fflate';
import { NIFTI1_NUMERIC } from './corpus.ts';
import type { Rng } from './rng.ts';

export interface Mutant {
  bytes: Uint8Array;
  ops: string[];
}

const U8 = [0, 0xff, 0x7f, 0x80, 1, 0xfe];
const I16 = [0, -1, 1, 2, 3, 4, 7, 8, 255, 0x7fff, -0x8000, 1024];
const I32 = [0, -1, 1, 0x7fffffff, -0x80000000, 348, 540, 65536];
const F = [NaN, Infinity, -Infinity, 1e30, -1e30, -1, 0, -0, 1e-30, 1e-45, 3.4e38, 1, 0.5, 2 ** 31];
const I64 = [0n, -1n, 1n, 2n ** 53n + 1n, 2n ** 62n, -(2n ** 63n), 2n ** 31n, 32768n];

// ---------- generic byte operations

/** Applies one generic byte operation; `hot` is the prefix (the header) most operations aim at. */
export function byteOp(b: Uint8Array, rng: Rng, hot: number): Mutant {
  const len = b.length;
  const at = () => (rng.chance(0.7) && hot > 0 ? rng.int(0, Math.min(hot, len) - 1) : rng.int(0, Math.max(0, len - 1)));
  const op = rng.int(0, 5);
  if (len === 0) return { bytes: new Uint8Array(rng.int(1, 64)), ops: ['extend empty with zeros'] };
  if (op === 0) {
    const out = b.slice();
    const n = rng.int(1, 8);
    const where: number[] = [];
    for (let k = 0; k < n; k++) {
      const p = at();
      out[p] ^= 1 << rng.int(0, 7);
      where.push(p);
    }
    return { bytes: out, ops: [`flip bits at ${where.join(',')}`] };
  }
  if (op === 1) {
    const out = b.slice();
    const p = at();
    const v = rng.pick(U8);
    out[p] = v;
    return { bytes: out, ops: [`byte ${p} = 0x${v.toString(16)}`] };
  }
  if (op === 2) {
    const cut = rng.pick([0, rng.int(0, Math.min(hot, len)), rng.int(0, len - 1), len - 1, Math.max(0, len - rng.int(1, 16))]);
    return { bytes: b.slice(0, cut), ops: [`truncate to ${cut} of ${len}`] };
  }
  if (op === 3) {
    const n = rng.pick([1, 2, 7, 512, 4096, 70_000]);
    const fill = rng.pick(['zeros', '0xff', 'random'] as const);
    const out = new Uint8Array(len + n);
    out.set(b);
    for (let p = len; p < out.length; p++) out[p] = fill === 'zeros' ? 0 : fill === '0xff' ? 0xff : rng.int(0, 255);
    return { bytes: out, ops: [`extend by ${n} ${fill} bytes`] };
  }
  if (op === 4) {
    const p = at();
    const n = Math.min(rng.pick([1, 4, 16, 100]), len - p);
    const out = new Uint8Array(len - n);
    out.set(b.subarray(0, p));
    out.set(b.subarray(p + n), p);
    return { bytes: out, ops: [`delete ${n} bytes at ${p}`] };
  }
  const p = at();
  const n = rng.pick([1, 4, 16, 348]);
  const chunk = b.subarray(rng.int(0, len - 1)).subarray(0, n);
  const out = new Uint8Array(len + chunk.length);
  out.set(b.subarray(0, p));
  out.set(chunk, p);
  out.set(b.subarray(p), p + chunk.length);
  return { bytes: out, ops: [`insert ${chunk.length} copied bytes at ${p}`] };
}

// ---------- NIfTI

interface Field {
  offset: number;
  size: number;
  count: number;
  kind: 'int' | 'float';
}

const NIFTI1_FLOATS = new Set([56, 76, 108, 112, 116, 124, 128, 132, 136, 256, 268, 280]);
const NIFTI1_FIELDS: Field[] = [
  ...NIFTI1_NUMERIC.map(([offset, size, count]): Field => ({ offset, size, count, kind: NIFTI1_FLOATS.has(offset) ? 'float' : 'int' })),
  { offset: 122, size: 1, count: 1, kind: 'int' }, // slice_code
  { offset: 123, size: 1, count: 1, kind: 'int' }, // xyzt_units
];
/** Offsets of the fields readers act on (dims, datatype, bitpix, pixdim, vox_offset, scaling, qform/sform, affine), both versions. */
const HOT = new Set([40, 70, 72, 76, 108, 112, 116, 123, 252, 254, 256, 268, 280, 12, 14, 16, 104, 168, 176, 344, 348, 352, 400, 500]);

/** NIfTI-2: [offset, bytes, elements, kind]. */
const NIFTI2_FIELDS: Field[] = (
  [
    [0, 4, 1, 'int'], [12, 2, 1, 'int'], [14, 2, 1, 'int'], [16, 8, 8, 'int'], [80, 8, 3, 'float'], [104, 8, 8, 'float'],
    [168, 8, 1, 'int'], [176, 8, 1, 'float'], [184, 8, 1, 'float'], [192, 8, 2, 'float'], [224, 8, 2, 'int'],
    [344, 4, 1, 'int'], [348, 4, 1, 'int'], [352, 8, 6, 'float'], [400, 8, 12, 'float'], [496, 4, 1, 'int'],
    [500, 4, 1, 'int'], [504, 4, 1, 'int'],
  ] as const
).map(([offset, size, count, kind]) => ({ offset, size, count, kind }));

function niftiLayout(b: Uint8Array): { fields: Field[]; little: boolean; header: number } {
  if (b.length < 4) return { fields: NIFTI1_FIELDS, little: true, header: 348 };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = v.getInt32(0, true);
  const be = v.getInt32(0, false);
  const little = le === 348 || le === 540 || !(be === 348 || be === 540);
  const size = little ? le : be;
  return size === 540 ? { fields: NIFTI2_FIELDS, little, header: 540 } : { fields: NIFTI1_FIELDS, little, header: 348 };
}

function writeValue(v: DataView, f: Field, at: number, little: boolean, rng: Rng): string {
  if (f.kind === 'float') {
    const x = rng.pick(F);
    if (f.size === 4) v.setFloat32(at, x, little);
    else v.setFloat64(at, x, little);
    return String(x);
  }
  if (f.size === 1) {
    const x = rng.pick(U8);
    v.setUint8(at, x);
    return String(x);
  }
  if (f.size === 2) {
    const x = rng.pick(I16);
    v.setInt16(at, x, little);
    return String(x);
  }
  if (f.size === 4) {
    const x = rng.pick(I32);
    v.setInt32(at, x, little);
    return String(x);
  }
  const x = rng.pick(I64);
  v.setBigInt64(at, x, little);
  return String(x);
}

/** One NIfTI-aware operation: a typed field overwrite, a swap of two fields of one size, or a generic byte op. */
export function niftiOp(b: Uint8Array, rng: Rng): Mutant {
  const { fields, little, header } = niftiLayout(b);
  const op = rng.int(0, 9);
  if (op < 5 && b.length >= header) {
    const out = b.slice();
    const v = new DataView(out.buffer);
    // dims, datatype, pixdim, vox_offset, scl and the affine fields are where readers go wrong: favour them
    const hot = fields.filter((x) => HOT.has(x.offset));
    const f = rng.chance(0.6) ? rng.pick(hot) : rng.pick(fields);
    const e = rng.int(0, f.count - 1);
    const value = writeValue(v, f, f.offset + e * f.size, little, rng);
    return { bytes: out, ops: [`header field @${f.offset}[${e}] (${f.kind}${f.size * 8}) = ${value}`] };
  }
  if (op < 7 && b.length >= header) {
    const out = b.slice();
    const size = rng.pick([2, 4, 8].filter((s) => fields.some((f) => f.size === s)));
    const slots = fields.filter((f) => f.size === size).flatMap((f) => Array.from({ length: f.count }, (_, e) => f.offset + e * size));
    const a = rng.pick(slots);
    const c = rng.pick(slots);
    const tmp = out.slice(a, a + size);
    out.copyWithin(a, c, c + size);
    out.set(tmp, c);
    return { bytes: out, ops: [`swap header fields @${a} and @${c} (${size} bytes)`] };
  }
  return byteOp(b, rng, header + 4);
}

// ---------- gzip wrapper

/** Corrupts a gzip stream's wrapper or deflate data (the payload's own structure is left as it is). */
export function gzipOp(gz: Uint8Array, plain: Uint8Array, rng: Rng): Mutant {
  const op = rng.int(0, 8);
  const out = gz.slice();
  const n = gz.length;
  if (op === 0) {
    const p = rng.int(0, 9);
    const v = rng.pick(U8);
    out[p] = v;
    return { bytes: out, ops: [`gzip header byte ${p} = 0x${v.toString(16)}`] };
  }
  if (op === 1) {
    const bit = rng.pick([1, 2, 4, 8, 16, 32, 64, 128]);
    out[3] |= bit;
    return { bytes: out, ops: [`gzip FLG |= 0x${bit.toString(16)}`] };
  }
  if (op === 2) {
    const p = n - 8 + rng.int(0, 3);
    out[p] ^= 0xff;
    return { bytes: out, ops: [`gzip CRC32 byte ${p} inverted`] };
  }
  if (op === 3) {
    const v = new DataView(out.buffer);
    const x = rng.pick([0, 1, 0xffffffff, plain.length + 1, plain.length - 1]);
    v.setUint32(n - 4, x >>> 0, true);
    return { bytes: out, ops: [`gzip ISIZE = ${x >>> 0}`] };
  }
  if (op === 4) {
    const k = rng.int(1, 8);
    const where: number[] = [];
    for (let j = 0; j < k; j++) {
      const p = rng.int(10, Math.max(10, n - 9));
      out[p] ^= 1 << rng.int(0, 7);
      where.push(p);
    }
    return { bytes: out, ops: [`deflate data bit flips at ${where.join(',')}`] };
  }
  if (op === 5) {
    const cut = rng.pick([2, 10, rng.int(10, n - 1), n - 4, n - 1]);
    return { bytes: gz.slice(0, cut), ops: [`gzip truncated to ${cut} of ${n}`] };
  }
  if (op === 6) {
    const second = rng.chance(0.5) ? gz : gzipSync(plain.subarray(0, rng.int(0, plain.length)));
    const both = new Uint8Array(n + second.length);
    both.set(gz);
    both.set(second, n);
    return { bytes: both, ops: [`gzip second member of ${second.length} bytes appended`] };
  }
  if (op === 7) {
    const tail = rng.pick([new Uint8Array([0]), new Uint8Array([0x1f, 0x8b]), new Uint8Array(64).fill(0xaa)]);
    const both = new Uint8Array(n + tail.length);
    both.set(gz);
    both.set(tail, n);
    return { bytes: both, ops: [`${tail.length} garbage bytes after the gzip member`] };
  }
  const level = rng.pick([0, 1, 9] as const);
  return { bytes: gzipSync(plain, { level }), ops: [`re-gzipped at level ${level}`] };
}

/** A mutant of an uncompressed NIfTI base: 1–3 operations, gzipped afterwards (and maybe its wrapper corrupted) when `gz`. */
export function mutateNifti(base: Uint8Array, rng: Rng, gz: boolean): Mutant {
  let bytes = base;
  const ops: string[] = [];
  const count = rng.int(1, 3);
  for (let k = 0; k < count; k++) {
    const m = niftiOp(bytes, rng);
    bytes = m.bytes;
    ops.push(...m.ops);
  }
  if (!gz) return { bytes, ops };
  const wrapped = gzipSync(bytes, { level: 1 });
  if (rng.chance(0.6)) return { bytes: wrapped, ops: [...ops, 'gzip'] };
  const m = gzipOp(wrapped, bytes, rng);
  return { bytes: m.bytes, ops: [...ops, 'gzip', ...m.ops] };
}

// ---------- NRRD

const NRRD_VALUES = [
  '', '-1', '0', '1', 'nan', 'inf', '-inf', '1e30', '1e400', '99999999999', '4294967297', '2.5', 'abc', '(1,2,3)',
  '(nan,nan,nan)', '(0,0,0) (0,0,0) (0,0,0)', '(1,0,0) (1,0,0) (1,0,0)', 'none none none', '1 2', '1 2 3 4', 'little',
  'big', 'gzip', 'raw', 'bzip2', 'hex', 'ascii', 'double', 'uint64', 'block', 'LIST', '%d', '../../etc/passwd',
  'x'.repeat(70_000), '\u00e9\u00ff', '24 24 16', '2048 2048 2048', '1 1 1', '0 24 16', '-24 24 16', '24.5 24 16',
];
const FIELD_VALUES: Record<string, string[]> = {
  type: ['short', 'ushort', 'float', 'double', 'int', 'uchar', 'signed char', 'uint64', 'block', 'int64', 'Float', ''],
  dimension: ['0', '1', '2', '4', '5', '16', '-3', '3.5', 'three'],
  sizes: ['24 24 16 1', '1 24 24 16', '16384 16384 16384', '0 0 0', '24 24', '24 24 17', '24 24 15', '2147483648 1 1'],
  endian: ['big', 'little', 'middle', ''],
  encoding: ['raw', 'gzip', 'gz', 'bzip2', 'hex', 'txt', 'ascii'],
  space: ['RAS', 'LPS', 'right-anterior-superior', '3D-left-handed', 'scanner-xyz-time', 'nonsense'],
  'space directions': ['(0,0,0) (0,6,0) (0,0,6)', '(1e30,0,0) (0,1e30,0) (0,0,1e30)', '(1e-30,0,0) (0,1e-30,0) (0,0,1e-30)', '(6,0,0) (6,0,0) (0,0,6)', 'none (6,0,0) (0,6,0) (0,0,6)', '(nan,0,0) (0,6,0) (0,0,6)', '(6,0) (0,6) (0,0)', '(-6,0,0) (0,-6,0) (0,0,-6)'],
  'space origin': ['(nan,0,0)', '(1e308,1e308,1e308)', '(inf,0,0)', '(0,0)', 'none', '0 0 0'],
  'byte skip': ['-1', '1', '1000000000', '-2', '0.5'],
  kinds: ['domain domain domain', 'list domain domain', 'RGB-color domain domain', ''],
};
const ADDED_LINES = [
  'byte skip: -1', 'byte skip: 4096', 'line skip: 2', 'data file: LIST', 'data file: x.raw', 'datafile: %03d.raw 1 3 1',
  'spacings: 0 0 0', 'spacings: nan 1 1', 'space dimension: 2', 'space units: "cm" "cm" "cm"', 'key:=value', '# comment',
  'garbage without colon', 'measurement frame: (1,0,0) (0,1,0) (0,0,1)', 'content: \u0000\u0001', 'dimension: 4',
];

function splitNrrd(b: Uint8Array): { lines: string[]; body: Uint8Array; blank: boolean } {
  const limit = Math.min(b.length, 1 << 16);
  let end = -1;
  for (let p = 0; p < limit - 1 && end < 0; p++) if (b[p] === 10 && b[p + 1] === 10) end = p;
  const text = new TextDecoder('latin1').decode(b.subarray(0, end < 0 ? limit : end));
  return { lines: text.split('\n'), body: end < 0 ? new Uint8Array(0) : b.subarray(end + 2), blank: end >= 0 };
}

function joinNrrd(lines: string[], body: Uint8Array, sep = '\n\n', eol = '\n'): Uint8Array {
  const head = Uint8Array.from(`${lines.join(eol)}${sep}`, (c) => c.charCodeAt(0) & 0xff);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** One NRRD-aware operation on the header lines, the gzip payload, or the bytes. */
export function nrrdOp(b: Uint8Array, rng: Rng): Mutant {
  const { lines, body, blank } = splitNrrd(b);
  const fieldIdx = lines.map((l, i) => (i > 0 && /^[^#][^:]*: /.test(l) ? i : -1)).filter((i) => i >= 0);
  const op = rng.int(0, 11);
  const name = (i: number) => lines[i].slice(0, lines[i].indexOf(': '));
  if (op <= 2 && fieldIdx.length) {
    const i = rng.pick(fieldIdx);
    const key = name(i).toLowerCase();
    const value = rng.chance(0.6) && FIELD_VALUES[key] ? rng.pick(FIELD_VALUES[key]) : rng.pick(NRRD_VALUES);
    const out = [...lines];
    out[i] = `${name(i)}: ${value}`;
    return { bytes: joinNrrd(out, body), ops: [`field "${key}" = ${JSON.stringify(value.length > 40 ? `${value.slice(0, 20)}…(${value.length})` : value)}`] };
  }
  if (op === 3 && fieldIdx.length) {
    const i = rng.pick(fieldIdx);
    return { bytes: joinNrrd(lines.filter((_, k) => k !== i), body), ops: [`drop field "${name(i)}"`] };
  }
  if (op === 4) {
    const line = rng.pick(ADDED_LINES);
    const out = [...lines];
    out.splice(rng.int(1, out.length), 0, line);
    return { bytes: joinNrrd(out, body), ops: [`add line ${JSON.stringify(line)}`] };
  }
  if (op === 5 && fieldIdx.length >= 2) {
    const i = rng.pick(fieldIdx);
    const j = rng.pick(fieldIdx);
    const out = [...lines];
    out[i] = `${name(i)}: ${lines[j].slice(lines[j].indexOf(': ') + 2)}`;
    out[j] = `${name(j)}: ${lines[i].slice(lines[i].indexOf(': ') + 2)}`;
    return { bytes: joinNrrd(out, body), ops: [`swap values of "${name(i)}" and "${name(j)}"`] };
  }
  if (op === 6) {
    const i = rng.int(0, lines.length - 1);
    const j = rng.int(0, lines.length - 1);
    const out = [...lines];
    [out[i], out[j]] = [out[j], out[i]];
    return { bytes: joinNrrd(out, body), ops: [`swap header lines ${i} and ${j}`] };
  }
  if (op === 7) {
    const v = rng.pick(['CRLF line ends', 'no blank line', 'blank line with CR', 'magic'] as const);
    if (v === 'CRLF line ends') return { bytes: joinNrrd(lines, body, '\r\n\r\n', '\r\n'), ops: [v] };
    if (v === 'no blank line') return { bytes: joinNrrd(lines, body, '\n'), ops: [v] };
    if (v === 'blank line with CR') return { bytes: joinNrrd(lines, body, '\n\r\n'), ops: [v] };
    const magic = rng.pick(['NRRD0001', 'NRRD0005', 'NRRD0009', 'NRRD', 'nrrd0004', 'NRRD000x', 'NRRD00041']);
    return { bytes: joinNrrd([magic, ...lines.slice(1)], body), ops: [`magic ${magic}`] };
  }
  if (op === 8 && blank && body.length > 2 && body[0] === 0x1f && body[1] === 0x8b) {
    // the attached gzip payload: corrupt its wrapper (plain payload unknown here: re-gzip a slice of it)
    const m = gzipOp(body, body.subarray(0, 64), rng);
    return { bytes: joinNrrd(lines, m.bytes), ops: [`payload: ${m.ops[0]}`] };
  }
  return byteOp(b, rng, blank ? b.length - body.length : 256);
}

export function mutateNrrd(base: Uint8Array, rng: Rng): Mutant {
  let bytes = base;
  const ops: string[] = [];
  const count = rng.int(1, 3);
  for (let k = 0; k < count; k++) {
    const m = nrrdOp(bytes, rng);
    bytes = m.bytes;
    ops.push(...m.ops);
  }
  return { bytes, ops };
}
