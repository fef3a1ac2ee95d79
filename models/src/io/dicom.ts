import dicomParser, { type DataSet } from 'dicom-parser';
import { InvalidImageError } from '../errors.ts';
import { cross, dot, normalize, type Vec3, type Volume, type VoxelArray } from '../geometry/volume.ts';
import { checkVoxelCount, resolveLimits, type ReadLimits } from './limits.ts';

/** The uncompressed transfer syntaxes we read, and their byte order. */
const TRANSFER_SYNTAXES = new Map([
  ['1.2.840.10008.1.2', 'little'], // implicit VR little endian
  ['1.2.840.10008.1.2.1', 'little'], // explicit VR little endian
  ['1.2.840.10008.1.2.2', 'big'], // explicit VR big endian (retired, still met)
]);

/** Cosines (ImageOrientationPatient) and mm (PixelSpacing) that must agree between slices. */
const SAME_ATTRIBUTE_TOLERANCE = 1e-4;
/** Closest two slices may be along the normal (mm) before they count as one position. */
const DUPLICATE_POSITION_MM = 0.01;
/** How far a slice may sit from where a uniform straight stack puts it (mm): 1% of the step, at least 0.01 mm. */
const stackTolerance = (step: number) => Math.max(0.01, 0.01 * step);

export interface DicomInput {
  name: string;
  bytes: Uint8Array;
}

export interface DicomSeries {
  volume: Volume;
  /** SOPInstanceUID of k-slice k of the volume, at index k. */
  sopInstanceUids: string[];
  seriesInstanceUid: string;
  studyInstanceUid: string;
}

interface Image {
  name: string;
  ds: DataSet;
  bigEndian: boolean;
}

interface Slice extends Image {
  position: Vec3;
  /** Position along the slice normal (mm). */
  along: number;
}

/** {@link readDicomSeriesWithInfo}, volume only. */
export function readDicomSeries(files: readonly DicomInput[], opts: { limits?: Partial<ReadLimits> } = {}): Volume {
  return readDicomSeriesWithInfo(files, opts).volume;
}

/**
 * Reads the slices of one single-frame DICOM series (CT, MR, … uncompressed: implicit or explicit VR little
 * endian, explicit big endian) into a Volume. Runs anywhere: takes bytes, touches no file system.
 *
 * Files without PixelData (DICOMDIR, SR, …) are skipped; anything else that is not one consistent series is an
 * InvalidImageError that says what and where: a file that is not DICOM Part 10, a compressed transfer syntax,
 * several SeriesInstanceUIDs, multi-frame or multi-sample images, slices that differ in Rows/Columns,
 * ImageOrientationPatient or PixelSpacing, duplicate positions, non-uniform steps (a missing slice). The voxel
 * count is checked against `limits` before anything is allocated.
 *
 * Output layout: `data[i + dims[0] * (j + dims[1] * k)]`, dims = [Columns, Rows, slices]: i runs along a row
 * (direction column 0 = the row cosine of ImageOrientationPatient), j down the rows (column 1 = the column
 * cosine), k across slices, sorted by ImagePositionPatient projected on the normal row × column (never by
 * InstanceNumber or file name), so k increases along the normal. World is LPS in mm; origin =
 * ImagePositionPatient of slice k = 0; spacing = [PixelSpacing[1], PixelSpacing[0], step between slices] (a
 * single slice: SliceThickness, else 1).
 *
 * Slice axis policy: the k direction is the normal when the stack drifts sideways by at most 1% of a pixel over
 * its whole length (rounding in the headers). A larger drift along a straight line with uniform steps (gantry
 * tilt) is kept as it is: direction column 2 is then the unit step between slices, not orthogonal to the other
 * two (a sheared grid, still exact world positions); callers that need an orthonormal direction must resample.
 * Tilts over 45° and slices off the line by more than max(0.01 mm, 1% of the step) are errors.
 *
 * Values: stored pixels × RescaleSlope + RescaleIntercept, per slice. Int16Array when all slopes and intercepts
 * are integers and the values fit, else Int32Array if they fit that, else Float32Array.
 */
