/**
 * Seeded mutations of a DICOM series (Part 10 files, explicit VR little endian as writeDicomSeries writes them):
 * element values set to hostile ones (Rows 0, BitsAllocated 12, NaN/Inf/1e30 positions, spacings and rescale,
 * degenerate orientations, other transfer syntaxes and series UIDs), corrupted element lengths and VRs, dropped
 * elements, byte-level damage to one file, and series-level changes (slices dropped, duplicated, all alike, a
 * file that is not DICOM, none at all).
 */
import type { NamedBytes } from './corpus.ts';
import { byteOp } from './mutate.ts';
import type { Rng } from './rng.ts';

interface Element {
  tag: number;
  vr: string;
  value: Uint8Array;
}

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'SQ', 'UT', 'UN', 'UC', 'UR', 'SV', 'UV']);

/** The elements of an explicit-VR-LE Part 10 file (preamble and DICM skipped); null if it is not one we can walk. */
function parseElements(b: Uint8Array): Element[] | null {
  if (b.length < 132 || String.fromCharCode(...b.subarray(128, 132)) !== 'DICM') return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Element[] = [];
  let p = 132;
  while (p + 8 <= b.length) {
    const tag = ((v.getUint16(p, true) << 16) | v.getUint16(p + 2, true)) >>> 0;
    const vr = String.fromCharCode(b[p + 4], b[p + 5]);
    let len: number;
    let head: number;
    if (LONG_VRS.has(vr)) {
      if (p + 12 > b.length) return null;
      len = v.getUint32(p + 8, true);
      head = 12;
    } else {
      len = v.getUint16(p + 6, true);
      head = 8;
    }
    if (len === 0xffffffff || p + head + len > b.length) return null;
    out.push({ tag, vr, value: b.subarray(p + head, p + head + len) });
    p += head + len;
  }
  return out;
}

