import { rescaledArrayType, type Volume } from '@vista3d/models';
import { planeFromMeta, seriesGeometry } from '../geometry/planes.ts';
import type { DisplaySetLike } from '../commands/context.ts';

/** A source image as Cornerstone3D caches it: its pixels (modality-LUT scaled by the loader, or stored values). */
export interface CachedImage {
  getPixelData?(): ArrayLike<number>;
  voxelManager?: { getScalarData(): ArrayLike<number> };
  /** Set by the DICOM image loader when it applied RescaleSlope / RescaleIntercept to the pixels. */
  preScale?: { scaled?: boolean };
}

export interface VoxelSource {
  metaData: { get(type: string, imageId: string): any };
  /** The cached image, loading it (from the viewer's cache or its data source) when it is not in the cache. */
  image(imageId: string): Promise<CachedImage>;
}

/**
 * The displayed series' voxels as the server reads the same series: geometry from `stackGeometry` of the display
 * set's image planes (slices sorted along the normal; i along a row, j down the rows, k along the normal; LPS mm;
 * i fastest), values = stored × RescaleSlope + RescaleIntercept (what Cornerstone's loader already applied, or
 * applied here from the modality LUT module), in the array type the server's DICOM reader chooses
 * (`rescaledArrayType`). No download: the pixels the viewer holds.
 */
export async function seriesVolume(src: VoxelSource, ds: DisplaySetLike): Promise<Volume> {
  const ids = ds.imageIds;
  const g = seriesGeometry(ids.map((id) => planeFromMeta(id, src.metaData.get('imagePlaneModule', id))));
  const [nx, ny, nz] = g.dims;
  const slice = nx * ny;
  // two passes over the cached pixels: the value range (which array type), then the values
  const slices: { pixels: ArrayLike<number>; slope: number; intercept: number; scale: boolean }[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  let integral = true;
  for (let k = 0; k < nz; k++) {
    const imageId = ids[g.order[k]];
    const image = await src.image(imageId);
    const pixels = image.voxelManager?.getScalarData() ?? image.getPixelData?.();
    if (!pixels || pixels.length !== slice) throw new Error(`Image ${k + 1} of the series holds ${pixels?.length ?? 0} pixels, not ${nx}×${ny}.`);
    const lut = src.metaData.get('modalityLutModule', imageId) ?? {};
    const slope = Number(lut.rescaleSlope ?? 1);
    const intercept = Number(lut.rescaleIntercept ?? 0);
    integral &&= Number.isInteger(slope) && Number.isInteger(intercept);
    const scale = !image.preScale?.scaled;
    let min = Infinity;
    let max = -Infinity;
    for (let p = 0; p < slice; p++) {
      if (pixels[p] < min) min = pixels[p];
      if (pixels[p] > max) max = pixels[p];
    }
    const ends = scale ? [min * slope + intercept, max * slope + intercept] : [min, max];
    lo = Math.min(lo, ...ends);
    hi = Math.max(hi, ...ends);
    slices.push({ pixels, slope, intercept, scale });
  }
  const Out = rescaledArrayType(lo, hi, integral);
  const data = new Out(slice * nz);
  slices.forEach(({ pixels, slope, intercept, scale }, k) => {
    const off = k * slice;
    if (!scale) for (let p = 0; p < slice; p++) data[off + p] = pixels[p];
    else for (let p = 0; p < slice; p++) data[off + p] = pixels[p] * slope + intercept;
  });
  return { data, dims: g.dims, spacing: g.spacing, direction: g.direction, origin: g.origin };
}
