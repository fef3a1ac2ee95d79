import { labelColor, mergeLabels, type MergeRule } from '../geometry/merge.ts';
import { planeFromMeta, sampleOnPlane } from '../geometry/planes.ts';
import type { CommandContext, DisplaySetLike, LabelVolume } from './context.ts';

const SEGMENTATION_LABEL = 'VISTA3D';

/**
 * The labelmap segmentation of VISTA3D's results for a display set: created on first use (one labelmap image
 * per source image, OHIF's stack labelmap) and shown in every viewport that shows the display set.
 */
export async function ensureSegmentation(ctx: CommandContext, ds: DisplaySetLike): Promise<string> {
  const { segmentationService, viewportGridService } = ctx.services;
  const known = ctx.store.get().segmentationId;
  if (known && segmentationService.getSegmentation(known)) return known;
  const segmentationId: string = await segmentationService.createLabelmapForDisplaySet(ds, { label: SEGMENTATION_LABEL, segments: {} });
  for (const [viewportId, vp] of viewportGridService.getState().viewports) {
    if (vp.displaySetInstanceUIDs?.includes(ds.displaySetInstanceUID)) await segmentationService.addSegmentationRepresentation(viewportId, { segmentationId });
  }
  ctx.store.set({ segmentationId });
  return segmentationId;
}

/**
 * Writes a result (a label map on the server's grid, LPS) into the labelmap, image by image: each labelmap
 * image takes the labels at its source image's pixel centres (mapped through world coordinates, so slice order
 * and orientation cannot flip it), merged by `rule`. Adds a named, coloured segment for each new label.
 * Returns the number of voxels changed.
 */
export async function applyResult(ctx: CommandContext, ds: DisplaySetLike, labels: LabelVolume, rule: MergeRule): Promise<number> {
  const { segmentationService } = ctx.services;
  const cs = ctx.cs();
  const segmentationId = await ensureSegmentation(ctx, ds);
  const seg = segmentationService.getSegmentation(segmentationId);
  const lm = seg.representationData.Labelmap;
  const imageIds: string[] = lm.imageIds;
  const referenced: string[] = lm.referencedImageIds ?? ds.imageIds;
  const notProcessed = 255;
  const present = new Set<number>();
  /** Labels the labelmap holds after the merge. */
  const held = new Set<number>();
  let changed = 0;
  imageIds.forEach((labelmapImageId, n) => {
    const refId = referenced[n];
    const plane = planeFromMeta(refId, cs.metaData.get('imagePlaneModule', refId));
    const incoming = sampleOnPlane(labels, plane, rule.kind === 'point' ? notProcessed : 0);
    for (const v of incoming) if (v !== 0 && v !== notProcessed) present.add(v);
    const image = cs.cache.getImage(labelmapImageId);
    if (!image) throw new Error(`labelmap image ${labelmapImageId} is not in the cache`);
    const data = image.voxelManager.getScalarData();
    const c = mergeLabels(data, incoming, rule, notProcessed);
    if (c) image.voxelManager.setScalarData?.(data);
    changed += c;
    for (let p = 0; p < data.length; p++) if (data[p]) held.add(data[p]);
  });
  const names = ctx.store.get().server.info?.label_dictionary ?? {};
  const existing = segmentationService.getSegmentation(segmentationId).segments ?? {};
  for (const label of [...present].sort((a, b) => a - b)) {
    // Keep a name the user gave; replace none, or a placeholder OHIF / Cornerstone3D made up ("Segment 1", or ""
    // when setting an active segment index created the entry). addSegment on an existing index updates it.
    const current = existing[label]?.label;
    if (current && !/^Segment \d+$/.test(current)) continue;
    segmentationService.addSegment(segmentationId, { segmentIndex: label, label: names[String(label)] ?? `structure ${label}`, color: labelColor(label) });
  }
  // Placeholders with no voxels: OHIF's "Segment 1" (createLabelmapForDisplaySet with no segments) and nameless
  // entries Cornerstone3D adds when an absent index is made active. Left in, the DICOM SEG would carry them.
  for (const [index, segment] of Object.entries(segmentationService.getSegmentation(segmentationId).segments ?? {}) as [string, { label?: string } | undefined][]) {
    const placeholder = !segment?.label || (index === '1' && segment.label === 'Segment 1');
    if (placeholder && !held.has(Number(index))) segmentationService.removeSegment?.(segmentationId, Number(index), { skipRecordingHistory: true });
  }
  cs.triggerSegmentationDataModified(segmentationId);
  return changed;
}
