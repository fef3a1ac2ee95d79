import { data } from 'dcmjs';
import { InvalidImageError } from '../errors.ts';
import { cross, dot } from '../geometry/volume.ts';
import { decimalString, makeUid, randomSeed, type DicomFile } from './dicomWrite.ts';
import type { CodedConcept, SegmentCoding } from './segCoding.ts';

export type { DicomFile };

const { DicomDict, DicomMetaDictionary, Colors } = data;

/** The two Segmentation SOP classes we write: binary bit planes (the widest support) and the 2024 label map. */
export const SEGMENTATION_SOP_CLASSES = {
  binary: '1.2.840.10008.5.1.4.1.1.66.4',
  labelmap: '1.2.840.10008.5.1.4.1.1.66.7',
} as const;
export type SegmentationSopClass = keyof typeof SEGMENTATION_SOP_CLASSES;

/** Parses a configured SOP class name; an unknown one fails with the valid list. */
export function segmentationSopClass(name: unknown = 'binary'): SegmentationSopClass {
  if (typeof name === 'string' && Object.hasOwn(SEGMENTATION_SOP_CLASSES, name)) return name as SegmentationSopClass;
  throw new RangeError(`unknown DICOM SEG class ${JSON.stringify(name)}: use one of ${Object.keys(SEGMENTATION_SOP_CLASSES).join(', ')}`);
}

const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const IMPLEMENTATION_CLASS_UID = makeUid('2.25', 'vista3d-ohif models/io/segWrite');
const IMPLEMENTATION_VERSION_NAME = 'VISTA3D_OHIF_1';
const UID_PATTERN = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/;

const dcm = (CodeValue: string, CodeMeaning: string): CodedConcept => ({ CodeValue, CodingSchemeDesignator: 'DCM', CodeMeaning });
/** CID 7203 Image Derivation. */
const SEGMENTATION_DERIVATION = dcm('113076', 'Segmentation');
/** CID 7202 Source Image Purpose of Reference. */
const SOURCE_IMAGE_PURPOSE = dcm('121322', 'Source image for image processing operation');
/** CID 7162 algorithm family of the Segmentation Algorithm Identification. */
const ARTIFICIAL_INTELLIGENCE = dcm('123110', 'Artificial Intelligence');
/** The label map's background segment (CID 7165 Abstract Segmentation Type). */
const BACKGROUND = dcm('125040', 'Background');

/** One image of the source series, as its header gives it. */
export interface SegSourceImage {
  sopClassUid: string;
  sopInstanceUid: string;
  /** LPS mm of the centre of the first transmitted pixel. */
  imagePositionPatient: readonly number[];
  /** Row cosine then column cosine (LPS). */
  imageOrientationPatient: readonly number[];
  /** [between rows, between columns] in mm (DICOM PixelSpacing order). */
  pixelSpacing: readonly number[];
  /** mm; absent: the spacing between slices is written. */
  sliceThickness?: number;
  rows: number;
  columns: number;
}

/** The source series and the patient/study attributes the SEG copies from it (DICOM string forms). */
export interface SegSourceSeries {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  patientName?: string;
  patientId?: string;
  patientBirthDate?: string;
  patientSex?: string;
  studyDate?: string;
  studyTime?: string;
  studyId?: string;
  accessionNumber?: string;
  referringPhysicianName?: string;
  images: readonly SegSourceImage[];
}

export type SegmentAlgorithmType = 'AUTOMATIC' | 'SEMIAUTOMATIC' | 'MANUAL';

export interface SegSegment {
  /** The value of this segment's voxels in the label arrays (1…255). */
  labelIndex: number;
  /** Segment Label: the structure's name as the user sees it. */
  label: string;
  coding: SegmentCoding;
  algorithmType: SegmentAlgorithmType;
  /** Segment Algorithm Name (required unless MANUAL). */
  algorithmName?: string;
  /** Segmentation Algorithm Identification: the model (family Artificial Intelligence). */
  algorithm?: { name: string; version: string };
  /** Recommended display colour, sRGB 0…255. */
  color?: readonly number[];
  description?: string;
}

