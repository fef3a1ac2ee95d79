import type { RegionResult } from '../api/client.ts';
import { labelColor, mapOutsideWindow, mergeLabelsInWindow, uniformMerge, type MergeRule } from '../geometry/merge.ts';
import { planeFromMeta, planeWindow, sampleOnPlane } from '../geometry/planes.ts';
import type { CommandContext, CornerstoneLike, DisplaySetLike } from './context.ts';
import { recordSegmentOrigin } from './saveSegmentation.ts';
import { modelInfo } from '../state/store.ts';

/** VISTA3D's "not processed" label, when the server's /info does not say. */

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
 * Writes a result into the labelmap, image by image, touching only what can change: each labelmap image takes the
 * labels at its source image's pixel centres (mapped through world coordinates, so slice order and orientation
 * cannot flip it), merged by `rule`. Only the pixels whose centres can fall inside the result's box are sampled
 * (planeWindow); every other pixel holds the result's `outside` value, whose merge is one 256-entry table — a
 * point prompt's "not processed" changes nothing there (images its plane misses are not even read), a class
 * prompt's background clears the asked labels where they are. Adds a named, coloured segment for each new label.
 * Returns the number of voxels changed.
 */
export async function applyResult(ctx: CommandContext, ds: DisplaySetLike, result: RegionResult, rule: MergeRule): Promise<number> {
  const { segmentationService } = ctx.services;
  const cs = ctx.cs();
  const segmentationId = await ensureSegmentation(ctx, ds);
  const seg = segmentationService.getSegmentation(segmentationId);
  const lm = seg.representationData.Labelmap;
  const imageIds: string[] = lm.imageIds;
  const referenced: string[] = lm.referencedImageIds ?? ds.imageIds;
  const info = modelInfo(ctx.store.get());
  if (!info) throw new Error('The VISTA3D server is not ready, and no model is loaded in this browser.');
  // the model's not-processed value (VISTA3D's 255), from /info
  const notProcessed = info.not_processed_value;
  const outsideMerge = uniformMerge(result.outside, rule, notProcessed);
  const present = new Set<number>();
  let changed = 0;
  imageIds.forEach((labelmapImageId, n) => {
    const refId = referenced[n];
    const plane = planeFromMeta(refId, cs.metaData.get('imagePlaneModule', refId));
    const window = planeWindow(result.labels, plane);
    if (!window && !outsideMerge) return;
    const image = cs.cache.getImage(labelmapImageId);
    if (!image) throw new Error(`labelmap image ${labelmapImageId} is not in the cache`);
    const data = image.voxelManager.getScalarData();
    let c = 0;
    if (window) {
      const incoming = sampleOnPlane(result.labels, plane, result.outside, window);
      for (const v of incoming) if (v !== 0 && v !== notProcessed) present.add(v);
      c += mergeLabelsInWindow(data, window, plane.columns, incoming, rule, notProcessed);
    }
    if (outsideMerge) c += mapOutsideWindow(data, plane.rows, plane.columns, window, outsideMerge);
    if (c) image.voxelManager.setScalarData?.(data);
    changed += c;
  });
  // the SEG's Segment Algorithm Type: class prompts AUTOMATIC, clicks SEMIAUTOMATIC
  recordSegmentOrigin(ctx, segmentationId, rule.kind === 'classes' ? rule.labels : [rule.label], rule.kind);
  const names = info.label_dictionary;
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
  // Whether a placeholder holds voxels (a brush may have painted it) is asked only when there is one.
  for (const [index, segment] of Object.entries(segmentationService.getSegmentation(segmentationId).segments ?? {}) as [string, { label?: string } | undefined][]) {
    const placeholder = !segment?.label || (index === '1' && segment.label === 'Segment 1');
    if (placeholder && !holdsLabel(cs, imageIds, Number(index))) segmentationService.removeSegment?.(segmentationId, Number(index), { skipRecordingHistory: true });
  }
  cs.triggerSegmentationDataModified(segmentationId);
  return changed;
}

/** True when any labelmap image holds `label` (a native scan per image). */
function holdsLabel(cs: CornerstoneLike, imageIds: readonly string[], label: number): boolean {
  return imageIds.some((id) => {
    const data = cs.cache.getImage(id)?.voxelManager.getScalarData() as ArrayLike<number> & { indexOf?: (v: number) => number };
    if (!data) return false;
    if (typeof data.indexOf === 'function') return data.indexOf(label) >= 0;
    for (let p = 0; p < data.length; p++) if (data[p] === label) return true;
    return false;
  });
}
