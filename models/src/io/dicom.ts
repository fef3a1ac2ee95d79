import dicomParser, { type DataSet } from 'dicom-parser';
import { InvalidImageError, ModelsError } from '../errors.ts';
import { stackGeometry, type SlicePlane } from '../geometry/sliceStack.ts';
import { checkGeometry, checkVoxelValues, type Vec3, type Volume, type VoxelArray } from '../geometry/volume.ts';
import { checkVoxelCount, resolveLimits, type ReadLimits } from './limits.ts';
import { decodeFrame, decoderReady, DecoderNotLoadedError, loadDicomDecoders, STORED_TYPES, type StoredArray } from './pixels/decode.ts';
import { TRANSFER_SYNTAXES, type TransferSyntax } from './pixels/syntaxes.ts';

export { loadDicomDecoders, DecoderNotLoadedError };

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
  syntax: TransferSyntax;
}


export interface ReadDicomOptions {
  limits?: Partial<ReadLimits>;
  /**
   * Told of each assumption the reader makes (a single slice without SliceThickness), of partly NaN/Inf data, and
   * of lossy compressed slices (lossy JPEG, JPEG-LS with NEAR > 0, irreversible JPEG 2000 / HTJ2K, or
   * LossyImageCompression 01): one message per series and reason.
   */
  onWarning?: (message: string) => void;
  /** readDicomSeriesWithInfoAsync only: stops between slices once aborted (throwing the signal's reason). */
  signal?: AbortSignal;
}

/** {@link readDicomSeriesWithInfo}, volume only. */
export function readDicomSeries(files: readonly DicomInput[], opts: ReadDicomOptions = {}): Volume {
  return readDicomSeriesWithInfo(files, opts).volume;
}

/**
 * {@link readDicomSeriesWithInfo} for any of the transfer syntaxes it reads: starts the wasm decoders the files'
 * syntaxes need first (once per process, see loadDicomDecoders), and gives the event loop a turn between slices
 * at least every YIELD_MS of decoding (a 512² JPEG 2000 slice takes ≈ 0.1 s: a series would block it for tens of
 * seconds), stopping there once `opts.signal` is aborted.
 */
export async function readDicomSeriesWithInfoAsync(files: readonly DicomInput[], opts: ReadDicomOptions = {}): Promise<DicomSeries> {
  const syntaxes = new Set<string>();
  for (const file of files) {
    try {
      syntaxes.add(dicomParser.readPart10Header(file.bytes).string('x00020010') ?? '');
    } catch {
      // not Part 10: the reader says so, naming the file
    }
  }
  await loadDicomDecoders(syntaxes);
  const steps = readSeries(files, opts);
  let since = performance.now();
  for (;;) {
    const step = attemptRead(() => steps.next());
    if (step.done) return step.value;
    if (performance.now() - since >= YIELD_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      opts.signal?.throwIfAborted();
      since = performance.now();
    }
  }
}

/** The longest the asynchronous reader decodes before it lets other work run. */
const YIELD_MS = 20;

