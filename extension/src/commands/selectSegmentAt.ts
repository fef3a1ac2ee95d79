import { planeFromMeta } from '../geometry/planes.ts';
import type { CommandContext } from './context.ts';

/**
 * Selects the segment under a world position (LPS mm): the labelmap image whose source plane holds the point
 * (within half a slice), at the nearest pixel. Returns the label, or 0 when there is none.
 */
export function selectSegmentAt(ctx: CommandContext, { world }: { world: [number, number, number] }): number {
  const segmentationId = ctx.store.get().segmentationId;
  if (!segmentationId) return 0;
  const { segmentationService } = ctx.services;
  const cs = ctx.cs();
  const lm = segmentationService.getSegmentation(segmentationId)?.representationData?.Labelmap;
  if (!lm) return 0;
  let best = { distance: Infinity, n: -1, r: 0, c: 0 };
  lm.imageIds.forEach((_: string, n: number) => {
    const p = planeFromMeta(lm.referencedImageIds[n], cs.metaData.get('imagePlaneModule', lm.referencedImageIds[n]));
    const o = p.orientation;
    const d = [world[0] - p.position[0], world[1] - p.position[1], world[2] - p.position[2]];
    const normal = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
    const distance = Math.abs(d[0] * normal[0] + d[1] * normal[1] + d[2] * normal[2]);
    const c = Math.round((d[0] * o[0] + d[1] * o[1] + d[2] * o[2]) / p.pixelSpacing[1]);
    const r = Math.round((d[0] * o[3] + d[1] * o[4] + d[2] * o[5]) / p.pixelSpacing[0]);
    if (distance < best.distance && r >= 0 && c >= 0 && r < p.rows && c < p.columns) best = { distance, n, r, c: c + r * p.columns };
  });
  if (best.n < 0) return 0;
  const label = cs.cache.getImage(lm.imageIds[best.n])?.voxelManager.getScalarData()[best.c] ?? 0;
  if (label > 0) segmentationService.setActiveSegment(segmentationId, label);
  ctx.store.set({ selectedLabel: label > 0 ? label : null });
  return label;
}