export interface WriteSegmentationOptions {
  /** 'binary' (default): one bit-packed frame per segment and slice holding it; 'labelmap': one 8-bit frame per slice. */
  sopClass?: SegmentationSopClass;
  seriesDescription: string;
  /** Person Name form, e.g. "VISTA3D^vista3d 0.5.4". */
  contentCreatorName: string;
  contentDescription?: string;
  /** CS: upper case, digits, space, underscore; ≤ 16 characters. */
  contentLabel?: string;
  seriesNumber?: number;
  instanceNumber?: number;
  /** Enhanced General Equipment: what wrote the SEG. */
  equipment: { manufacturer: string; manufacturerModelName: string; deviceSerialNumber: string; softwareVersions: string };
  /** UID root the new UIDs hang under (default 2.25); same seed, same UIDs. */
  uidRoot?: string;
  seed?: string | number;
  /** Series/content/instance creation date and time; default now. */
  date?: Date;
}

/**
 * Writes a DICOM Segmentation (one Part 10 file, explicit VR little endian) of per-image label arrays.
 *
 * Input layout: `labels[n]` belongs to `source.images[n]` (any order: frames are sorted along the slice normal
 * row cosine × column cosine), row-major, index r · columns + c, r down the column cosine and c along the row cosine,
 * each value a segment's `labelIndex` or 0. Geometry is copied from the source headers (LPS mm), never resampled, so
 * the SEG's voxels are the source's pixels.
 *
 * Binary (1.2.840.10008.5.1.4.1.1.66.4): segments numbered 1…N in `labelIndex` order; a frame for each segment and
 * each image holding it, segment-major then along the normal, bits packed continuously across frames (PS3.5 8.1.1).
 * Label map (1.2.840.10008.5.1.4.1.1.66.7, DICOM 2024): Segment Number = `labelIndex` (0 is the Background
 * segment and the Pixel Padding Value), one 8-bit frame for each image holding any segment.
 * Both: shared Plane Orientation and Pixel Measures; per frame Plane Position, Frame Content (Dimension Index
 * Values), Derivation Image (the source image, its SOP class, purpose and derivation codes) and, binary only, Segment
 * Identification; dimensions = (Referenced Segment Number,) Image Position Patient.
 */
