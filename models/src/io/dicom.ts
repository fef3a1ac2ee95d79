import dicomParser, { type DataSet } from 'dicom-parser';
import { InvalidImageError, ModelsError } from '../errors.ts';
import { stackGeometry, type SlicePlane } from '../geometry/sliceStack.ts';
import { checkGeometry, checkVoxelValues, type Vec3, type Volume, type VoxelArray } from '../geometry/volume.ts';
import { checkVoxelCount, resolveLimits, type ReadLimits } from './limits.ts';

/** The uncompressed transfer syntaxes we read, and their byte order. */
const TRANSFER_SYNTAXES = new Map([
  ['1.2.840.10008.1.2', 'little'], // implicit VR little endian
  ['1.2.840.10008.1.2.1', 'little'], // explicit VR little endian
  ['1.2.840.10008.1.2.2', 'big'], // explicit VR big endian (retired, still met)
]);


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


export interface ReadDicomOptions {
  limits?: Partial<ReadLimits>;
  /** Told of each assumption the reader makes (a single slice without SliceThickness) and of partly NaN/Inf data. */
  onWarning?: (message: string) => void;
}

/** {@link readDicomSeriesWithInfo}, volume only. */
export function readDicomSeries(files: readonly DicomInput[], opts: ReadDicomOptions = {}): Volume {
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
 * Geometry and the slice-axis policy (gantry tilt) are those of `stackGeometry` (geometry/sliceStack.ts), then
 * checked by `checkGeometry` before any pixel is copied (voxel sizes from MIN_SPACING_MM to MAX_SPACING_MM,
 * finite origin, independent axes; the message names PixelSpacing, the slice step, SliceThickness,
 * ImagePositionPatient or ImageOrientationPatient). A single slice without a positive SliceThickness gets 1 mm,
 * and `onWarning` says so.
 *
 * Values: stored pixels × RescaleSlope + RescaleIntercept, per slice. Int16Array when all slopes and intercepts
 * are integers and the values fit, else Int32Array if they fit that, else Float32Array. Float values that are all
 * NaN/Inf (a RescaleSlope of NaN) are refused; some of them are reported through `onWarning`.
 */
export function readDicomSeriesWithInfo(files: readonly DicomInput[], opts: ReadDicomOptions = {}): DicomSeries {
  try {
    return readSeries(files, opts);
  } catch (e) {
    // dicom-parser throws strings and TypeErrors on malformed elements it parsed lazily: still the file's fault
    if (e instanceof ModelsError) throw e;
    throw new InvalidImageError(`the DICOM series is malformed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function readSeries(files: readonly DicomInput[], opts: ReadDicomOptions): DicomSeries {
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

  const planes: SlicePlane[] = images.map((image) => ({
    name: image.name,
    rows: image.ds.uint16('x00280010') ?? 0,
    columns: image.ds.uint16('x00280011') ?? 0,
    orientation: numbers(image, 'x00200037', 6, 'ImageOrientationPatient'),
    pixelSpacing: numbers(image, 'x00280030', 2, 'PixelSpacing'),
    position: numbers(image, 'x00200032', 3, 'ImagePositionPatient') as Vec3,
  }));
  const sliceThickness = first.ds.floatString('x00180050');
  const geometry = stackGeometry(planes, sliceThickness);
  const single = images.length === 1;
  checkGeometry(geometry, 'DICOM', {
    spacing: ['PixelSpacing[1] (between columns)', 'PixelSpacing[0] (between rows)', single ? 'SliceThickness' : 'slice step (from ImagePositionPatient)'],
    origin: 'ImagePositionPatient',
    direction: 'ImageOrientationPatient (with the slice axis)',
  });
  const warnings: string[] = [];
  if (single && !(sliceThickness !== undefined && sliceThickness > 0)) {
    warnings.push(`DICOM ${first.name} is a single slice without a positive SliceThickness: 1 mm assumed along the slice normal`);
  }
  const slices = geometry.order.map((i) => images[i]);
  const data = readVoxels(slices, rows * columns);
  const values = checkVoxelValues(data, `DICOM series ${seriesInstanceUid}`);
  if (values) warnings.push(values);
  for (const w of warnings) opts.onWarning?.(w);

  return {
    volume: { data, dims: geometry.dims, spacing: geometry.spacing, direction: geometry.direction, origin: geometry.origin },
    sopInstanceUids: slices.map((s) => s.ds.string('x00080018') ?? ''),
    seriesInstanceUid,
    studyInstanceUid: first.ds.string('x0020000d') ?? '',
  };
}

function parsePart10(file: DicomInput): Image {
  const header = attempt(file, () => dicomParser.readPart10Header(file.bytes));
  const syntax = attempt(file, () => header.string('x00020010') ?? '');
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
  const given = image.ds.elements[tag] ? (image.ds.numStringValues(tag) ?? 0) : 0;
  if (given < count) throw new InvalidImageError(`${image.name} has no valid ${keyword}: ${given} value${given === 1 ? '' : 's'}, ${count} needed`);
  const values = Array.from({ length: count }, (_, i) => image.ds.floatString(tag, i) ?? NaN);
  if (!values.every(Number.isFinite)) throw new InvalidImageError(`${image.name} has no valid ${keyword} (${count} numbers)`);
  return values;
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
function readVoxels(slices: readonly Image[], sliceVoxels: number): VoxelArray {
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
