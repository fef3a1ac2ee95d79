import { cross, dot } from '@vista3d/models';
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
    const row = o.slice(0, 3);
    const column = o.slice(3, 6);
    const distance = Math.abs(dot(d, cross(row, column)));
    const c = Math.round(dot(d, row) / p.pixelSpacing[1]);
    const r = Math.round(dot(d, column) / p.pixelSpacing[0]);
    if (distance < best.distance && r >= 0 && c >= 0 && r < p.rows && c < p.columns) best = { distance, n, r, c: c + r * p.columns };
  });
  if (best.n < 0) return 0;
  const label = cs.cache.getImage(lm.imageIds[best.n])?.voxelManager.getScalarData()[best.c] ?? 0;
  if (label > 0) segmentationService.setActiveSegment(segmentationId, label);
  ctx.store.set({ selectedLabel: label > 0 ? label : null });
  return label;
}