export function readDicomSeriesWithInfo(files: readonly DicomInput[], opts: { limits?: Partial<ReadLimits> } = {}): DicomSeries {
  const limits = resolveLimits(opts.limits);
  const images = files.map(parsePart10).filter((image) => image.ds.elements.x7fe00010);
  if (!images.length) throw new InvalidImageError(`none of the ${files.length} files is a DICOM image (none has PixelData)`);

  const seriesInstanceUid = oneSeries(images);
  for (const { name, ds } of images) {
    const frames = ds.intString('x00280008') ?? 1;
    if (frames > 1) throw new InvalidImageError(`${name} is a multi-frame image (${frames} frames); only single-frame slices are read`);
    const samples = ds.uint16('x00280002') ?? 1;
    if (samples !== 1) throw new InvalidImageError(`${name} has ${samples} samples per pixel; only grey-level images are read`);
  }
  const first = images[0];
  const rows = first.ds.uint16('x00280010') ?? 0;
  const columns = first.ds.uint16('x00280011') ?? 0;
  if (!(rows > 0 && columns > 0)) throw new InvalidImageError(`${first.name} declares ${rows} rows × ${columns} columns`);
  const dims: Vec3 = [columns, rows, images.length];
  checkVoxelCount(dims, limits, `DICOM series ${seriesInstanceUid}`);

  const orientation = numbers(first, 'x00200037', 6, 'ImageOrientationPatient');
  const pixelSpacing = numbers(first, 'x00280030', 2, 'PixelSpacing');
  for (const image of images) {
    same(first, image, 'Rows', [rows], [image.ds.uint16('x00280010') ?? 0]);
    same(first, image, 'Columns', [columns], [image.ds.uint16('x00280011') ?? 0]);
    same(first, image, 'ImageOrientationPatient', orientation, numbers(image, 'x00200037', 6, 'ImageOrientationPatient'));
    same(first, image, 'PixelSpacing', pixelSpacing, numbers(image, 'x00280030', 2, 'PixelSpacing'));
  }
  if (!pixelSpacing.every((s) => s > 0)) throw new InvalidImageError(`${first.name}: PixelSpacing ${pixelSpacing.join('\\')} is not positive`);
  const rowCosine = [orientation[0], orientation[1], orientation[2]];
  const columnCosine = [orientation[3], orientation[4], orientation[5]];
  if (Math.abs(Math.hypot(...rowCosine) - 1) > 1e-3 || Math.abs(Math.hypot(...columnCosine) - 1) > 1e-3 || Math.abs(dot(rowCosine, columnCosine)) > 1e-3) {
    throw new InvalidImageError(`${first.name}: ImageOrientationPatient ${orientation.join('\\')} is not two orthogonal unit vectors`);
  }
  const row = normalize(rowCosine);
  const column = normalize(columnCosine);
  const normal = cross(row, column);

  const slices: Slice[] = images
    .map((image) => {
      const position = numbers(image, 'x00200032', 3, 'ImagePositionPatient') as Vec3;
      return { ...image, position, along: dot(position, normal) };
    })
    .sort((a, b) => a.along - b.along);
  const { axis, step } = sliceAxis(slices, normal, Math.min(...pixelSpacing), first.ds.floatString('x00180050'));

  return {
    volume: {
      data: readVoxels(slices, rows * columns),
      dims,
      spacing: [pixelSpacing[1], pixelSpacing[0], step],
      direction: [row[0], column[0], axis[0], row[1], column[1], axis[1], row[2], column[2], axis[2]],
      origin: slices[0].position,
    },
    sopInstanceUids: slices.map((s) => s.ds.string('x00080018') ?? ''),
    seriesInstanceUid,
    studyInstanceUid: first.ds.string('x0020000d') ?? '',
  };
}