export function writeSegmentation(source: SegSourceSeries, labels: readonly ArrayLike<number>[], segments: readonly SegSegment[], opts: WriteSegmentationOptions): DicomFile {
  const sopClass = segmentationSopClass(opts.sopClass ?? 'binary');
  const images = checkedImages(source, labels);
  const segs = checkedSegments(segments);
  const { rows, columns } = images[0].image;
  const frameVoxels = rows * columns;

  const uidRoot = opts.uidRoot ?? '2.25';
  if (!UID_PATTERN.test(uidRoot) || uidRoot.length > 40) throw new RangeError(`uidRoot ${uidRoot} is not a UID root of at most 40 characters`);
  const seed = opts.seed === undefined ? randomSeed() : String(opts.seed);
  const uid = (role: string) => makeUid(uidRoot, `${seed}/${role}`);
  const seriesInstanceUid = uid('seg-series');
  const sopInstanceUid = uid('seg-instance');
  const dimensionOrganizationUid = uid('seg-dimensions');
  const date = opts.date ?? new Date();
  const iso = date.toISOString();
  const day = iso.slice(0, 10).replace(/-/g, '');
  const time = iso.slice(11, 19).replace(/:/g, '');

  // Frames: (segment, image) pairs with voxels of the segment (binary), or images with any label (label map).
  const holds = (n: number, value: number) => {
    const l = images[n].labels;
    for (let p = 0; p < frameVoxels; p++) if (l[p] === value) return true;
    return false;
  };
  const described = new Set(segs.map((s) => s.labelIndex));
  const holdsAny = (n: number) => {
    const l = images[n].labels;
    for (let p = 0; p < frameVoxels; p++) if (l[p] !== 0 && described.has(l[p])) return true;
    return false;
  };
  const frames: { n: number; segmentNumber?: number }[] = [];
  if (sopClass === 'binary') {
    segs.forEach((s, i) => images.forEach((_, n) => holds(n, s.labelIndex) && frames.push({ n, segmentNumber: i + 1 })));
  } else {
    images.forEach((_, n) => holdsAny(n) && frames.push({ n }));
  }
  if (!frames.length) throw new RangeError('the segmentation holds no voxel of any segment: there is nothing to save');

  const first = images[0].image;
  const spacingBetweenSlices = uniformStep(images.map((m) => m.along));
  const sliceThickness = first.sliceThickness ?? spacingBetweenSlices ?? undefined;
  const segmentNumberOf = (s: SegSegment, i: number) => (sopClass === 'binary' ? i + 1 : s.labelIndex);

  const dataset: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: SEGMENTATION_SOP_CLASSES[sopClass],
    SOPInstanceUID: sopInstanceUid,
    InstanceCreationDate: day,
    InstanceCreationTime: time,
    // Patient, General Study: copied from the source
    PatientName: source.patientName ?? '',
    PatientID: source.patientId ?? '',
    PatientBirthDate: source.patientBirthDate ?? '',
    PatientSex: source.patientSex ?? '',
    StudyInstanceUID: source.studyInstanceUid,
    StudyDate: source.studyDate ?? '',
    StudyTime: source.studyTime ?? '',
    ReferringPhysicianName: source.referringPhysicianName ?? '',
    StudyID: source.studyId ?? '',
    AccessionNumber: source.accessionNumber ?? '',
    // General Series, Segmentation Series
    Modality: 'SEG',
    SeriesInstanceUID: seriesInstanceUid,
    SeriesNumber: String(opts.seriesNumber ?? 300),
    SeriesDate: day,
    SeriesTime: time,
    SeriesDescription: opts.seriesDescription.slice(0, 64),
    // Frame of Reference
    FrameOfReferenceUID: source.frameOfReferenceUid,
    PositionReferenceIndicator: '',
    // General Equipment, Enhanced General Equipment
    Manufacturer: opts.equipment.manufacturer,
    ManufacturerModelName: opts.equipment.manufacturerModelName,
    DeviceSerialNumber: opts.equipment.deviceSerialNumber,
    SoftwareVersions: opts.equipment.softwareVersions,
    // General Image, Segmentation Image (Content Identification)
    ImageType: ['DERIVED', 'PRIMARY'],
    // General Image: not required beside Plane Orientation, "may be present otherwise"; given for older readers
    // (and for dciodvfy 2024-12, whose condition forgets the label-map class)
    PatientOrientation: patientOrientation(first.imageOrientationPatient),
    InstanceNumber: String(opts.instanceNumber ?? 1),
    ContentLabel: (opts.contentLabel ?? 'VISTA3D').toUpperCase().replace(/[^A-Z0-9_ ]/g, '_').slice(0, 16),
    ContentDescription: (opts.contentDescription ?? opts.seriesDescription).slice(0, 64),
    ContentCreatorName: opts.contentCreatorName,
    ContentDate: day,
    ContentTime: time,
    SegmentationType: sopClass === 'binary' ? 'BINARY' : 'LABELMAP',
    SegmentsOverlap: 'NO',
    SegmentSequence: [
      ...(sopClass === 'labelmap' ? [backgroundSegment(segs[0])] : []),
      ...segs.map((s, i) => segmentItem(s, segmentNumberOf(s, i))),
    ],
    // Image Pixel
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: columns,
    BitsAllocated: sopClass === 'binary' ? 1 : 8,
    BitsStored: sopClass === 'binary' ? 1 : 8,
    HighBit: sopClass === 'binary' ? 0 : 7,
    PixelRepresentation: 0,
    ...(sopClass === 'labelmap' && { PixelPaddingValue: 0 }),
    LossyImageCompression: '00',
    // Multi-frame Functional Groups, Multi-frame Dimension
    NumberOfFrames: String(frames.length),
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: first.imageOrientationPatient.map(decimalString) }],
        PixelMeasuresSequence: [
          {
            PixelSpacing: first.pixelSpacing.map(decimalString),
            ...(sliceThickness !== undefined && { SliceThickness: cleanDecimal(sliceThickness) }),
            ...(spacingBetweenSlices !== null && { SpacingBetweenSlices: cleanDecimal(spacingBetweenSlices) }),
          },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: frames.map(({ n, segmentNumber }) => {
      const { image, position } = images[n];
      return {
        DerivationImageSequence: [
          {
            SourceImageSequence: [
              {
                ReferencedSOPClassUID: image.sopClassUid,
                ReferencedSOPInstanceUID: image.sopInstanceUid,
                PurposeOfReferenceCodeSequence: [SOURCE_IMAGE_PURPOSE],
              },
            ],
            DerivationCodeSequence: [SEGMENTATION_DERIVATION],
          },
        ],
        FrameContentSequence: [{ DimensionIndexValues: segmentNumber === undefined ? [position] : [segmentNumber, position] }],
        PlanePositionSequence: [{ ImagePositionPatient: image.imagePositionPatient.map(decimalString) }],
        ...(segmentNumber !== undefined && { SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segmentNumber }] }),
      };
    }),
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    // "3D" only for one stack of equally spaced parallel frames (one segment or a label map, no gap): as highdicom
    ...(isVolume(frames, images, sopClass === 'binary' ? segs.length : 1) && { DimensionOrganizationType: '3D' }),
    DimensionIndexSequence: [
      ...(sopClass === 'binary'
        ? [{ DimensionOrganizationUID: dimensionOrganizationUid, DimensionIndexPointer: 0x0062000b, FunctionalGroupPointer: 0x0062000a, DimensionDescriptionLabel: 'Segment Number' }]
        : []),
      { DimensionOrganizationUID: dimensionOrganizationUid, DimensionIndexPointer: 0x00200032, FunctionalGroupPointer: 0x00209113, DimensionDescriptionLabel: 'Image Position Patient' },
    ],
    // Common Instance Reference
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: source.seriesInstanceUid,
        ReferencedInstanceSequence: images.map(({ image }) => ({ ReferencedSOPClassUID: image.sopClassUid, ReferencedSOPInstanceUID: image.sopInstanceUid })),
      },
    ],
    PixelData: [sopClass === 'binary' ? packBits(frames, images, frameVoxels, segs) : labelFrames(frames, images, frameVoxels, segs)],
    _vrMap: { PixelData: 'OB', PixelPaddingValue: 'US' },
  };

  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SEGMENTATION_SOP_CLASSES[sopClass],
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
  const dicom = new DicomDict(meta);
  dicom.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return { name: `seg-${sopInstanceUid.slice(-12)}.dcm`, bytes: new Uint8Array(dicom.write()) };
}

