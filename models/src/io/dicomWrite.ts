import { data } from 'dcmjs';
import { InvalidImageError } from '../errors.ts';
import { cross, dot, indexToWorld, voxelCount, type Volume, type VoxelArray } from '../geometry/volume.ts';

const { DicomDict, DicomMetaDictionary } = data;

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const UID_PATTERN = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/;
const IMPLEMENTATION_CLASS_UID = makeUid('2.25', 'vista3d-ohif models/io/dicomWrite');

export interface WriteDicomOptions {
  /** Given UIDs are used as they are; missing ones are derived from `seed` (random without one). */
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  patientName?: string;
  patientId?: string;
  seriesDescription?: string;
  modality?: 'CT';
  /** 'reverse': InstanceNumber 1 (and the first file) is the last k-slice, to exercise readers' sorting. */
  sliceOrder?: 'forward' | 'reverse';
  /** UID root the generated UIDs hang under; default `2.25` (UUID-derived integers, no registration needed). */
  uidRoot?: string;
  /** Same seed, same UIDs: study, series, frame of reference and every SOPInstanceUID. */
  seed?: string | number;
  /** Study/series/content date and time; default now. Fixing it and `seed` makes the output byte-identical. */
  date?: Date;
  /** Default display window in rescaled units (HU for CT); default the data range. */
  window?: { center: number; width: number };
}

export interface DicomFile {
  name: string;
  bytes: Uint8Array;
}

/**
 * Writes a volume as a DICOM CT Image Storage series, one Part 10 file (explicit VR little endian, int16
 * pixels) per k-slice, in InstanceNumber order.
 *
 * Input layout: `data[i + dims[0] * (j + dims[1] * k)]`; world is LPS in mm (see Volume). Slice k becomes an
 * image with Columns = dims[0] (i, along direction column 0 = the row cosine) and Rows = dims[1] (j, along
 * direction column 1 = the column cosine); ImagePositionPatient = indexToWorld([0, 0, k]); PixelSpacing =
 * [spacing[1], spacing[0]] (row spacing, column spacing); SliceThickness = spacing[2]. A k axis that is not
 * the row × column normal (sheared, e.g. gantry tilt, or opposite to it) is written as it is: positions carry it.
 *
 * Values: integers that fit int16 are stored as they are (slope 1, intercept 0); integers spanning at most
 * 65536 values get an integer intercept (exact); anything else is quantised linearly to int16 (error at most
 * half the RescaleSlope).
 */