function parsePart10(file: DicomInput): Image {
  const header = attempt(file, () => dicomParser.readPart10Header(file.bytes));
  const syntax = header.string('x00020010') ?? '';
  const order = TRANSFER_SYNTAXES.get(syntax);
  if (!order) {
    throw new InvalidImageError(
      `${file.name} uses transfer syntax ${syntax || '(none)'}, which is compressed or unknown; only the uncompressed ones are read (${[...TRANSFER_SYNTAXES.keys()].join(', ')})`,
    );
  }
  return { name: file.name, ds: attempt(file, () => dicomParser.parseDicom(file.bytes)), bigEndian: order === 'big' };
}

function attempt<T>(file: DicomInput, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    // dicom-parser throws strings, Errors, or { exception, dataSet } once it has parsed part of the file.
    const reason = e && typeof e === 'object' && 'exception' in e ? e.exception : e;
    throw new InvalidImageError(`${file.name} is not a readable DICOM Part 10 file: ${reason instanceof Error ? reason.message : String(reason)}`, { cause: e });
  }
}

/** The one SeriesInstanceUID of the images, or an error listing each series with its number of files. */
function oneSeries(images: readonly Image[]): string {
  const counts = new Map<string, number>();
  for (const { ds } of images) {
    const uid = ds.string('x0020000e') ?? '(no SeriesInstanceUID)';
    counts.set(uid, (counts.get(uid) ?? 0) + 1);
  }
  if (counts.size > 1) {
    const list = [...counts].map(([uid, n]) => `${uid} (${n} files)`).join(', ');
    throw new InvalidImageError(`the files hold ${counts.size} series, read one at a time: ${list}`);
  }
  return [...counts.keys()][0];
}

function numbers(image: Image, tag: string, count: number, keyword: string): number[] {
  const values = Array.from({ length: count }, (_, i) => image.ds.floatString(tag, i) ?? NaN);
  if (!values.every(Number.isFinite)) throw new InvalidImageError(`${image.name} has no valid ${keyword} (${count} numbers)`);
  return values;
}

function same(reference: Image, image: Image, keyword: string, expected: readonly number[], actual: readonly number[]): void {
  if (expected.some((v, i) => Math.abs(v - actual[i]) > SAME_ATTRIBUTE_TOLERANCE)) {
    throw new InvalidImageError(`${keyword} differs between slices: ${expected.join('\\')} in ${reference.name}, ${actual.join('\\')} in ${image.name}`);
  }
}

/** Unit k axis (LPS) and step (mm) of slices sorted along the normal; see the policy on readDicomSeriesWithInfo. */
function sliceAxis(slices: readonly Slice[], normal: Vec3, pixelSpacing: number, sliceThickness: number | undefined): { axis: Vec3; step: number } {
  if (slices.length === 1) return { axis: normal, step: sliceThickness && sliceThickness > 0 ? sliceThickness : 1 };
  const where = (s: Slice) => `${s.name} (${s.position.map((x) => +x.toFixed(3)).join(', ')})`;
  const steps = slices.slice(1).map((s, k) => s.along - slices[k].along);
  const duplicate = steps.findIndex((g) => g < DUPLICATE_POSITION_MM);
  if (duplicate >= 0) throw new InvalidImageError(`two slices at one position: ${where(slices[duplicate])} and ${where(slices[duplicate + 1])}`);

  const typical = [...steps].sort((a, b) => a - b)[steps.length >> 1];
  const tolerance = stackTolerance(typical);
  const odd = steps.findIndex((g) => Math.abs(g - typical) > tolerance);
  if (odd >= 0) {
    throw new InvalidImageError(
      `slice spacing is not uniform: ${where(slices[odd])} to ${where(slices[odd + 1])} is ${+steps[odd].toFixed(4)} mm along the normal, the usual step ${+typical.toFixed(4)} mm${steps[odd] > typical ? ' (a missing slice?)' : ''}`,
    );
  }

  const n = slices.length - 1;
  const p0 = slices[0].position;
  const d = [0, 1, 2].map((c) => (slices[n].position[c] - p0[c]) / n) as Vec3;
  for (let k = 1; k < n; k++) {
    const off = Math.hypot(...[0, 1, 2].map((c) => slices[k].position[c] - p0[c] - k * d[c]));
    if (off > tolerance) throw new InvalidImageError(`slice positions are not on a straight line: ${where(slices[k])} is ${+off.toFixed(4)} mm off`);
  }
  const along = dot(d, normal);
  const sideways = Math.hypot(...[0, 1, 2].map((c) => d[c] - along * normal[c]));
  if (sideways * n <= 0.01 * pixelSpacing) return { axis: normal, step: along };
  const length = Math.hypot(...d);
  const tilt = (Math.acos(Math.min(1, along / length)) * 180) / Math.PI;
  if (tilt > 45) throw new InvalidImageError(`slice positions step ${+tilt.toFixed(1)}° away from the slice normal; not a slice stack`);
  return { axis: d.map((x) => x / length) as Vec3, step: length };
}

type StoredArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
type StoredArrayConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => StoredArray;
/** BitsAllocated → [unsigned, signed] (PixelRepresentation 0, 1) array type. */
const STORED_TYPES: Record<number, [StoredArrayConstructor, StoredArrayConstructor]> = {
  8: [Uint8Array, Int8Array],
  16: [Uint16Array, Int16Array],
  32: [Uint32Array, Int32Array],
};

/** Stored pixel values of one slice, row by row (column index fastest), in the host's (little-endian) order. */
function storedValues({ name, ds, bigEndian }: Image, count: number): StoredArray {
  const bits = ds.uint16('x00280100') ?? 0;
  const Stored = STORED_TYPES[bits]?.[ds.uint16('x00280103') === 1 ? 1 : 0];
  if (!Stored) throw new InvalidImageError(`${name}: BitsAllocated ${bits} is not read (8, 16 or 32)`);
  const size = bits / 8;
  const element = ds.elements.x7fe00010;
  const needed = count * size;
  if (element.length < needed || element.dataOffset + needed > ds.byteArray.length) {
    throw new InvalidImageError(`${name}: PixelData holds ${Math.min(element.length, ds.byteArray.length - element.dataOffset)} bytes, Rows × Columns × BitsAllocated needs ${needed}`);
  }
  let bytes = ds.byteArray.subarray(element.dataOffset, element.dataOffset + needed);
  if ((bigEndian && size > 1) || bytes.byteOffset % size) {
    bytes = bytes.slice();
    if (bigEndian) {
      for (let p = 0; p < needed; p += size) {
        for (let a = p, z = p + size - 1; a < z; a++, z--) [bytes[a], bytes[z]] = [bytes[z], bytes[a]];
      }
    }
  }
  return new Stored(bytes.buffer, bytes.byteOffset, count);
}

/** Rescaled values of the sorted slices, k-slice after k-slice, in the narrowest exact array type. */
function readVoxels(slices: readonly Slice[], sliceVoxels: number): VoxelArray {
  let lo = Infinity;
  let hi = -Infinity;
  let integral = true;
  const stored = slices.map((slice) => {
    const values = storedValues(slice, sliceVoxels);
    const slope = slice.ds.floatString('x00281053') ?? 1;
    const intercept = slice.ds.floatString('x00281052') ?? 0;
    integral &&= Number.isInteger(slope) && Number.isInteger(intercept);
    let min = Infinity;
    let max = -Infinity;
    for (let p = 0; p < sliceVoxels; p++) {
      if (values[p] < min) min = values[p];
      if (values[p] > max) max = values[p];
    }
    lo = Math.min(lo, min * slope + intercept, max * slope + intercept);
    hi = Math.max(hi, min * slope + intercept, max * slope + intercept);
    return { values, slope, intercept };
  });
  const Out = !integral ? Float32Array : lo >= -(2 ** 15) && hi < 2 ** 15 ? Int16Array : lo >= -(2 ** 31) && hi < 2 ** 31 ? Int32Array : Float32Array;
  const data = new Out(sliceVoxels * slices.length);
  stored.forEach(({ values, slope, intercept }, k) => {
    const offset = k * sliceVoxels;
    for (let p = 0; p < sliceVoxels; p++) data[offset + p] = values[p] * slope + intercept;
  });
  return data;
}
