import { cross, dot, normalize, type Mat3, type Vec3 } from './volume.ts';
import { InvalidImageError } from '../errors.ts';

/**
 * The geometry of a stack of image planes (DICOM slices): one place, used by the DICOM reader on the server and
 * by the viewer extension on the display set it shows, so both index the same voxels.
 *
 * Layout of the stack as a Volume: i runs along a row (direction column 0 = the row cosine of
 * ImageOrientationPatient), j down the rows (column 1 = the column cosine), k across slices sorted by
 * ImagePositionPatient projected on the normal row × column, so k increases along the normal. World is LPS
 * in mm; origin = ImagePositionPatient of slice k = 0; spacing = [PixelSpacing[1], PixelSpacing[0], step].
 *
 * Slice axis policy: the k direction is the normal when the stack drifts sideways by at most 1% of a pixel over
 * its whole length (rounding in the headers). A larger drift along a straight line with uniform steps (gantry
 * tilt) is kept as it is: direction column 2 is then the unit step between slices, not orthogonal to the other
 * two (a sheared grid, still exact world positions). Tilts over 45° and slices off the line by more than
 * max(0.01 mm, 1% of the step) are errors.
 */
export interface SlicePlane {
  /** For messages: a file name or an image id. */
  name: string;
  rows: number;
  columns: number;
  /** ImageOrientationPatient: row cosine then column cosine (LPS). */
  orientation: readonly number[];
  /** PixelSpacing: [between rows, between columns] in mm. */
  pixelSpacing: readonly number[];
  /** ImagePositionPatient (LPS mm) of the first transmitted pixel's centre. */
  position: Vec3;
}

export interface StackGeometry {
  dims: Vec3;
  spacing: Vec3;
  direction: Mat3;
  origin: Vec3;
  /** Indices of the input planes in k order. */
  order: number[];
}

/** Cosines (ImageOrientationPatient) and mm (PixelSpacing) that must agree between slices. */
const SAME_ATTRIBUTE_TOLERANCE = 1e-4;
/** Closest two slices may be along the normal (mm) before they count as one position. */
const DUPLICATE_POSITION_MM = 0.01;
/** How far a slice may sit from where a uniform straight stack puts it (mm): 1% of the step, at least 0.01 mm. */
const stackTolerance = (step: number) => Math.max(0.01, 0.01 * step);

interface Slice extends SlicePlane {
  index: number;
  /** Position along the slice normal (mm). */
  along: number;
}

export function stackGeometry(planes: readonly SlicePlane[], sliceThickness?: number): StackGeometry {
  if (!planes.length) throw new InvalidImageError('no image planes');
  const first = planes[0];
  const { rows, columns, orientation, pixelSpacing } = first;
  if (!(rows > 0 && columns > 0)) throw new InvalidImageError(`${first.name} declares ${rows} rows × ${columns} columns`);
  for (const p of planes) {
    same(first, p, 'Rows', [rows], [p.rows]);
    same(first, p, 'Columns', [columns], [p.columns]);
    same(first, p, 'ImageOrientationPatient', orientation, p.orientation);
    same(first, p, 'PixelSpacing', pixelSpacing, p.pixelSpacing);
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
  const slices: Slice[] = planes.map((p, index) => ({ ...p, index, along: dot(p.position, normal) })).sort((a, b) => a.along - b.along);
  const { axis, step } = sliceAxis(slices, normal, Math.min(...pixelSpacing), sliceThickness);
  return {
    dims: [columns, rows, planes.length],
    spacing: [pixelSpacing[1], pixelSpacing[0], step],
    direction: [row[0], column[0], axis[0], row[1], column[1], axis[1], row[2], column[2], axis[2]],
    origin: slices[0].position,
    order: slices.map((s) => s.index),
  };
}

function same(reference: SlicePlane, plane: SlicePlane, keyword: string, expected: readonly number[], actual: readonly number[]): void {
  if (expected.some((v, i) => !(Math.abs(v - actual[i]) <= SAME_ATTRIBUTE_TOLERANCE))) {
    throw new InvalidImageError(`${keyword} differs between slices: ${expected.join('\\')} in ${reference.name}, ${actual.join('\\')} in ${plane.name}`);
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

