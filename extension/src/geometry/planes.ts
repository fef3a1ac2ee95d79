import { stackGeometry, worldToIndex, type SlicePlane, type StackGeometry, type Vec3, type Volume } from '@vista3d/models';

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

/**
 * The labels of `labels` (a label map on the server's grid, LPS) at each pixel centre of `plane` (nearest
 * voxel), row-major (index r·columns + c), as the viewer's labelmap image for that plane stores them.
 * Pixels outside the label volume get `outside`.
 */
export function sampleOnPlane(labels: Volume<Uint8Array>, plane: SlicePlane, outside = 0): Uint8Array {
  const { rows, columns } = plane;
  const out = new Uint8Array(rows * columns);
  const o = plane.orientation;
  const origin = worldToIndex(labels, plane.position);
  // index-space steps of one column (along the row cosine) and one row (along the column cosine)
  const dc = worldToIndex({ ...labels, origin: [0, 0, 0] }, [o[0] * plane.pixelSpacing[1], o[1] * plane.pixelSpacing[1], o[2] * plane.pixelSpacing[1]]);
  const dr = worldToIndex({ ...labels, origin: [0, 0, 0] }, [o[3] * plane.pixelSpacing[0], o[4] * plane.pixelSpacing[0], o[5] * plane.pixelSpacing[0]]);
  const [nx, ny, nz] = labels.dims;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = Math.round(origin[0] + r * dr[0] + c * dc[0]);
      const j = Math.round(origin[1] + r * dr[1] + c * dc[1]);
      const k = Math.round(origin[2] + r * dr[2] + c * dc[2]);
      out[r * columns + c] = i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz ? labels.data[i + nx * (j + ny * k)] : outside;
    }
  }
  return out;
}
