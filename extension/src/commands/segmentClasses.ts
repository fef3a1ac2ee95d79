import type { CommandContext } from './context.ts';
import { activeImageDisplaySet, resolveLabelIds } from './context.ts';
import { applyResult } from './applyResult.ts';
import { runPrompt } from './browserRun.ts';
import { finishJob } from './runJob.ts';

/**
 * Class prompts on the active image series: the server (or this browser) segments the asked labels (none = the model's
 * "everything" set), and only those labels are replaced in the labelmap.
 */
export async function segmentClasses(ctx: CommandContext, { classes }: { classes?: (string | number)[] }): Promise<void> {
  const ds = activeImageDisplaySet(ctx);
  const asked = resolveLabelIds(ctx, classes);
  const labels = await runPrompt(ctx, 'classes', ds, { image: ctx.imageUrlFor(ds), prompts: classes ? { classes: [...classes] } : undefined }, classes ? { classes: [...classes] } : {});
  if (!labels) return;
  const changed = await applyResult(ctx, ds, labels, { kind: 'classes', labels: asked });
  finishJob(ctx);
  ctx.store.set({ notice: `Segmented ${asked.size} label${asked.size === 1 ? '' : 's'} (${changed} voxels changed).` });
}