interface CheckedImage {
  image: SegSourceImage;
  labels: ArrayLike<number>;
  /** Position along the slice normal (mm). */
  along: number;
  /** 1-based index along the normal: the Image Position dimension's index value. */
  position: number;
}

/** Source images with their labels, sorted along the slice normal; every image must share one plane geometry. */
function checkedImages(source: SegSourceSeries, labels: readonly ArrayLike<number>[]): CheckedImage[] {
  const { images } = source;
  if (!images.length) throw new InvalidImageError('cannot write a SEG: the source series has no images');
  if (labels.length !== images.length) throw new RangeError(`cannot write a SEG: ${labels.length} label arrays for ${images.length} source images`);
  for (const u of [source.studyInstanceUid, source.seriesInstanceUid, source.frameOfReferenceUid]) {
    if (!UID_PATTERN.test(u ?? '') || u.length > 64) throw new InvalidImageError(`cannot write a SEG: the source's UID ${JSON.stringify(u)} is not a valid UID`);
  }
  const f = images[0];
  const o = f.imageOrientationPatient;
  const normal = cross(o.slice(0, 3), o.slice(3, 6));
  const close = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-4);
  const out = images.map((image, n) => {
    const what = `source image ${n} (${image.sopInstanceUid})`;
    if (image.rows !== f.rows || image.columns !== f.columns) throw new InvalidImageError(`cannot write a SEG: ${what} is ${image.rows}×${image.columns}, the first image ${f.rows}×${f.columns}`);
    if (!close(image.imageOrientationPatient, o)) throw new InvalidImageError(`cannot write a SEG: ${what} has ImageOrientationPatient ${image.imageOrientationPatient.join('\\')}, the first image ${o.join('\\')}`);
    if (!close(image.pixelSpacing, f.pixelSpacing)) throw new InvalidImageError(`cannot write a SEG: ${what} has PixelSpacing ${image.pixelSpacing.join('\\')}, the first image ${f.pixelSpacing.join('\\')}`);
    if (image.imagePositionPatient.length !== 3 || !image.imagePositionPatient.every(Number.isFinite)) throw new InvalidImageError(`cannot write a SEG: ${what} has no valid ImagePositionPatient`);
    if (labels[n].length !== image.rows * image.columns) throw new RangeError(`cannot write a SEG: the label array of ${what} has ${labels[n].length} values, not ${image.rows}×${image.columns}`);
    return { image, labels: labels[n], along: dot(image.imagePositionPatient, normal), position: 0 };
  });
  const sorted = [...out].sort((a, b) => a.along - b.along);
  sorted.forEach((m, i) => (m.position = i + 1));
  return sorted;
}

