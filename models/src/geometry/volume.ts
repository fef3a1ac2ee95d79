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
 * Columns of zero length (degenerate headers) become unit axes orthogonal to the others.
 */
export function geometryFromAffine(a: readonly number[]): Pick<Volume, 'spacing' | 'direction' | 'origin'> {
  const cols: Vec3[] = [0, 1, 2].map((c) => [a[c], a[4 + c], a[8 + c]] as Vec3);
  const spacing = cols.map((c) => Math.hypot(c[0], c[1], c[2])) as Vec3;
  const units = cols.map((c, i) => (spacing[i] > 0 ? (c.map((x) => x / spacing[i]) as Vec3) : null));
  for (let i = 0; i < 3; i++) {
    if (units[i]) continue;
    const others = units.filter((u, k) => k !== i && u) as Vec3[];
    units[i] = others.length === 2 ? normalize(cross(others[0], others[1])) : ([0, 0, 0].map((_, k) => (k === i ? 1 : 0)) as Vec3);
    spacing[i] = 1;
  }
  const [u, w, z] = units as Vec3[];
  return {
    spacing,
    direction: [u[0], w[0], z[0], u[1], w[1], z[1], u[2], w[2], z[2]],
    origin: [a[3], a[7], a[11]],
  };
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