function serialize(elements: Element[]): Uint8Array {
  // the meta group's length follows its elements
  const metaLen = elements.filter((e) => e.tag >>> 16 === 2 && e.tag !== 0x00020000).reduce((n, e) => n + (LONG_VRS.has(e.vr) ? 12 : 8) + e.value.length, 0);
  const size = 132 + elements.reduce((n, e) => n + (LONG_VRS.has(e.vr) ? 12 : 8) + e.value.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set([0x44, 0x49, 0x43, 0x4d], 128);
  let p = 132;
  for (const e of elements) {
    const value = e.tag === 0x00020000 && e.value.length === 4 ? new Uint8Array(new Uint32Array([metaLen]).buffer) : e.value;
    v.setUint16(p, e.tag >>> 16, true);
    v.setUint16(p + 2, e.tag & 0xffff, true);
    out[p + 4] = e.vr.charCodeAt(0) & 0xff;
    out[p + 5] = e.vr.charCodeAt(1) & 0xff;
    if (LONG_VRS.has(e.vr)) {
      v.setUint32(p + 8, value.length, true);
      p += 12;
    } else {
      v.setUint16(p + 6, Math.min(value.length, 0xffff), true);
      p += 8;
    }
    out.set(value, p);
    p += value.length;
  }
  return out;
}

const ascii = (s: string) => {
  const t = s.length % 2 ? `${s} ` : s;
  return Uint8Array.from(t, (c) => c.charCodeAt(0) & 0xff);
};
const us = (x: number) => new Uint8Array(new Uint16Array([x]).buffer);

/** Tag → hostile values (DS/IS/UI as text, US as numbers). */
const VALUES: Record<number, { name: string; values: (string | number)[] }> = {
  0x00280010: { name: 'Rows', values: [0, 1, 0xffff, 0x7fff, 0x8000, 23, 25] },
  0x00280011: { name: 'Columns', values: [0, 1, 0xffff, 0x7fff, 0x8000, 23, 25] },
  0x00280100: { name: 'BitsAllocated', values: [0, 1, 8, 12, 32, 64, 0xffff] },
  0x00280101: { name: 'BitsStored', values: [0, 1, 12, 17, 0xffff] },
  0x00280102: { name: 'HighBit', values: [0, 16, 0xffff] },
  0x00280103: { name: 'PixelRepresentation', values: [0, 1, 2, 0xffff] },
  0x00280002: { name: 'SamplesPerPixel', values: [0, 3, 0xffff] },
  0x00200032: { name: 'ImagePositionPatient', values: ['NaN\\0\\0', '1e30\\1e30\\1e30', '-1\\-1\\-1', '0\\0\\0', 'Inf\\0\\0', '', '1\\2', 'a\\b\\c', '1e308\\-1e308\\1e308', '0\\0\\1e-30'] },
  0x00200037: { name: 'ImageOrientationPatient', values: ['0\\0\\0\\0\\0\\0', '1\\0\\0\\1\\0\\0', '1e30\\0\\0\\0\\1\\0', 'NaN\\0\\0\\0\\1\\0', '1\\0\\0\\0\\1', '0\\1\\0\\1\\0\\0', '0.7\\0.7\\0\\0\\1\\0', '-1\\0\\0\\0\\-1\\0', ''] },
  0x00280030: { name: 'PixelSpacing', values: ['0\\0', '-1\\-1', '1e-30\\1e-30', '1e30\\1e30', 'NaN\\1', '6', '', 'Inf\\Inf'] },
  0x00180050: { name: 'SliceThickness', values: ['0', '-1', 'NaN', '1e30', ''] },
  0x00281053: { name: 'RescaleSlope', values: ['0', 'NaN', '1e30', '-1', '1e-30', 'Inf', '0.5', ''] },
  0x00281052: { name: 'RescaleIntercept', values: ['1e30', '-1e30', 'NaN', '0.5', '-Inf', '', '3e38'] },
  0x00020010: { name: 'TransferSyntaxUID', values: ['1.2.840.10008.1.2.2', '1.2.840.10008.1.2', '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.5', '', '1.2.3'] },
  0x0020000e: { name: 'SeriesInstanceUID', values: ['1.2.3.4', '', '1.2.840.999999999999999999999999999999999999999999999999999999999'] },
  0x00200013: { name: 'InstanceNumber', values: ['-1', '99999999999', '', 'x'] },
  0x00280008: { name: 'NumberOfFrames', values: ['2', '0', '-1', '1e9'] },
};
const NUMBER_OF_FRAMES = 0x00280008;
const PIXEL_DATA = 0x7fe00010;

function setValue(elements: Element[], tag: number, value: string | number): Element[] {
  const bytes = typeof value === 'number' ? us(value) : ascii(value);
  const vr = typeof value === 'number' ? 'US' : tag === 0x00200013 || tag === NUMBER_OF_FRAMES ? 'IS' : tag >>> 16 === 2 || tag === 0x0020000e ? 'UI' : 'DS';
  const i = elements.findIndex((e) => e.tag === tag);
  if (i >= 0) return elements.map((e, k) => (k === i ? { ...e, value: bytes } : e));
  // absent (NumberOfFrames): insert in tag order
  const at = elements.findIndex((e) => e.tag > tag);
  const copy = [...elements];
  copy.splice(at < 0 ? copy.length : at, 0, { tag, vr, value: bytes });
  return copy;
}

/** One element-level operation on a file's elements. */
function elementOp(elements: Element[], rng: Rng): { elements: Element[]; op: string } {
  const op = rng.int(0, 9);
  const tags = Object.keys(VALUES).map(Number);
  if (op <= 5) {
    const tag = rng.pick(tags);
    const value = rng.pick(VALUES[tag].values);
    return { elements: setValue(elements, tag, value), op: `${VALUES[tag].name} = ${JSON.stringify(value)}` };
  }
  if (op === 6) {
    const tag = rng.pick([...tags, PIXEL_DATA]);
    return { elements: elements.filter((e) => e.tag !== tag), op: `drop ${VALUES[tag]?.name ?? 'PixelData'}` };
  }
  if (op === 7) {
    const i = rng.int(0, elements.length - 1);
    const vr = rng.pick(['US', 'DS', 'OB', 'SQ', 'UN', 'XX', 'UT']);
    return { elements: elements.map((e, k) => (k === i ? { ...e, vr } : e)), op: `VR of (${hexTag(elements[i].tag)}) = ${vr}` };
  }
  if (op === 8) {
    const px = elements.findIndex((e) => e.tag === PIXEL_DATA);
    if (px >= 0) {
      const n = rng.pick([0, 1, elements[px].value.length - 1, elements[px].value.length / 2]);
      return { elements: elements.map((e, k) => (k === px ? { ...e, value: e.value.subarray(0, n) } : e)), op: `PixelData cut to ${n} bytes` };
    }
  }
  const px = elements.findIndex((e) => e.tag === PIXEL_DATA);
  if (px >= 0) {
    const doubled = new Uint8Array(elements[px].value.length * 2);
    doubled.set(elements[px].value);
    return { elements: elements.map((e, k) => (k === px ? { ...e, value: doubled } : e)), op: 'PixelData doubled in length' };
  }
  return { elements, op: 'no-op' };
}

const hexTag = (t: number) => `${(t >>> 16).toString(16).padStart(4, '0')},${(t & 0xffff).toString(16).padStart(4, '0')}`;

/** The byte offset of an element's length field in a file, for raw length corruption. */
function lengthOffsets(b: Uint8Array): { offset: number; long: boolean; tag: number }[] {
  const out: { offset: number; long: boolean; tag: number }[] = [];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 132;
  while (p + 8 <= b.length) {
    const tag = ((v.getUint16(p, true) << 16) | v.getUint16(p + 2, true)) >>> 0;
    const vr = String.fromCharCode(b[p + 4], b[p + 5]);
    const long = LONG_VRS.has(vr);
    if (long && p + 12 > b.length) break;
    const len = long ? v.getUint32(p + 8, true) : v.getUint16(p + 6, true);
    out.push({ offset: long ? p + 8 : p + 6, long, tag });
    p += (long ? 12 : 8) + len;
  }
  return out;
}

/** A mutant of a series: 1–3 operations on one file, on every file, or on the list of files. */
export function mutateDicomSeries(files: readonly NamedBytes[], rng: Rng): { files: NamedBytes[]; ops: string[] } {
  let out = files.map((f) => ({ name: f.name, bytes: f.bytes }));
  const ops: string[] = [];
  const count = rng.int(1, 3);
  for (let k = 0; k < count && out.length; k++) {
    const scope = rng.int(0, 9);
    if (scope <= 3) {
      // one file, element level (a single odd slice)
      const i = rng.int(0, out.length - 1);
      const el = parseElements(out[i].bytes);
      if (!el) continue;
      const m = elementOp(el, rng);
      out[i] = { name: out[i].name, bytes: serialize(m.elements) };
      ops.push(`${out[i].name}: ${m.op}`);
    } else if (scope <= 5) {
      // every file alike (a consistent but hostile series): the same stream, so the same operation, per file
      let desc = '';
      out = out.map((f) => {
        const el = parseElements(f.bytes);
        if (!el) return f;
        const m = elementOp(el, rng.fork('all', k));
        desc ||= m.op;
        return { name: f.name, bytes: serialize(m.elements) };
      });
      if (desc) ops.push(`all files: ${desc}`);
    } else if (scope === 6) {
      const i = rng.int(0, out.length - 1);
      const lens = lengthOffsets(out[i].bytes);
      if (!lens.length) continue;
      const l = rng.pick(lens);
      const bytes = out[i].bytes.slice();
      const v = new DataView(bytes.buffer);
      const x = rng.pick([0, 1, 3, 0xfffe, 0xffff, 0x7fffffff, 0xffffffff]);
      if (l.long) v.setUint32(l.offset, x >>> 0, true);
      else v.setUint16(l.offset, x & 0xffff, true);
      out[i] = { name: out[i].name, bytes };
      ops.push(`${out[i].name}: length of (${hexTag(l.tag)}) = ${l.long ? x >>> 0 : x & 0xffff}`);
    } else if (scope === 7) {
      const i = rng.int(0, out.length - 1);
      const m = byteOp(out[i].bytes, rng, 1024);
      out[i] = { name: out[i].name, bytes: m.bytes };
      ops.push(`${out[i].name}: ${m.ops[0]}`);
    } else {
      const s = rng.int(0, 5);
      if (s === 0) {
        const i = rng.int(1, Math.max(1, out.length - 2));
        out = out.filter((_, k2) => k2 !== i);
        ops.push(`drop slice ${i}`);
      } else if (s === 1) {
        const i = rng.int(0, out.length - 1);
        out = [...out, { name: `dup-${out[i].name}`, bytes: out[i].bytes }];
        ops.push(`duplicate slice ${i}`);
      } else if (s === 2) {
        out = out.slice(0, rng.pick([0, 1, 2]));
        ops.push(`keep ${out.length} slices`);
      } else if (s === 3) {
        out = [...out, { name: 'notes.dcm', bytes: Uint8Array.from('not a DICOM file\n', (c) => c.charCodeAt(0)) }];
        ops.push('add a non-DICOM file');
      } else if (s === 4) {
        out = out.map(() => out[0]).map((f, i2) => ({ name: `same-${i2}.dcm`, bytes: f.bytes }));
        ops.push('every slice the same file');
      } else {
        out = [...out].reverse();
        ops.push('files in reverse order');
      }
    }
  }
  return { files: out, ops: ops.length ? ops : ['unchanged'] };
}