function checkedSegments(segments: readonly SegSegment[]): SegSegment[] {
  if (!segments.length) throw new RangeError('cannot write a SEG without segments');
  const seen = new Set<number>();
  for (const s of segments) {
    if (!Number.isInteger(s.labelIndex) || s.labelIndex < 1 || s.labelIndex > 255) throw new RangeError(`segment "${s.label}": labelIndex ${s.labelIndex} is not an integer in 1…255`);
    if (seen.has(s.labelIndex)) throw new RangeError(`segment "${s.label}": labelIndex ${s.labelIndex} is used by two segments`);
    seen.add(s.labelIndex);
    if (!s.label.trim()) throw new RangeError(`segment ${s.labelIndex} has no label`);
    if (s.algorithmType !== 'MANUAL' && !s.algorithmName) throw new RangeError(`segment "${s.label}": an ${s.algorithmType} segment needs an algorithmName`);
  }
  return [...segments].sort((a, b) => a.labelIndex - b.labelIndex);
}

/**
 * Patient Orientation (PS3.3 C.7.6.1.1.1) of a row cosine and a column cosine (LPS): for each, the letters of its
 * axes from the largest component down (L/R, P/A, H/F), leaving out components under 1e-4; e.g. ["L", "P"] for
 * axial slices.
 */
export function patientOrientation(iop: readonly number[]): string[] {
  const letters = (v: readonly number[]) =>
    [0, 1, 2]
      .filter((a) => Math.abs(v[a]) >= 1e-4)
      .sort((a, b) => Math.abs(v[b]) - Math.abs(v[a]))
      .map((a) => (v[a] > 0 ? 'LPH' : 'RAF')[a])
      .join('');
  return [letters(iop.slice(0, 3)), letters(iop.slice(3, 6))];
}

/** True when the frames are one stack of parallel planes, equally spaced along the normal (at least two). */
function isVolume(frames: readonly { n: number }[], images: readonly CheckedImage[], stacks: number): boolean {
  return stacks === 1 && frames.length > 1 && uniformStep(frames.map((f) => images[f.n].along)) !== null;
}

/** A computed length as a DS without floating-point noise (8 significant digits: 2.9999999999997 → "3"). */
const cleanDecimal = (x: number) => decimalString(Number(x.toPrecision(8)));

/** The step between sorted slice positions when it is uniform (within 1% / 0.01 mm), else null (one slice: null). */
function uniformStep(along: readonly number[]): number | null {
  if (along.length < 2) return null;
  const step = (along[along.length - 1] - along[0]) / (along.length - 1);
  const tol = Math.max(0.01, 0.01 * step);
  for (let i = 1; i < along.length; i++) if (Math.abs(along[i] - along[i - 1] - step) > tol) return null;
  return step > 0 ? step : null;
}

