/**
 * The DICOM JSON model (PS3.18 §F.2) from Part 10 files, and QIDO-RS attribute matching (PS3.18 §8.3.4,
 * PS3.4 C.2.2.2). dcmjs' `DicomMessage.readFile(...).dict` is already keyed by tag with `{vr, Value}`; this
 * module turns binary values into `BulkDataURI` (PixelData) or `InlineBinary` and drops dcmjs' extras.
 */
import { data } from 'dcmjs';

export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
}
export type DicomJson = Record<string, DicomJsonElement>;

export const TAG = {
  SpecificCharacterSet: '00080005',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  SeriesDate: '00080021',
  StudyTime: '00080030',
  SeriesTime: '00080031',
  AccessionNumber: '00080050',
  InstanceAvailability: '00080056',
  Modality: '00080060',
  ModalitiesInStudy: '00080061',
  ReferringPhysicianName: '00080090',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  FailureReason: '00081197',
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPClassUID: '00081150',
  ReferencedSOPInstanceUID: '00081155',
  RetrieveURL: '00081190',
  PatientName: '00100010',
  PatientID: '00100020',
  PatientBirthDate: '00100030',
  PatientSex: '00100040',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  StudyID: '00200010',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  SamplesPerPixel: '00280002',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
  BitsAllocated: '00280100',
  PixelData: '7FE00010',
} as const;

const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);

/** A QIDO key (`PatientName`, `00100010`, `0010,0010`) as an upper-case 8-digit tag, or null if unknown. */
export function tagOf(key: string): string | null {
  const hex = key.replace(/[(),]/g, '');
  if (/^[0-9a-f]{8}$/i.test(hex)) return hex.toUpperCase();
  const entry = (data.DicomMetaDictionary as unknown as { nameMap: Record<string, { tag: string } | undefined> }).nameMap[key];
  return entry ? entry.tag.replace(/[(),]/g, '').toUpperCase() : null;
}

/**
 * dcmjs' dict → DICOM JSON. Binary values become `BulkDataURI: bulkUri(tag)` for PixelData, `InlineBinary`
 * (base64) otherwise; sequences recurse; empty values and dcmjs' private fields (`_rawValue`) are dropped.
 */
export function toDicomJson(dict: Record<string, { vr: string; Value?: unknown[] }>, bulkUri: (tag: string) => string): DicomJson {
  const out: DicomJson = {};
  for (const [tag, el] of Object.entries(dict)) {
    const vr = el.vr;
    if (BINARY_VRS.has(vr)) {
      if (tag === TAG.PixelData) out[tag] = { vr, BulkDataURI: bulkUri(tag) };
      else {
        const bytes = concatBuffers((el.Value ?? []) as ArrayBuffer[]);
        out[tag] = bytes.byteLength ? { vr, InlineBinary: Buffer.from(bytes).toString('base64') } : { vr };
      }
      continue;
    }
    if (vr === 'SQ') {
      out[tag] = { vr, Value: ((el.Value ?? []) as Record<string, { vr: string; Value?: unknown[] }>[]).map((item) => toDicomJson(item, bulkUri)) };
      continue;
    }
    const values = (el.Value ?? []).filter((v) => v !== null && v !== undefined && !(typeof v === 'number' && Number.isNaN(v)));
    const empty = values.every((v) => v === '' || (vr === 'PN' && typeof v === 'object' && !Object.values(v as object).some(Boolean)));
    out[tag] = empty ? { vr } : { vr, Value: values };
  }
  return out;
}

/** Concatenation of ArrayBuffers (dcmjs' binary values, or encapsulated fragments). */
export function concatBuffers(buffers: readonly ArrayBuffer[]): Uint8Array {
  if (buffers.length === 1) return new Uint8Array(buffers[0]);
  return new Uint8Array(Buffer.concat(buffers.map((b) => new Uint8Array(b))));
}

/** The first value of an attribute as a string ('' when absent). */
export function str(json: DicomJson, tag: string): string {
  const v = json[tag]?.Value?.[0];
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? String((v as { Alphabetic?: string }).Alphabetic ?? '') : String(v);
}

/** The first value of a numeric attribute, or `fallback`. */
export function num(json: DicomJson, tag: string, fallback: number): number {
  const v = Number(json[tag]?.Value?.[0]);
  return Number.isFinite(v) ? v : fallback;
}

/** Wildcard (`*`, `?`) pattern → RegExp, case-insensitive (PS3.4 C.2.2.2.4). */
function wildcard(pattern: string, fuzzy: boolean): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  // fuzzy person-name matching: the value may match the start of any name component
  return new RegExp(fuzzy ? `(^|[\\^ ])${body}${pattern.endsWith('*') ? '' : '.*'}$` : `^${body}$`, 'i');
}

/**
 * Whether an attribute matches a QIDO query value: an empty query matches everything (the attribute is only
 * asked for); UIDs by list (`,` or `\`); dates and times by range (`a-b`, `a-`, `-b`); PN by wildcard (fuzzy: by
 * name-component prefix); other strings by wildcard, case-insensitive. Multi-valued attributes match if any value does.
 */
export function matches(el: DicomJsonElement | undefined, query: string, fuzzy: boolean): boolean {
  if (query === '' || query === '*') return true;
  const values = (el?.Value ?? []).map((v) => (typeof v === 'object' && v ? String((v as { Alphabetic?: string }).Alphabetic ?? '') : String(v)));
  const vr = el?.vr ?? '';
  const wanted = query.split(/[\\,]/).map((q) => q.trim()).filter(Boolean);
  if (vr === 'DA' || vr === 'TM' || vr === 'DT') {
    const range = /^(\d*)-(\d*)$/.exec(query.replace(/[.:]/g, ''));
    return values.some((v) => {
      const x = v.replace(/[.:]/g, '');
      if (!range) return x === query;
      return (!range[1] || x >= range[1]) && (!range[2] || x.slice(0, range[2].length) <= range[2]);
    });
  }
  if (vr === 'UI') return values.some((v) => wanted.includes(v));
  const patterns = wanted.map((q) => wildcard(q, fuzzy && vr === 'PN'));
  return values.some((v) => patterns.some((p) => p.test(v)));
}