/**
 * Reads the slices of one single-frame DICOM series (CT, MR, …) into a Volume. Runs anywhere: takes bytes,
 * touches no file system. Transfer syntaxes (pixels/syntaxes.ts): implicit and explicit VR little endian,
 * explicit big endian; RLE lossless; JPEG lossless (process 14, and its selection value 1); JPEG-LS lossless and
 * near-lossless; JPEG 2000 (lossless and not); HTJ2K (the three syntaxes); 8-bit JPEG baseline / extended. Each
 * compressed frame's codestream header must agree with Rows, Columns, one sample and BitsAllocated before it is
 * decoded, and it must decode to exactly Rows × Columns samples; stored values are its low BitsStored bits
 * (sign-extended when PixelRepresentation is 1). The JPEG-LS, JPEG 2000, HTJ2K and JPEG baseline decoders are wasm
 * modules: start them first (await loadDicomDecoders(), or read with readDicomSeriesWithInfoAsync), else a file
 * that needs one throws DecoderNotLoadedError. Lossy compressed slices are read, and `onWarning` says so.
 *
 * Files without PixelData (DICOMDIR, SR, …) are skipped; anything else that is not one consistent series is an
 * InvalidImageError that says what and where: a file that is not DICOM Part 10, a transfer syntax not read
 * (deflate, 12-bit JPEG, …) or a codestream that is not what the attributes say, several SeriesInstanceUIDs,
 * multi-frame or multi-sample images, slices that differ in Rows/Columns, ImageOrientationPatient or PixelSpacing,
 * duplicate positions, non-uniform steps (a missing slice). The voxel count is checked against `limits` before
 * anything is allocated.
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
  const steps = readSeries(files, opts);
  for (;;) {
    const step = attemptRead(() => steps.next());
    if (step.done) return step.value;
  }
}

/** Runs a step of the reader: errors that are not ours become InvalidImageErrors. */
function attemptRead<T>(step: () => T): T {
  try {
    return step();
  } catch (e) {
    // dicom-parser throws strings and TypeErrors on malformed elements it parsed lazily: still the file's fault
    if (e instanceof ModelsError || e instanceof DecoderNotLoadedError) throw e;
    throw new InvalidImageError(`the DICOM series is malformed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** The reader, one step per slice decoded (`yield`), so that a caller can let other work run in between. */
function* readSeries(files: readonly DicomInput[], opts: ReadDicomOptions): Generator<void, DicomSeries, void> {
  const limits = resolveLimits(opts.limits);
  const images = files.map(parsePart10).filter((image) => image.ds.elements.x7fe00010);
  if (!images.length) throw new InvalidImageError(`none of the ${files.length} files is a DICOM image (none has PixelData)`);

  const seriesInstanceUid = oneSeries(images);
  const notReady = images.find((image) => !decoderReady(image.syntax));
  if (notReady) {
    throw new DecoderNotLoadedError(`${notReady.name} uses ${notReady.syntax.name}, whose wasm decoder is not started: await loadDicomDecoders() first, or read with readDicomSeriesWithInfoAsync`);
  }
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
  const lossy = new Map<string, number>();
  const data = yield* readVoxels(slices, rows * columns, (why) => lossy.set(why, (lossy.get(why) ?? 0) + 1));
  for (const [why, n] of lossy) {
    warnings.push(`DICOM series ${seriesInstanceUid}: ${n} of ${slices.length} slices are lossy compressed (${why}): their values are not those of the original image`);
  }
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
  const uid = attempt(file, () => header.string('x00020010') ?? '');
  const syntax = TRANSFER_SYNTAXES.get(uid);
  if (!syntax) {
    throw new InvalidImageError(`${file.name} uses transfer syntax ${uid || '(none)'}, which is not read; these are: ${[...TRANSFER_SYNTAXES.values()].map((s) => `${s.uid} (${s.name})`).join(', ')}`);
  }
  return { name: file.name, ds: attempt(file, () => dicomParser.parseDicom(file.bytes)), syntax };
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

/** Stored pixel values of one slice, row by row (column index fastest), in the host's (little-endian) order. */
function storedValues(image: Image, count: number, onLossy: (why: string) => void): StoredArray {
  const { name, ds, syntax } = image;
  if (ds.string('x00282110') === '01') onLossy('LossyImageCompression 01');
  if (syntax.codec !== 'native') {
    const { values, lossy } = decodeFrame(encapsulatedFrame(image), syntax, {
      rows: ds.uint16('x00280010') ?? 0,
      columns: ds.uint16('x00280011') ?? 0,
      bitsAllocated: ds.uint16('x00280100') ?? 0,
      bitsStored: ds.uint16('x00280101') ?? ds.uint16('x00280100') ?? 0,
      signed: ds.uint16('x00280103') === 1,
    }, name);
    if (lossy) onLossy(lossy);
    return values;
  }
  const bigEndian = syntax.bigEndian;
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

/**
 * The one frame of an encapsulated PixelData: all its fragments joined (the basic offset table, if any, is not
 * needed for a single frame). Fragments must lie inside the file.
 */
function encapsulatedFrame({ name, ds, syntax }: Image): Uint8Array {
  const element = ds.elements.x7fe00010;
  const fragments = element.fragments;
  if (!element.encapsulatedPixelData || !fragments) {
    throw new InvalidImageError(`${name}: transfer syntax ${syntax.uid} (${syntax.name}) needs encapsulated PixelData, and this PixelData is not encapsulated`);
  }
  if (!fragments.length) throw new InvalidImageError(`${name}: the encapsulated PixelData has no fragments`);
  for (const f of fragments) {
    if (!(f.length >= 0 && f.position + f.length <= ds.byteArray.length)) throw new InvalidImageError(`${name}: a PixelData fragment of ${f.length} bytes runs past the end of the file`);
  }
  return dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, 0, fragments.length);
}

/**
 * The array type of rescaled voxel values (stored × RescaleSlope + RescaleIntercept) spanning [lo, hi]: Int16Array
 * when every slope and intercept is an integer and the values fit, else Int32Array if they fit that, else
 * Float32Array. The viewer builds its in-browser volume with the same rule, so both hold the same voxels.
 */
export function rescaledArrayType(lo: number, hi: number, integral: boolean): Int16ArrayConstructor | Int32ArrayConstructor | Float32ArrayConstructor {
  return !integral ? Float32Array : lo >= -(2 ** 15) && hi < 2 ** 15 ? Int16Array : lo >= -(2 ** 31) && hi < 2 ** 31 ? Int32Array : Float32Array;
}

/** Rescaled values of the sorted slices, k-slice after k-slice, in the narrowest exact array type; a step per slice. */
function* readVoxels(slices: readonly Image[], sliceVoxels: number, onLossy: (why: string) => void): Generator<void, VoxelArray, void> {
  let lo = Infinity;
  let hi = -Infinity;
  let integral = true;
  const stored: { values: StoredArray; slope: number; intercept: number }[] = [];
  for (const slice of slices) {
    const values = storedValues(slice, sliceVoxels, onLossy);
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
    stored.push({ values, slope, intercept });
    yield;
  }
  const Out = rescaledArrayType(lo, hi, integral);
  const data = new Out(sliceVoxels * slices.length);
  stored.forEach(({ values, slope, intercept }, k) => {
    const offset = k * sliceVoxels;
    for (let p = 0; p < sliceVoxels; p++) data[offset + p] = values[p] * slope + intercept;
  });
  return data;
}