function segmentItem(s: SegSegment, segmentNumber: number): Record<string, unknown> {
  const c = s.coding;
  return {
    SegmentNumber: segmentNumber,
    SegmentLabel: s.label.slice(0, 64),
    ...(s.description && { SegmentDescription: s.description.slice(0, 64) }),
    SegmentAlgorithmType: s.algorithmType,
    ...(s.algorithmName && { SegmentAlgorithmName: s.algorithmName.slice(0, 64) }),
    ...(s.algorithm && {
      SegmentationAlgorithmIdentificationSequence: [
        { AlgorithmFamilyCodeSequence: [ARTIFICIAL_INTELLIGENCE], AlgorithmName: s.algorithm.name.slice(0, 64), AlgorithmVersion: s.algorithm.version.slice(0, 64) },
      ],
    }),
    ...(c.anatomicRegion && { AnatomicRegionSequence: [{ ...c.anatomicRegion, ...(c.anatomicRegionModifier && { AnatomicRegionModifierSequence: [c.anatomicRegionModifier] }) }] }),
    SegmentedPropertyCategoryCodeSequence: [c.category],
    SegmentedPropertyTypeCodeSequence: [{ ...c.type, ...(c.typeModifier && { SegmentedPropertyTypeModifierCodeSequence: [c.typeModifier] }) }],
    ...(s.color && { RecommendedDisplayCIELabValue: dicomLab(s.color) }),
  };
}

/** Segment 0 of a label map: the background, which its pixels and the Pixel Padding Value hold. */
function backgroundSegment(like: SegSegment): Record<string, unknown> {
  return {
    SegmentNumber: 0,
    SegmentLabel: 'Background',
    SegmentAlgorithmType: like.algorithmType,
    ...(like.algorithmName && { SegmentAlgorithmName: like.algorithmName.slice(0, 64) }),
    SegmentedPropertyCategoryCodeSequence: [BACKGROUND],
    SegmentedPropertyTypeCodeSequence: [BACKGROUND],
  };
}

/** sRGB 0…255 → DICOM's scaled CIELab (PS3.3 C.10.7.1.1), three integers 0…65535. */
export function dicomLab(rgb: readonly number[]): number[] {
  return Colors.rgb2DICOMLAB(rgb.slice(0, 3).map((v) => Math.min(1, Math.max(0, v / 255)))).map((v: number) => Math.min(65535, Math.max(0, Math.round(v))));
}

/** Binary frames, bit-packed continuously (bit k of the stream = pixel k, least significant bit first), even length. */
function packBits(frames: readonly { n: number; segmentNumber?: number }[], images: readonly CheckedImage[], frameVoxels: number, segs: readonly SegSegment[]): ArrayBuffer {
  const bits = frames.length * frameVoxels;
  const out = new Uint8Array(Math.ceil(bits / 8) + (Math.ceil(bits / 8) % 2));
  let k = 0;
  for (const { n, segmentNumber } of frames) {
    const value = segs[segmentNumber! - 1].labelIndex;
    const l = images[n].labels;
    for (let p = 0; p < frameVoxels; p++, k++) if (l[p] === value) out[k >> 3] |= 1 << (k & 7);
  }
  return out.buffer;
}

/**
 * Label-map frames, one byte per pixel (the label index), even length. Values no segment describes become 0 (as
 * the binary planes drop them): every pixel value of a label map must be a described segment.
 */
function labelFrames(frames: readonly { n: number }[], images: readonly CheckedImage[], frameVoxels: number, segs: readonly SegSegment[]): ArrayBuffer {
  const described = new Uint8Array(256);
  for (const s of segs) described[s.labelIndex] = s.labelIndex;
  const out = new Uint8Array(frames.length * frameVoxels + ((frames.length * frameVoxels) % 2));
  frames.forEach(({ n }, f) => {
    const l = images[n].labels;
    for (let p = 0; p < frameVoxels; p++) out[f * frameVoxels + p] = described[l[p] & 255];
  });
  return out.buffer;
}

