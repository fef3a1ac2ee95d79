import { indexToWorld, stackGeometry, worldToIndex, type SlicePlane, type StackGeometry, type Vec3, type Volume } from '@vista3d/models';

/** The part of Cornerstone3D's `imagePlaneModule` metadata we read (as the viewer's metadata provider gives it). */
export interface ImagePlaneMeta {
  rows: number;
  columns: number;
  imagePositionPatient: number[];
  rowCosines: number[];
  columnCosines: number[];
  /** Spacing between rows (PixelSpacing[0]) and between columns (PixelSpacing[1]), mm. */
  rowPixelSpacing: number;
  columnPixelSpacing: number;
}

export function planeFromMeta(name: string, m: ImagePlaneMeta): SlicePlane {
  return {
    name,
    rows: m.rows,
    columns: m.columns,
    orientation: [...m.rowCosines, ...m.columnCosines],
    pixelSpacing: [m.rowPixelSpacing, m.columnPixelSpacing],
    position: [m.imagePositionPatient[0], m.imagePositionPatient[1], m.imagePositionPatient[2]],
  };
}

/**
 * The voxel grid the server builds from the same series (slices sorted along the normal, i along rows,
 * j down columns): the grid point prompts are expressed in.
 */
export function seriesGeometry(planes: readonly SlicePlane[]): StackGeometry {
  return stackGeometry(planes);
}

/** LPS world (mm) → the nearest voxel [i, j, k] of `g`, or null outside it. */
export function worldToVoxel(g: Pick<Volume, 'dims' | 'spacing' | 'direction' | 'origin'>, world: readonly number[]): Vec3 | null {
  const ijk = worldToIndex(g, world).map(Math.round) as Vec3;
  return ijk.every((v, a) => v >= 0 && v < g.dims[a]) ? ijk : null;
}

/** A rectangle of an image's pixels: rows r0 … r0 + rows − 1, columns c0 … c0 + columns − 1. */
export interface PixelWindow {
  r0: number;
  c0: number;
  rows: number;
  columns: number;
}

/** The whole image. */
export const fullWindow = (plane: Pick<SlicePlane, 'rows' | 'columns'>): PixelWindow => ({ r0: 0, c0: 0, rows: plane.rows, columns: plane.columns });

/**
 * The labels of `labels` (a label map on the server's grid or a box of it, LPS mm, i fastest) at each pixel
 * centre of `plane` (nearest voxel), for the pixels of `window` (default: all), row-major within the window
 * (index (r − r0)·window.columns + (c − c0)), as the viewer's labelmap image for that plane stores them.
 * Pixels outside the label volume get `outside`.
 */
export function sampleOnPlane(labels: Volume<Uint8Array>, plane: SlicePlane, outside = 0, window: PixelWindow = fullWindow(plane)): Uint8Array {
  const out = new Uint8Array(window.rows * window.columns);
  const o = plane.orientation;
  const origin = worldToIndex(labels, plane.position);
  // index-space steps of one column (along the row cosine) and one row (along the column cosine)
  const dc = worldToIndex({ ...labels, origin: [0, 0, 0] }, [o[0] * plane.pixelSpacing[1], o[1] * plane.pixelSpacing[1], o[2] * plane.pixelSpacing[1]]);
  const dr = worldToIndex({ ...labels, origin: [0, 0, 0] }, [o[3] * plane.pixelSpacing[0], o[4] * plane.pixelSpacing[0], o[5] * plane.pixelSpacing[0]]);
  const [nx, ny, nz] = labels.dims;
  let q = 0;
  for (let r = window.r0; r < window.r0 + window.rows; r++) {
    for (let c = window.c0; c < window.c0 + window.columns; c++, q++) {
      const i = Math.round(origin[0] + r * dr[0] + c * dc[0]);
      const j = Math.round(origin[1] + r * dr[1] + c * dc[1]);
      const k = Math.round(origin[2] + r * dr[2] + c * dc[2]);
      out[q] = i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz ? labels.data[i + nx * (j + ny * k)] : outside;
    }
  }
  return out;
}

/** Distance (mm) a box corner may lie off a plane on the far side and still count as touching it: rounding only. */
const PLANE_TOLERANCE_MM = 1e-3;

/**
 * The pixels of `plane` whose centres can fall on a voxel of `box` (a volume's grid: dims, spacing, direction,
 * origin; LPS mm), or null when the plane does not cross it. The box is the voxels' extent (index −0.5 … n − 0.5 on
 * each axis, where nearest-voxel sampling lands inside); its 8 corners are projected onto the plane's row and column
 * pixel axes and its normal: all corners on one side of the plane → null; else the pixel rectangle bounding the
 * projected corners, one pixel wider on each side for rounding, clamped to the image. Every pixel outside it samples
 * as outside the box (sampleOnPlane), so sampling only the window gives the same labels.
 */
export function planeWindow(box: Pick<Volume, 'dims' | 'spacing' | 'direction' | 'origin'>, plane: SlicePlane): PixelWindow | null {
  const o = plane.orientation;
  const row = [o[0], o[1], o[2]];
  const col = [o[3], o[4], o[5]];
  const normal = [row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2], row[0] * col[1] - row[1] * col[0]];
  const nn = Math.hypot(normal[0], normal[1], normal[2]) || 1;
  let above = 0;
  let below = 0;
  let [rMin, rMax, cMin, cMax] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let corner = 0; corner < 8; corner++) {
    const ijk = [0, 1, 2].map((a) => ((corner >> a) & 1 ? box.dims[a] - 0.5 : -0.5));
    const w = indexToWorld(box, ijk);
    const rel = [w[0] - plane.position[0], w[1] - plane.position[1], w[2] - plane.position[2]];
    const d = (rel[0] * normal[0] + rel[1] * normal[1] + rel[2] * normal[2]) / nn;
    if (d > PLANE_TOLERANCE_MM) above++;
    else if (d < -PLANE_TOLERANCE_MM) below++;
    const c = (rel[0] * row[0] + rel[1] * row[1] + rel[2] * row[2]) / plane.pixelSpacing[1];
    const r = (rel[0] * col[0] + rel[1] * col[1] + rel[2] * col[2]) / plane.pixelSpacing[0];
    [rMin, rMax, cMin, cMax] = [Math.min(rMin, r), Math.max(rMax, r), Math.min(cMin, c), Math.max(cMax, c)];
  }
  if (above === 8 || below === 8) return null;
  const r0 = Math.max(0, Math.floor(rMin) - 1);
  const r1 = Math.min(plane.rows - 1, Math.ceil(rMax) + 1);
  const c0 = Math.max(0, Math.floor(cMin) - 1);
  const c1 = Math.min(plane.columns - 1, Math.ceil(cMax) + 1);
  if (r0 > r1 || c0 > c1) return null;
  return { r0, c0, rows: r1 - r0 + 1, columns: c1 - c0 + 1 };
}
