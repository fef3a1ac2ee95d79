import { planeFromMeta, seriesGeometry, worldToVoxel } from '../geometry/planes.ts';
import type { PromptPoint } from '../state/store.ts';
import { applyResult } from './applyResult.ts';
import type { CommandContext, DisplaySetLike } from './context.ts';
import { activeImageDisplaySet } from './context.ts';
import { runPrompt } from './browserRun.ts';
import { finishJob } from './runJob.ts';

export function setPointTarget(ctx: CommandContext, { label }: { label: number }): void {
  ctx.store.set({ pointTarget: label, points: [], error: null });
}

/** World clicks → voxel indices [i, j, k] of the series as the server reads it. */
export function clicksToVoxels(ctx: CommandContext, ds: DisplaySetLike, points: readonly PromptPoint[]): number[][] {
  const cs = ctx.cs();
  const g = seriesGeometry(ds.imageIds.map((id) => planeFromMeta(id, cs.metaData.get('imagePlaneModule', id))));
  return points.map((p) => {
    const v = worldToVoxel(g, p.world);
    if (!v) throw new Error('That click lies outside the series.');
    return v;
  });
}

/** Re-runs the point prompt with the current clicks; only the target label changes. */
export async function runPointPrompt(ctx: CommandContext): Promise<void> {
  const { pointTarget, points } = ctx.store.get();
  if (pointTarget === null || !points.some((p) => p.positive)) return;
  const ds = activeImageDisplaySet(ctx);
  const voxels = clicksToVoxels(ctx, ds, points);
  const key = String(pointTarget);
  const pointLabels = { [key]: points.map((p) => (p.positive ? 1 : 0)) };
  const labels = await runPrompt(
    ctx,
    'points',
    ds,
    { image: ctx.imageUrlFor(ds), prompts: { points: { [key]: voxels }, point_labels: pointLabels } },
    { points: { [key]: voxels }, pointLabels },
  );
  if (!labels) return;
  await applyResult(ctx, ds, labels, { kind: 'point', label: pointTarget });
  finishJob(ctx);
}

export async function addPoint(ctx: CommandContext, { world, positive }: PromptPoint): Promise<void> {
  const { pointTarget, points } = ctx.store.get();
  if (pointTarget === null) throw new Error('Pick the structure your clicks are on first.');
  if (!positive && !points.some((p) => p.positive)) throw new Error('Start with a positive click (without Shift) inside the structure.');
  ctx.store.set({ points: [...points, { world: [world[0], world[1], world[2]], positive }] });
  await runPointPrompt(ctx);
}

export async function undoPoint(ctx: CommandContext): Promise<void> {
  const points = ctx.store.get().points;
  if (!points.length) return;
  ctx.store.set({ points: points.slice(0, -1) });
  await runPointPrompt(ctx);
}

export function clearPoints(ctx: CommandContext): void {
  ctx.store.set({ points: [] });
}
