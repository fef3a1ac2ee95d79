import { InvalidImageError } from '../errors.ts';

/**
 * The one volume type of the project.
 *
 * World convention: **LPS** (patient Left, Posterior, Superior, in mm), as DICOM and Cornerstone3D use.
 * NIfTI (RAS) and NRRD (any `space`) are converted to LPS at the reader/writer border, nowhere else.
 *
 * Layout: `data[i + dims[0] * (j + dims[1] * k)]` is voxel (i, j, k): i varies fastest (NIfTI/ITK order).
 * Geometry: world = origin + direction · diag(spacing) · [i, j, k]ᵀ, where `direction` is a row-major 3×3
 * matrix whose **column** c is the unit LPS vector of index axis c (ITK's convention), `spacing` the voxel
 * size in mm along each index axis, and `origin` the LPS position of the centre of voxel (0, 0, 0).
 */
export type VoxelArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

export type Vec3 = [number, number, number];
/** Row-major 3×3 matrix. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];
/** Row-major 4×4 matrix. */
export type Mat4 = number[];

export interface Volume<T extends VoxelArray = VoxelArray> {
  data: T;
  dims: Vec3;
  spacing: Vec3;
  direction: Mat3;
  origin: Vec3;
}

export const IDENTITY3: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function voxelCount(dims: readonly number[]): number {
  return dims[0] * dims[1] * dims[2];
}

/** Voxel index (i, j, k), possibly fractional → LPS world position in mm. */
export function indexToWorld(v: Pick<Volume, 'spacing' | 'direction' | 'origin'>, ijk: readonly number[]): Vec3 {
  const d = v.direction;
  const s0 = ijk[0] * v.spacing[0];
  const s1 = ijk[1] * v.spacing[1];
  const s2 = ijk[2] * v.spacing[2];
  return [
    v.origin[0] + d[0] * s0 + d[1] * s1 + d[2] * s2,
    v.origin[1] + d[3] * s0 + d[4] * s1 + d[5] * s2,
    v.origin[2] + d[6] * s0 + d[7] * s1 + d[8] * s2,
  ];
}

/** LPS world position in mm → continuous voxel index (i, j, k). */
export function worldToIndex(v: Pick<Volume, 'spacing' | 'direction' | 'origin'>, xyz: readonly number[]): Vec3 {
  const inv = invert3(v.direction);
  const dx = xyz[0] - v.origin[0];
  const dy = xyz[1] - v.origin[1];
  const dz = xyz[2] - v.origin[2];
  return [
    (inv[0] * dx + inv[1] * dy + inv[2] * dz) / v.spacing[0],
    (inv[3] * dx + inv[4] * dy + inv[5] * dz) / v.spacing[1],
    (inv[6] * dx + inv[7] * dy + inv[8] * dz) / v.spacing[2],
  ];
}

/** The 4×4 voxel-index → LPS affine (row-major). */
export function affineOf(v: Pick<Volume, 'spacing' | 'direction' | 'origin'>): Mat4 {
  const d = v.direction;
  const s = v.spacing;
  return [
    d[0] * s[0], d[1] * s[1], d[2] * s[2], v.origin[0],
    d[3] * s[0], d[4] * s[1], d[5] * s[2], v.origin[1],
    d[6] * s[0], d[7] * s[1], d[8] * s[2], v.origin[2],
    0, 0, 0, 1,
  ];
}

/**
 * Splits a 4×4 voxel-index → world affine (row-major, any handedness) into spacing, direction and origin.
 * Nothing is repaired: a column of zero length gives spacing 0 and a zero direction column, a non-finite entry
 * gives NaN, and `checkGeometry` then refuses the result with the header field's name.
 */
