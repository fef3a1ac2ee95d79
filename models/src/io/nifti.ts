import { InvalidImageError } from '../errors.ts';
import {
  checkGeometry,
  checkSpacing,
  checkVoxelValues,
  geometryFromAffine,
  voxelCount,
  type GeometryFields,
  type Mat3,
  type Vec3,
  type Volume,
  type VoxelArray,
} from '../geometry/volume.ts';
import { gunzipBounded, gzip, isGzip } from './gzip.ts';
import { checkVoxelCount, resolveLimits, type ReadLimits } from './limits.ts';
import { decodeVoxels, HOST_LITTLE_ENDIAN, voxelBytes, type VoxelArrayConstructor } from './voxelBytes.ts';

/**
 * NIfTI-1 and NIfTI-2 single-file images (`.nii`, `.nii.gz`), 3D scalar volumes only.
 *
 * Files store voxels i-fastest, exactly our `Volume` layout, so data is copied as is (byte-swapped when the
 * file's endianness is not the host's). NIfTI world coordinates are RAS in mm (other `xyzt_units` spatial units
 * are scaled to mm); they become LPS here by negating the first two rows of the voxel → world affine.
 */

const DATATYPES: ReadonlyArray<{ code: number; name: string; ctor: VoxelArrayConstructor }> = [
  { code: 2, name: 'uint8', ctor: Uint8Array },
  { code: 4, name: 'int16', ctor: Int16Array },
  { code: 8, name: 'int32', ctor: Int32Array },
  { code: 16, name: 'float32', ctor: Float32Array },
  { code: 64, name: 'float64', ctor: Float64Array },
  { code: 256, name: 'int8', ctor: Int8Array },
  { code: 512, name: 'uint16', ctor: Uint16Array },
  { code: 768, name: 'uint32', ctor: Uint32Array },
];

const UNSUPPORTED_DATATYPES: Readonly<Record<number, string>> = {
  1: 'binary',
  32: 'complex64',
  128: 'RGB24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

const NIFTI1_SIZE = 348;
const NIFTI2_SIZE = 540;
const NIFTI2_MAGIC = 'n+2\0\r\n\x1a\n';

interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0…7] as stored. */
  dim: number[];
  datatype: number;
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  xyztUnits: number;
  qformCode: number;
  sformCode: number;
  quatern: Vec3;
  qoffset: Vec3;
  /** srow_x, srow_y, srow_z: the RAS sform, row-major 3×4. */
  srow: number[];
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

