/**
 * The embedded DICOMweb store: the instances /dicomweb serves when no DICOMWEB_URL is configured. In memory:
 * the bundled sample study (a synthetic CT phantom, built on first use) plus what STOW-RS stored (segmentations
 * saved from the viewer), bounded in bytes. Study → series → instance, in insertion order.
 */
import { data } from 'dcmjs';
import type { DicomInput } from '@vista3d/models';
import { generatePhantom, phantomDicomSeries } from '@vista3d/models/phantom';
import { concatBuffers, matches, num, str, tagOf, toDicomJson, TAG, type DicomJson } from './dicomJson.ts';

export interface StoredInstance {
  studyUid: string;
  seriesUid: string;
  sopUid: string;
  sopClassUid: string;
  transferSyntax: string;
  /** The Part 10 file as received. */
  file: Uint8Array;
  /** DICOM JSON, PixelData as a BulkDataURI. */
  json: DicomJson;
  /** PixelData's value (native: all frames back to back), or null. */
  pixelData: Uint8Array | null;
  /** Bytes this instance holds (file + pixel data). */
  bytes: number;
  /** Sample instances do not count against the STOW-RS budget. */
  pinned: boolean;
}

/** A failed store (PS3.18 Table 10.5.3-1 / PS3.4 Annex B failure reasons). */
export class StoreError extends Error {
  constructor(
    readonly reason: number,
    message: string,
    readonly sopClassUid = '',
    readonly sopUid = '',
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
export const FAILURE = { outOfResources: 0xa700, cannotUnderstand: 0xc000, studyMismatch: 0xa900 } as const;

/** Uncompressed little-endian transfer syntaxes: their frames are served as they are stored. */
export const NATIVE_LE = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']);

export interface SampleStudyOptions {
  kind: 'torso' | 'head';
  seed: number;
}

/**
 * The sample study's grid: 144 × 112 × 80 voxels of 2.5 × 2.5 × 3 mm (360 × 280 × 240 mm, the torso fits with a
 * margin), LPS, slices inferior → superior. 1.3 M voxels: 80 CT files of 32 KB (2.6 MB), built in ≈2.5 s of one core.
 */
export const SAMPLE_GRID = { dims: [144, 112, 80] as [number, number, number], spacing: [2.5, 2.5, 3] as [number, number, number] };

/** The sample study as Part 10 files (deterministic: same options, same bytes and UIDs). */
export function sampleStudyFiles(opts: SampleStudyOptions): DicomInput[] {
  const phantom = generatePhantom({ seed: opts.seed, kind: opts.kind, ...SAMPLE_GRID });
  return phantomDicomSeries(phantom);
}

export interface QueryParams {
  [key: string]: string | undefined;
}

type Level = 'study' | 'series' | 'instance';

/** Attributes each QIDO level returns by default (PS3.18 Table 10.6.3-3/4/5), taken from an instance. */
const DEFAULT_FIELDS: Record<Level, string[]> = {
  study: [
    TAG.SpecificCharacterSet,
    TAG.StudyDate,
    TAG.StudyTime,
    TAG.AccessionNumber,
    TAG.ReferringPhysicianName,
    TAG.StudyDescription,
    TAG.PatientName,
    TAG.PatientID,
    TAG.PatientBirthDate,
    TAG.PatientSex,
    TAG.StudyInstanceUID,
    TAG.StudyID,
  ],
  series: [TAG.SpecificCharacterSet, TAG.Modality, TAG.SeriesDescription, TAG.SeriesInstanceUID, TAG.SeriesNumber, TAG.SeriesDate, TAG.SeriesTime, TAG.StudyInstanceUID],
  instance: [TAG.SpecificCharacterSet, TAG.SOPClassUID, TAG.SOPInstanceUID, TAG.InstanceNumber, TAG.Rows, TAG.Columns, TAG.BitsAllocated, TAG.NumberOfFrames, TAG.StudyInstanceUID, TAG.SeriesInstanceUID, TAG.Modality],
};
const CONTROL_PARAMS = new Set(['limit', 'offset', 'includefield', 'fuzzymatching']);

export class DicomStore {
  private readonly studies = new Map<string, Map<string, Map<string, StoredInstance>>>();
  private storedBytes = 0;
  private loading: Promise<void> | null = null;

  /**
   * @param root URL path the store is served under (`/dicomweb`), for BulkDataURIs.
   * @param maxBytes STOW-RS budget in bytes (sample instances excluded).
   * @param sample the sample study to build on first use, or null.
   */
  constructor(
    readonly root: string,
    readonly maxBytes: number,
    private readonly sample: SampleStudyOptions | null = null,
  ) {}

  /** Resolves once the sample study is in (built on the first call: ≈2.5 s of CPU for the default grid). */
  ready(): Promise<void> {
    return (this.loading ??= Promise.resolve().then(() => {
      if (this.sample) for (const f of sampleStudyFiles(this.sample)) this.add(f.bytes, { pinned: true });
    }));
  }

  /** Bytes held by STOW-RS instances (the budget's use). */
  get bytesUsed(): number {
    return this.storedBytes;
  }

  /**
   * Stores one Part 10 file (an instance with the same SOPInstanceUID is replaced). `study`: the STOW-RS target
   * study, if the request named one. Throws StoreError with the failure reason.
   */
  add(file: Uint8Array, opts: { pinned?: boolean; study?: string } = {}): StoredInstance {
    let dict: ReturnType<typeof data.DicomMessage.readFile>;
    try {
      dict = data.DicomMessage.readFile(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer);
    } catch (e) {
      throw new StoreError(FAILURE.cannotUnderstand, `not a DICOM Part 10 file: ${(e as Error).message}`);
    }
    const first = (tag: string) => String(dict.dict[tag]?.Value?.[0] ?? '');
    const [studyUid, seriesUid, sopUid, sopClassUid] = [first(TAG.StudyInstanceUID), first(TAG.SeriesInstanceUID), first(TAG.SOPInstanceUID), first(TAG.SOPClassUID)];
    if (!studyUid || !seriesUid || !sopUid) throw new StoreError(FAILURE.cannotUnderstand, 'the instance lacks StudyInstanceUID, SeriesInstanceUID or SOPInstanceUID', sopClassUid, sopUid);
    if (opts.study && opts.study !== studyUid) throw new StoreError(FAILURE.studyMismatch, `the instance belongs to study ${studyUid}, not ${opts.study}`, sopClassUid, sopUid);
    const pixel = dict.dict[TAG.PixelData];
    const pixelData = pixel?.Value?.length ? concatBuffers(pixel.Value as ArrayBuffer[]) : null;
    const bytes = file.byteLength + (pixelData?.byteLength ?? 0);
    const previous = this.instance(studyUid, seriesUid, sopUid);
    const pinned = opts.pinned ?? false;
    const budgetAfter = this.storedBytes - (previous && !previous.pinned ? previous.bytes : 0) + (pinned ? 0 : bytes);
    if (!pinned && budgetAfter > this.maxBytes) {
      throw new StoreError(FAILURE.outOfResources, `the embedded store is full (${this.storedBytes} of ${this.maxBytes} bytes used; DICOMWEB_STORE_BYTES)`, sopClassUid, sopUid);
    }
    const base = `${this.root}/studies/${studyUid}/series/${seriesUid}/instances/${sopUid}`;
    const instance: StoredInstance = {
      studyUid,
      seriesUid,
      sopUid,
      sopClassUid,
      transferSyntax: String(dict.meta['00020010']?.Value?.[0] ?? '1.2.840.10008.1.2'),
      file,
      json: toDicomJson(dict.dict, (tag) => `${base}/bulk/${tag}`),
      pixelData,
      bytes,
      pinned,
    };
    if (previous) this.remove(previous);
    let study = this.studies.get(studyUid);
    if (!study) this.studies.set(studyUid, (study = new Map()));
    let series = study.get(seriesUid);
    if (!series) study.set(seriesUid, (series = new Map()));
    series.set(sopUid, instance);
    if (!pinned) this.storedBytes += bytes;
    return instance;
  }

  private remove(i: StoredInstance): void {
    const series = this.studies.get(i.studyUid)?.get(i.seriesUid);
    series?.delete(i.sopUid);
    if (!i.pinned) this.storedBytes -= i.bytes;
    if (series && !series.size) this.studies.get(i.studyUid)!.delete(i.seriesUid);
    if (!this.studies.get(i.studyUid)?.size) this.studies.delete(i.studyUid);
  }

  instance(study: string, series: string, sop: string): StoredInstance | undefined {
    return this.studies.get(study)?.get(series)?.get(sop);
  }

  /** Instances of a study, of one series, or of one instance; empty when unknown. */
  instances(study: string, series?: string, sop?: string): StoredInstance[] {
    const s = this.studies.get(study);
    if (!s) return [];
    if (series === undefined) return [...s.values()].flatMap((m) => [...m.values()]);
    const r = s.get(series);
    if (!r) return [];
    if (sop === undefined) return [...r.values()];
    const i = r.get(sop);
    return i ? [i] : [];
  }

  /** Part 10 files of a series (for readDicomSeriesWithInfo), named by SOPInstanceUID. */
  seriesFiles(study: string, series: string): DicomInput[] {
    return this.instances(study, series).map((i) => ({ name: `${i.sopUid}.dcm`, bytes: i.file }));
  }

  /** QIDO-RS: studies (all, filtered by `params`). */
  searchStudies(params: QueryParams): DicomJson[] {
    const rows = [...this.studies.values()].map((seriesMap) => {
      const all = [...seriesMap.values()].flatMap((m) => [...m.values()]);
      const computed: DicomJson = {
        [TAG.ModalitiesInStudy]: { vr: 'CS', Value: [...new Set(all.map((i) => str(i.json, TAG.Modality)).filter(Boolean))] },
        [TAG.NumberOfStudyRelatedSeries]: { vr: 'IS', Value: [seriesMap.size] },
        [TAG.NumberOfStudyRelatedInstances]: { vr: 'IS', Value: [all.length] },
        [TAG.InstanceAvailability]: { vr: 'CS', Value: ['ONLINE'] },
      };
      return { source: all[0].json, computed };
    });
    return query(rows, 'study', params);
  }

  /** QIDO-RS: series of a study (or of every study). */
  searchSeries(params: QueryParams, study?: string): DicomJson[] {
    const studies = study === undefined ? [...this.studies.values()] : this.studies.has(study) ? [this.studies.get(study)!] : [];
    const rows = studies.flatMap((s) =>
      [...s.values()].map((instances) => {
        const first = instances.values().next().value!;
        return { source: first.json, computed: { [TAG.NumberOfSeriesRelatedInstances]: { vr: 'IS', Value: [instances.size] } } as DicomJson };
      }),
    );
    return query(rows, 'series', params);
  }

  /** QIDO-RS: instances of a series, of a study, or of every study. */
  searchInstances(params: QueryParams, study?: string, series?: string): DicomJson[] {
    const list = study === undefined ? [...this.studies.keys()].flatMap((s) => this.instances(s)) : this.instances(study, series);
    return query(
      list.map((i) => ({ source: i.json, computed: {} })),
      'instance',
      params,
    );
  }
}

/**
 * The bytes of frame `n` (1-based) of an instance with native pixel data. 1-bit data (SEG) is re-packed so that
 * the frame starts on a byte (PS3.18 §8.7.3.3.2 frames are byte-aligned). Null when `n` is out of range.
 */
export function frameBytes(i: StoredInstance, n: number): Uint8Array | null {
  if (!i.pixelData) return null;
  const frames = num(i.json, TAG.NumberOfFrames, 1);
  if (!Number.isInteger(n) || n < 1 || n > frames) return null;
  const pixels = num(i.json, TAG.Rows, 0) * num(i.json, TAG.Columns, 0) * num(i.json, TAG.SamplesPerPixel, 1);
  const bits = num(i.json, TAG.BitsAllocated, 16);
  if (bits !== 1) {
    const size = (pixels * bits) / 8;
    return i.pixelData.subarray((n - 1) * size, n * size);
  }
  const out = new Uint8Array(Math.ceil(pixels / 8));
  const start = (n - 1) * pixels;
  for (let p = 0; p < pixels; p++) {
    const bit = start + p;
    if (i.pixelData[bit >> 3] & (1 << (bit & 7))) out[p >> 3] |= 1 << (p & 7);
  }
  return out;
}

/** Filters rows by the query's attribute keys, applies offset/limit, projects each on the returned attributes. */
function query(rows: { source: DicomJson; computed: DicomJson }[], level: Level, params: QueryParams): DicomJson[] {
  const fuzzy = params.fuzzymatching === 'true';
  const filters: [string, string][] = [];
  for (const [key, value] of Object.entries(params)) {
    if (CONTROL_PARAMS.has(key) || value === undefined) continue;
    const tag = tagOf(key);
    if (tag) filters.push([tag, value]);
  }
  const include = (params.includefield ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const all = include.includes('all');
  const extra = include.map(tagOf).filter((t): t is string => !!t);
  const offset = Math.max(0, Number(params.offset) || 0);
  const limit = params.limit !== undefined && Number(params.limit) > 0 ? Number(params.limit) : Infinity;
  const matched = rows.filter(({ source, computed }) => filters.every(([tag, q]) => matches(computed[tag] ?? source[tag], q, fuzzy)));
  return matched.slice(offset, offset + limit).map(({ source, computed }) => {
    const out: DicomJson = {};
    const fields = all ? Object.keys(source).filter((t) => !source[t].BulkDataURI && !source[t].InlineBinary && t !== TAG.PixelData) : [...DEFAULT_FIELDS[level], ...extra, ...filters.map(([t]) => t)];
    for (const t of fields) if (source[t]) out[t] = source[t];
    Object.assign(out, computed);
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  });
}