export function geometryFromAffine(a: readonly number[]): Pick<Volume, 'spacing' | 'direction' | 'origin'> {
  const cols: Vec3[] = [0, 1, 2].map((c) => [a[c], a[4 + c], a[8 + c]] as Vec3);
  const spacing = cols.map((c) => Math.hypot(c[0], c[1], c[2])) as Vec3;
  const [u, w, z] = cols.map((c, i) => (spacing[i] > 0 ? (c.map((x) => x / spacing[i]) as Vec3) : ([0, 0, 0] as Vec3)));
  return {
    spacing,
    direction: [u[0], w[0], z[0], u[1], w[1], z[1], u[2], w[2], z[2]],
    origin: [a[3], a[7], a[11]],
  };
}

// ---- the one geometry check of every reader ----------------------------------------------------------------

/**
 * Smallest voxel size a reader accepts, in mm: 1 µm, finer than any CT or MR grid VISTA3D segments. A header
 * saying 1e-30 (or 0) describes no scanner's grid, and every step between voxels would round to nothing.
 */
export const MIN_SPACING_MM = 1e-3;
/** Largest voxel size a reader accepts, in mm: 10 m, more than any patient is long. */
export const MAX_SPACING_MM = 1e4;
/** How far from 1 the length of a direction column may be (readers normalise them; rounding stays far below). */
export const DIRECTION_UNIT_TOLERANCE = 1e-3;
/**
 * Smallest |det| of the direction matrix (unit columns): the volume of the parallelepiped its three axes span.
 * 1 for orthonormal axes, cos θ for a gantry tilt θ (0.71 at the 45° that `stackGeometry` allows); below 0.1 the
 * axes are (nearly) linearly dependent, and world ↔ index cannot be inverted with any accuracy.
 */
export const MIN_DIRECTION_DETERMINANT = 0.1;

/** The header fields a geometry came from, named in the messages of `checkGeometry`. */
export interface GeometryFields {
  /** The field giving the voxel size along index axis i, 0, 1, 2 (e.g. `pixdim[1]`, `pixdim[2]`, `pixdim[3]`). */
  spacing: readonly [string, string, string];
  /** The field giving the origin (e.g. `qoffset_x/y/z`, `ImagePositionPatient`). */
  origin: string;
  /** The field giving the direction (e.g. `sform`, `space directions`). */
  direction: string;
}

/** Generic field names, for a geometry that came from no header. */
export const VOLUME_FIELDS: GeometryFields = { spacing: ['spacing[0]', 'spacing[1]', 'spacing[2]'], origin: 'origin', direction: 'direction' };

/** `NaN`, `Infinity` or `-Infinity`: the first non-finite value of a list, for messages; null when all are finite. */
function nonFinite(values: readonly number[]): string | null {
  const bad = values.find((x) => !Number.isFinite(x));
  return bad === undefined ? null : String(bad);
}

/**
 * Throws InvalidImageError unless a geometry (spacing in mm per index axis; direction row-major 3×3 with columns
 * the index axes' unit vectors; origin in world mm, any world frame) describes a real grid: each spacing finite
 * and from MIN_SPACING_MM to MAX_SPACING_MM, the origin finite, the direction finite with columns of unit length
 * (within DIRECTION_UNIT_TOLERANCE) that are linearly independent (|det| ≥ MIN_DIRECTION_DETERMINANT). The
 * message starts with `what` (the format, e.g. `NIfTI`) and names the field from `fields`, e.g.
 * `NIfTI pixdim[2] is NaN`, `NIfTI sform is rank-deficient: …`, `DICOM ImagePositionPatient holds Infinity`.
 * Readers call it before they allocate voxel data.
 */