function parseHeader(bytes: Uint8Array): NiftiHeader {
  if (bytes.length < 4) throw new InvalidImageError(`not a NIfTI file: only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sizeLE = view.getInt32(0, true);
  const sizeBE = view.getInt32(0, false);
  const littleEndian = sizeLE === NIFTI1_SIZE || sizeLE === NIFTI2_SIZE;
  const size = littleEndian ? sizeLE : sizeBE;
  if (size !== NIFTI1_SIZE && size !== NIFTI2_SIZE) {
    throw new InvalidImageError(`not a NIfTI file: sizeof_hdr is ${sizeLE} (expected 348 for NIfTI-1 or 540 for NIfTI-2)`);
  }
  if (bytes.length < size) {
    throw new InvalidImageError(`NIfTI file is truncated: expected a ${size}-byte header but only ${bytes.length} bytes are present`);
  }
  const i16 = (o: number) => view.getInt16(o, littleEndian);
  const i32 = (o: number) => view.getInt32(o, littleEndian);
  const i64 = (o: number) => Number(view.getBigInt64(o, littleEndian));
  const f32 = (o: number) => view.getFloat32(o, littleEndian);
  const f64 = (o: number) => view.getFloat64(o, littleEndian);
  const list = (n: number, read: (o: number) => number, at: number, step: number) => Array.from({ length: n }, (_, k) => read(at + k * step));

  if (size === NIFTI1_SIZE) {
    const magic = latin1(bytes, 344, 348);
    if (magic === 'ni1\0') throw new InvalidImageError('two-file NIfTI-1 (.hdr/.img) is not supported: convert it to a single .nii file');
    if (magic !== 'n+1\0') throw new InvalidImageError(`not a NIfTI-1 file: magic is ${JSON.stringify(magic)} (expected "n+1")`);
    return {
      version: 1,
      littleEndian,
      dim: list(8, i16, 40, 2),
      datatype: i16(70),
      pixdim: list(8, f32, 76, 4),
      voxOffset: f32(108),
      sclSlope: f32(112),
      sclInter: f32(116),
      xyztUnits: bytes[123],
      qformCode: i16(252),
      sformCode: i16(254),
      quatern: list(3, f32, 256, 4) as Vec3,
      qoffset: list(3, f32, 268, 4) as Vec3,
      srow: list(12, f32, 280, 4),
    };
  }
  const magic = latin1(bytes, 4, 12);
  if (magic.startsWith('ni2\0')) throw new InvalidImageError('two-file NIfTI-2 (.hdr/.img) is not supported: convert it to a single .nii file');
  if (magic !== NIFTI2_MAGIC) throw new InvalidImageError(`not a NIfTI-2 file: magic is ${JSON.stringify(magic)} (expected "n+2")`);
  return {
    version: 2,
    littleEndian,
    dim: list(8, i64, 16, 8),
    datatype: i16(12),
    pixdim: list(8, f64, 104, 8),
    voxOffset: i64(168),
    sclSlope: f64(176),
    sclInter: f64(184),
    xyztUnits: i32(500),
    qformCode: i32(344),
    sformCode: i32(348),
    quatern: list(3, f64, 352, 8) as Vec3,
    qoffset: list(3, f64, 376, 8) as Vec3,
    srow: list(12, f64, 400, 8),
  };
}

/** The 3 spatial dims; throws unless the image is one 3D volume (trailing dims of size 1 are accepted). */
function spatialDims(h: NiftiHeader): Vec3 {
  const n = h.dim[0];
  if (!(n >= 1 && n <= 7)) throw new InvalidImageError(`NIfTI dim[0] is ${n}: expected 1 to 7 dimensions`);
  const dims = [1, 2, 3].map((i) => (i <= n ? h.dim[i] : 1)) as Vec3;
  if (!dims.every((d) => Number.isInteger(d) && d >= 1)) throw new InvalidImageError(`NIfTI dims ${dims.join('×')} are not positive integers`);
  const extra = h.dim.slice(4, n + 1).reduce((p, d) => p * Math.max(1, d), 1);
  if (extra > 1) {
    throw new InvalidImageError(
      `NIfTI image is ${n}D with dim = [${h.dim.slice(1, n + 1).join(', ')}] (${extra} volumes): only a single 3D volume is supported`,
    );
  }
  return dims;
}

/** NIfTI-1 §"Orientation": the quaternion rotation (qform, method 2) as a row-major 3×3 RAS matrix. */
function quaternionToRotation([b, c, d]: readonly number[]): Mat3 {
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // Rounding put |(b,c,d)| at or past 1: a 180° rotation, renormalised as nifti1_io does.
    const s = 1 / Math.hypot(b, c, d);
    [a, b, c, d] = [0, b * s, c * s, d * s];
  } else a = Math.sqrt(a);
  return [
    a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c),
    2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b),
    2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b,
  ];
}

type Geometry = Pick<Volume, 'spacing' | 'direction' | 'origin'>;

const PIXDIM_FIELDS = ['pixdim[1]', 'pixdim[2]', 'pixdim[3]'] as const;
const SFORM_FIELDS: GeometryFields = {
  spacing: ['sform axis 0 (srow_x/y/z[0])', 'sform axis 1 (srow_x/y/z[1])', 'sform axis 2 (srow_x/y/z[2])'],
  origin: 'sform offset (srow_x/y/z[3])',
  direction: 'sform',
};
const QFORM_FIELDS: GeometryFields = { spacing: PIXDIM_FIELDS, origin: 'qoffset_x/y/z', direction: 'qform (quatern_b/c/d)' };
/** How far past 1 the squared length of (quatern_b, c, d) may be: float32 rounding, never a real rotation. */
const QUATERNION_TOLERANCE = 1e-3;

/** RAS row-major 3×4 voxel → world → the LPS 4×4 one (first two rows negated). */
function rasToLps(m: readonly number[]): number[] {
  return [-m[0], -m[1], -m[2], -m[3], -m[4], -m[5], -m[6], -m[7], m[8], m[9], m[10], m[11], 0, 0, 0, 1];
}

/**
 * Voxel sizes (mm) from pixdim[1…3], as the qform and method 1 use them: absolute values; an axis beyond dim[0]
 * (a 2D image's third) whose pixdim is 0 or not finite gets 1, as nifti1_io gives it.
 */
function pixdimSpacing(h: NiftiHeader, unit: number): Vec3 {
  return [1, 2, 3].map((i) => {
    const p = Math.abs(h.pixdim[i]);
    return (i > h.dim[0] && !(p > 0 && Number.isFinite(p)) ? 1 : p) * unit;
  }) as Vec3;
}

/** The sform's geometry (LPS), or an InvalidImageError naming what is wrong with it. */
function sformGeometry(h: NiftiHeader, unit: number): Geometry {
  ['srow_x', 'srow_y', 'srow_z'].forEach((name, row) => {
    const bad = h.srow.slice(4 * row, 4 * row + 4).find((x) => !Number.isFinite(x));
    if (bad !== undefined) throw new InvalidImageError(`NIfTI ${name} holds ${bad}`);
  });
  if (h.srow.every((x) => x === 0)) throw new InvalidImageError('NIfTI sform is all zeros (srow_x, srow_y, srow_z)');
  const g = geometryFromAffine(rasToLps(h.srow.map((x) => x * unit)));
  checkGeometry(g, 'NIfTI', SFORM_FIELDS);
  return g;
}

/** The qform's geometry (LPS; qfac = sign of pixdim[0], 0 counting as +1), or an InvalidImageError naming the field. */
function qformGeometry(h: NiftiHeader, unit: number, spacing: Vec3): Geometry {
  const named: Array<[string, number]> = [
    ['quatern_b', h.quatern[0]], ['quatern_c', h.quatern[1]], ['quatern_d', h.quatern[2]],
    ['qoffset_x', h.qoffset[0]], ['qoffset_y', h.qoffset[1]], ['qoffset_z', h.qoffset[2]],
  ];
  for (const [name, x] of named) if (!Number.isFinite(x)) throw new InvalidImageError(`NIfTI ${name} is ${x}`);
  const length = Math.hypot(...h.quatern);
  if (!(length * length <= 1 + QUATERNION_TOLERANCE)) {
    throw new InvalidImageError(`NIfTI quatern_b/c/d (${h.quatern.join(', ')}) has length ${+length.toPrecision(4)}: the vector part of a unit quaternion is at most 1 long`);
  }
  const r = quaternionToRotation(h.quatern);
  const d = [spacing[0], spacing[1], spacing[2] * (h.pixdim[0] < 0 ? -1 : 1)];
  const m = [0, 1, 2].flatMap((row) => [r[3 * row] * d[0], r[3 * row + 1] * d[1], r[3 * row + 2] * d[2], h.qoffset[row] * unit]);
  const g = geometryFromAffine(rasToLps(m));
  checkGeometry(g, 'NIfTI', QFORM_FIELDS);
  return g;
}

/**
 * The LPS geometry the standard says to use, each field checked (`checkGeometry`) before any voxel is read:
 * the sform when sform_code > 0; the qform when sform_code is 0 and qform_code > 0, or when the sform is invalid
 * and a valid qform is there (qfac = sign of pixdim[0]); pixdim scaling alone (method 1: RAS axes, origin 0) when
 * both codes are 0. pixdim[1…dim[0]] must be valid voxel sizes in every case. Each fallback adds a warning.
 */
function niftiGeometry(h: NiftiHeader, warnings: string[]): Geometry {
  const unit = { 1: 1000, 3: 0.001 }[h.xyztUnits & 7] ?? 1; // meter, micron → mm; mm or unknown stay
  const spacing = pixdimSpacing(h, unit);
  checkSpacing(spacing, 'NIfTI', PIXDIM_FIELDS);
  if (h.sformCode > 0) {
    let sformError: InvalidImageError;
    try {
      return sformGeometry(h, unit);
    } catch (e) {
      if (!(e instanceof InvalidImageError)) throw e;
      sformError = e;
    }
    if (!(h.qformCode > 0)) throw new InvalidImageError(`${sformError.message} (sform_code ${h.sformCode}; qform_code is ${h.qformCode}: no qform to fall back on)`);
    let qform: Geometry;
    try {
      qform = qformGeometry(h, unit, spacing);
    } catch (e) {
      if (!(e instanceof InvalidImageError)) throw e;
      throw new InvalidImageError(`${sformError.message}, and the qform to fall back on is invalid too: ${e.message}`);
    }
    warnings.push(`NIfTI sform refused (${sformError.message.replace(/^NIfTI /, '')}): geometry from the qform (qform_code ${h.qformCode}) instead`);
    return qform;
  }
  if (h.qformCode > 0) {
    const qform = qformGeometry(h, unit, spacing);
    warnings.push(`NIfTI sform_code is ${h.sformCode}: geometry from the qform (qform_code ${h.qformCode})`);
    return qform;
  }
  warnings.push(`NIfTI sform_code and qform_code are both 0: geometry from pixdim alone (NIfTI method 1: axes along RAS, origin 0)`);
  return { spacing, direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1], origin: [0, 0, 0] };
}

/**
 * Reads a single-file NIfTI-1 or NIfTI-2 image (gzipped or not, either endianness) into a `Volume`:
 * data i-fastest as stored, geometry in LPS mm. Sizes are checked before anything large is allocated:
 * decompressed bytes against `limits.maxDecompressedBytes`, declared voxels against `limits.maxVoxels`, and the
 * bytes the header needs against the bytes present. `scl_slope`/`scl_inter` are applied when the slope is
 * finite, non-zero and not the identity; the data then becomes Float32Array (Float64Array for float64 files).
 * Geometry follows the standard's order (see `niftiGeometry`) and is checked field by field before the voxels
 * are read; float voxels that are all NaN/Inf are refused. Each fallback (qform for an invalid sform, qform or
 * pixdim alone when the codes say so) and partly NaN/Inf float data is reported through `onWarning`, once the
 * file has been read. Throws InvalidImageError for malformed, unsupported or geometrically invalid files
 * (naming the field: `NIfTI pixdim[2] is NaN`, `NIfTI srow_x holds NaN`, `NIfTI sform is rank-deficient: …`),
 * LimitExceededError past a limit.
 */
export function readNifti(
  bytes: Uint8Array,
  opts: { limits?: Partial<ReadLimits>; onWarning?: (message: string) => void } = {},
): Volume {
  const limits = resolveLimits(opts.limits);
  if (isGzip(bytes)) bytes = gunzipBounded(bytes, limits.maxDecompressedBytes, 'NIfTI .nii.gz file');
  const h = parseHeader(bytes);
  const dims = spatialDims(h);
  const count = checkVoxelCount(dims, limits, 'NIfTI header');
  const type = DATATYPES.find((t) => t.code === h.datatype);
  if (!type) {
    const name = UNSUPPORTED_DATATYPES[h.datatype];
    throw new InvalidImageError(
      `NIfTI datatype ${h.datatype}${name ? ` (${name})` : ''} is not supported: expected one of ${DATATYPES.map((t) => t.name).join(', ')}`,
    );
  }
  const headerSize = h.version === 1 ? NIFTI1_SIZE : NIFTI2_SIZE;
  if (!(Number.isInteger(h.voxOffset) && h.voxOffset >= headerSize)) {
    throw new InvalidImageError(`NIfTI vox_offset ${h.voxOffset} is invalid: expected an integer of at least ${headerSize}`);
  }
  const needed = h.voxOffset + count * type.ctor.BYTES_PER_ELEMENT;
  if (bytes.length < needed) {
    throw new InvalidImageError(
      `NIfTI file is truncated: expected ${needed} bytes (${dims.join('×')} ${type.name} voxels from offset ${h.voxOffset}) but only ${bytes.length} are present`,
    );
  }
  const warnings: string[] = [];
  const geometry = niftiGeometry(h, warnings);
  let data = decodeVoxels(bytes, h.voxOffset, type.ctor, count, h.littleEndian);
  const slope = h.sclSlope;
  const inter = Number.isFinite(h.sclInter) ? h.sclInter : 0;
  if (Number.isFinite(slope) && slope !== 0 && (slope !== 1 || inter !== 0)) {
    const scaled = data instanceof Float64Array ? new Float64Array(count) : new Float32Array(count);
    for (let v = 0; v < count; v++) scaled[v] = data[v] * slope + inter;
    data = scaled;
  }
  const values = checkVoxelValues(data, 'NIfTI');
  if (values) warnings.push(values);
  for (const w of warnings) opts.onWarning?.(w);
  return { data, dims, ...geometry };
}

/**
 * The NIfTI quaternion (b, c, d) and qfac of a RAS direction matrix (row-major, columns = index axes),
 * orthonormal up to rounding. An improper matrix (det < 0) gets qfac −1 and its third column negated first.
 */
function rotationToQuaternion(r: Mat3): { quatern: Vec3; qfac: 1 | -1 } {
  const det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
  const qfac = det < 0 ? -1 : 1;
  const [r11, r12, r13, r21, r22, r23, r31, r32, r33] = [r[0], r[1], r[2] * qfac, r[3], r[4], r[5] * qfac, r[6], r[7], r[8] * qfac];
  // Shepperd's method, as nifti_mat44_to_quatern: divide by the largest of 4a², 4b², 4c², 4d².
  let a = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    [b, c, d] = [(0.25 * (r32 - r23)) / a, (0.25 * (r13 - r31)) / a, (0.25 * (r21 - r12)) / a];
  } else if (1 + r11 - (r22 + r33) > 1) {
    b = 0.5 * Math.sqrt(1 + r11 - (r22 + r33));
    [c, d, a] = [(0.25 * (r12 + r21)) / b, (0.25 * (r13 + r31)) / b, (0.25 * (r32 - r23)) / b];
  } else if (1 + r22 - (r11 + r33) > 1) {
    c = 0.5 * Math.sqrt(1 + r22 - (r11 + r33));
    [b, d, a] = [(0.25 * (r12 + r21)) / c, (0.25 * (r23 + r32)) / c, (0.25 * (r13 - r31)) / c];
  } else {
    d = 0.5 * Math.sqrt(1 + r33 - (r11 + r22));
    [b, c, a] = [(0.25 * (r13 + r31)) / d, (0.25 * (r23 + r32)) / d, (0.25 * (r21 - r12)) / d];
  }
  return { quatern: (a < 0 ? [-b, -c, -d] : [b, c, d]) as Vec3, qfac };
}

/**
 * Writes a `Volume` (data i-fastest, geometry LPS mm) as a single-file NIfTI-1 image in the host's byte order:
 * datatype from the typed array, sform (code 1, scanner) and qform (code 1, same geometry, qfac for improper
 * directions) both set, units mm, scl_slope 1. Gzipped unless `gzip: false`. The volume is written on exactly
 * its own grid; NIfTI-1 limits each dim to 32767.
 */
export function writeNifti(vol: Volume, opts: { gzip?: boolean } = {}): Uint8Array {
  const type = DATATYPES.find((t) => vol.data instanceof t.ctor);
  if (!type) throw new TypeError(`cannot write ${vol.data.constructor.name} voxels as NIfTI`);
  if (vol.data.length !== voxelCount(vol.dims)) throw new RangeError(`data has ${vol.data.length} voxels, dims ${vol.dims.join('×')} need ${voxelCount(vol.dims)}`);
  if (vol.dims.some((d) => d > 32767)) throw new RangeError(`dims ${vol.dims.join('×')} exceed NIfTI-1's 32767 per axis`);
  const voxOffset = NIFTI1_SIZE + 4; // header + empty extension flag
  const out = new Uint8Array(voxOffset + vol.data.byteLength);
  const view = new DataView(out.buffer);
  const le = HOST_LITTLE_ENDIAN;
  const [dx, dy, dz] = vol.spacing;
  const dir = vol.direction;
  const ras: Mat3 = [-dir[0], -dir[1], -dir[2], -dir[3], -dir[4], -dir[5], dir[6], dir[7], dir[8]];
  const origin = [-vol.origin[0], -vol.origin[1], vol.origin[2]];
  const { quatern, qfac } = rotationToQuaternion(ras);

  view.setInt32(0, NIFTI1_SIZE, le);
  [3, ...vol.dims, 1, 1, 1, 1].forEach((d, k) => view.setInt16(40 + 2 * k, d, le));
  view.setInt16(70, type.code, le);
  view.setInt16(72, 8 * type.ctor.BYTES_PER_ELEMENT, le);
  [qfac, dx, dy, dz, 1, 1, 1, 1].forEach((p, k) => view.setFloat32(76 + 4 * k, p, le));
  view.setFloat32(108, voxOffset, le);
  view.setFloat32(112, 1, le); // scl_slope
  out[123] = 2; // xyzt_units: mm
  view.setInt16(252, 1, le); // qform_code: scanner
  view.setInt16(254, 1, le); // sform_code: scanner
  [...quatern, ...origin].forEach((q, k) => view.setFloat32(256 + 4 * k, q, le));
  for (let row = 0; row < 3; row++) {
    const srow = [ras[3 * row] * dx, ras[3 * row + 1] * dy, ras[3 * row + 2] * dz, origin[row]];
    srow.forEach((x, k) => view.setFloat32(280 + 16 * row + 4 * k, x, le));
  }
  out.set([0x6e, 0x2b, 0x31, 0], 344); // magic "n+1\0"
  out.set(voxelBytes(vol.data), voxOffset);
  return opts.gzip === false ? out : gzip(out, { labels: vol.data instanceof Uint8Array });
}