export function writeDicomSeries(vol: Volume, opts: WriteDicomOptions = {}): DicomFile[] {
  const [nx, ny, nz] = vol.dims;
  if (!vol.dims.every((d) => Number.isInteger(d) && d > 0) || vol.data.length !== voxelCount(vol.dims)) {
    throw new InvalidImageError(`cannot write DICOM: dims ${vol.dims.join('×')} do not match ${vol.data.length} voxels`);
  }
  if (!vol.spacing.every((s) => s > 0)) throw new InvalidImageError(`cannot write DICOM: spacing ${vol.spacing.join(', ')} is not positive`);
  const d = vol.direction;
  const rowCosine = [d[0], d[3], d[6]];
  const columnCosine = [d[1], d[4], d[7]];
  if (Math.abs(dot(rowCosine, rowCosine) - 1) > 1e-6 || Math.abs(dot(columnCosine, columnCosine) - 1) > 1e-6 || Math.abs(dot(rowCosine, columnCosine)) > 1e-6) {
    throw new InvalidImageError(`cannot write DICOM: direction columns 0 and 1 (${rowCosine}; ${columnCosine}) are not orthonormal`);
  }
  const normal = cross(rowCosine, columnCosine);

  const uidRoot = opts.uidRoot ?? '2.25';
  if (!UID_PATTERN.test(uidRoot) || uidRoot.length > 40) throw new RangeError(`uidRoot ${uidRoot} is not a UID root of at most 40 characters`);
  const seed = opts.seed === undefined ? randomSeed() : String(opts.seed);
  const uid = (role: string) => makeUid(uidRoot, `${seed}/${role}`);
  const studyInstanceUid = opts.studyInstanceUid ?? uid('study');
  const seriesInstanceUid = opts.seriesInstanceUid ?? uid('series');
  for (const u of [studyInstanceUid, seriesInstanceUid]) if (!UID_PATTERN.test(u) || u.length > 64) throw new RangeError(`${u} is not a valid UID`);

  const { slope, intercept, min, max } = quantisation(vol.data);
  const window = opts.window ?? { center: (min + max) / 2, width: Math.max(max - min, 1) };
  const date = opts.date ?? new Date();
  const iso = date.toISOString();
  const day = iso.slice(0, 10).replace(/-/g, '');
  const time = iso.slice(11, 19).replace(/:/g, '');

  const common = {
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: ['DERIVED', 'SECONDARY', 'AXIAL'],
    SOPClassUID: CT_IMAGE_STORAGE,
    StudyDate: day,
    SeriesDate: day,
    ContentDate: day,
    StudyTime: time,
    SeriesTime: time,
    ContentTime: time,
    AccessionNumber: '',
    Modality: opts.modality ?? 'CT',
    Laterality: '',
    PatientPosition: '',
    Manufacturer: '',
    ReferringPhysicianName: '',
    SeriesDescription: opts.seriesDescription ?? '',
    PatientName: opts.patientName ?? 'Anonymous',
    PatientID: opts.patientId ?? 'ANON',
    PatientBirthDate: '',
    PatientSex: '',
    KVP: '',
    StudyInstanceUID: studyInstanceUid,
    SeriesInstanceUID: seriesInstanceUid,
    StudyID: '',
    SeriesNumber: '1',
    AcquisitionNumber: '',
    FrameOfReferenceUID: uid('frame-of-reference'),
    PositionReferenceIndicator: '',
    ImageOrientationPatient: [...rowCosine, ...columnCosine].map(decimalString),
    SliceThickness: decimalString(vol.spacing[2]),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: ny,
    Columns: nx,
    PixelSpacing: [decimalString(vol.spacing[1]), decimalString(vol.spacing[0])],
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 1,
    WindowCenter: decimalString(window.center),
    WindowWidth: decimalString(window.width),
    RescaleIntercept: decimalString(intercept),
    RescaleSlope: decimalString(slope),
    RescaleType: 'HU',
    _vrMap: { PixelData: 'OW' },
  };

  const sliceVoxels = nx * ny;
  const files: DicomFile[] = [];
  for (let n = 0; n < nz; n++) {
    const k = opts.sliceOrder === 'reverse' ? nz - 1 - n : n;
    const sopInstanceUid = uid(`instance/${k}`);
    const pixels = new Int16Array(sliceVoxels);
    const offset = k * sliceVoxels;
    for (let p = 0; p < sliceVoxels; p++) {
      pixels[p] = Math.min(32767, Math.max(-32768, Math.round((vol.data[offset + p] - intercept) / slope)));
    }
    const position = indexToWorld(vol, [0, 0, k]);
    const meta = DicomMetaDictionary.denaturalizeDataset({
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: CT_IMAGE_STORAGE,
      MediaStorageSOPInstanceUID: sopInstanceUid,
      TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
      ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
      ImplementationVersionName: 'VISTA3D_OHIF_1',
    });
    const dicom = new DicomDict(meta);
    dicom.dict = DicomMetaDictionary.denaturalizeDataset({
      ...common,
      SOPInstanceUID: sopInstanceUid,
      InstanceNumber: String(n + 1),
      ImagePositionPatient: position.map(decimalString),
      SliceLocation: decimalString(dot(position, normal)),
      PixelData: [pixels.buffer],
    });
    files.push({ name: `slice-${String(n + 1).padStart(4, '0')}.dcm`, bytes: new Uint8Array(dicom.write()) });
  }
  return files;
}

/** RescaleSlope/Intercept that map the data onto int16, plus the data range (ignoring NaN). */
function quantisation(data: VoxelArray): { slope: number; intercept: number; min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  let integral = true;
  for (let p = 0; p < data.length; p++) {
    const v = data[p];
    if (v < min) min = v;
    if (v > max) max = v;
    if (integral && !Number.isInteger(v)) integral = false;
  }
  if (!(max >= min)) return { slope: 1, intercept: 0, min: 0, max: 0 };
  if (integral && min >= -32768 && max <= 32767) return { slope: 1, intercept: 0, min, max };
  if (integral && max - min <= 65535) return { slope: 1, intercept: min + 32768, min, max };
  const slope = max > min ? Number(((max - min) / 65535).toPrecision(10)) : 1;
  return { slope, intercept: Number((min + 32768 * slope).toPrecision(10)), min, max };
}

/**
 * A number as a DICOM DS string (at most 16 characters), with as many significant digits as fit. dcmjs would
 * otherwise cut longer strings, turning -1.2e-16 into "-1.2246467991473".
 */
export function decimalString(x: number): string {
  for (let digits = 16; digits > 1; digits--) {
    const s = String(Number(x.toPrecision(digits)));
    if (s.length <= 16) return s;
  }
  return x.toExponential(9);
}

/** `root.<decimal>` with ≤ 64 characters; under 2.25 the decimal is a version-8 (hash-based) UUID, as PS3.5 B.2 asks. */
export function makeUid(root: string, name: string): string {
  let h = fnv1a128(name);
  if (root === '2.25') h = (h & ~(0xfn << 76n) & ~(0x3n << 62n)) | (0x8n << 76n) | (0x2n << 62n);
  return `${root}.${h.toString().slice(0, 63 - root.length)}`;
}

/** 128-bit FNV-1a of the UTF-8 bytes: deterministic, same result in Node and browsers. */
function fnv1a128(s: string): bigint {
  let h = 0x6c62272e07bb014262b821756295c58dn;
  for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * 0x1000000000000000000013bn) & ((1n << 128n) - 1n);
  return h;
}

export function randomSeed(): string {
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}