export function checkGeometry(g: Pick<Volume, 'spacing' | 'direction' | 'origin'>, what: string, fields: GeometryFields = VOLUME_FIELDS): void {
  checkSpacing(g.spacing, what, fields.spacing);
  const origin = nonFinite(g.origin);
  if (origin) throw new InvalidImageError(`${what} ${fields.origin} holds ${origin}: the origin must be 3 finite numbers`);
  const d = g.direction;
  const direction = nonFinite(d);
  if (direction) throw new InvalidImageError(`${what} ${fields.direction} holds ${direction}: the direction must be 9 finite numbers`);
  for (let c = 0; c < 3; c++) {
    const length = Math.hypot(d[c], d[3 + c], d[6 + c]);
    if (!(Math.abs(length - 1) <= DIRECTION_UNIT_TOLERANCE)) {
      throw new InvalidImageError(`${what} ${fields.direction} axis ${c} has length ${length}: direction axes must be unit vectors`);
    }
  }
  const det = Math.abs(dot([d[0], d[3], d[6]], cross([d[1], d[4], d[7]], [d[2], d[5], d[8]])));
  if (!(det >= MIN_DIRECTION_DETERMINANT)) {
    throw new InvalidImageError(
      `${what} ${fields.direction} is rank-deficient: its axes are (nearly) linearly dependent (|det| of the unit axes is ${+det.toPrecision(3)}, at least ${MIN_DIRECTION_DETERMINANT} is needed)`,
    );
  }
}

/** The spacing part of `checkGeometry` (mm per index axis), for a reader that checks spacing fields on their own. */
export function checkSpacing(spacing: readonly number[], what: string, fields: readonly string[] = VOLUME_FIELDS.spacing): void {
  spacing.forEach((s, i) => {
    if (!Number.isFinite(s)) throw new InvalidImageError(`${what} ${fields[i]} is ${s}`);
    if (!(Math.abs(s) >= MIN_SPACING_MM && Math.abs(s) <= MAX_SPACING_MM)) {
      throw new InvalidImageError(`${what} ${fields[i]} is ${s} mm: a voxel size must be from ${MIN_SPACING_MM} to ${MAX_SPACING_MM} mm`);
    }
  });
}

/**
 * One pass over float voxel data (Float32Array, Float64Array; integer arrays are skipped, they cannot hold NaN):
 * throws InvalidImageError when every voxel is NaN or ±Infinity (`NIfTI: all 24 voxels are NaN/Inf`), returns a
 * warning when some are (`NIfTI: 3 of 24 voxels are NaN/Inf; they are left as they are`), else null.
 */
export function checkVoxelValues(data: VoxelArray, what: string): string | null {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return null;
  let bad = 0;
  for (let p = 0; p < data.length; p++) if (!Number.isFinite(data[p])) bad++;
  if (bad === 0) return null;
  if (bad === data.length) throw new InvalidImageError(`${what}: all ${bad} voxels are NaN/Inf`);
  return `${what}: ${bad} of ${data.length} voxels are NaN/Inf; they are left as they are`;
}

export function cross(a: readonly number[], b: readonly number[]): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function dot(a: readonly number[], b: readonly number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function normalize(a: readonly number[]): Vec3 {
  const n = Math.hypot(a[0], a[1], a[2]);
  if (!(n > 0)) throw new RangeError('cannot normalise a zero vector');
  return [a[0] / n, a[1] / n, a[2] / n];
}

export function invert3(m: readonly number[]): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!(Math.abs(det) > 1e-12)) throw new RangeError('singular direction matrix');
  return [
    A / det, -(b * i - c * h) / det, (b * f - c * e) / det,
    B / det, (a * i - c * g) / det, -(a * f - c * d) / det,
    C / det, -(a * h - b * g) / det, (a * e - b * d) / det,
  ];
}

/** Same grid (dims, spacing, direction, origin) within `tol` (mm for origin/spacing, cosine units for direction). */
export function sameGrid(a: Omit<Volume, 'data'>, b: Omit<Volume, 'data'>, tol = 1e-4): boolean {
  const close = (x: readonly number[], y: readonly number[]) => x.every((v, i) => Math.abs(v - y[i]) <= tol);
  return close(a.dims, b.dims) && close(a.spacing, b.spacing) && close(a.direction, b.direction) && close(a.origin, b.origin);
}
