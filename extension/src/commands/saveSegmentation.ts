import type { CommandContext } from './context.ts';

function segmentationOrThrow(ctx: CommandContext): string {
  const id = ctx.store.get().segmentationId;
  if (!id) throw new Error('There is no VISTA3D segmentation to save yet.');
  return id;
}

/**
 * DICOM SEG of the results, stored to the study's PACS by STOW-RS through the active data source (OHIF's
 * cornerstone-dicom-seg builds the SEG), without the report dialog.
 */
export async function saveSegmentation(ctx: CommandContext, extensionManager: { getActiveDataSource(): { store: { dicom(ds: unknown): Promise<unknown> } }[] }): Promise<void> {
  const segmentationId = segmentationOrThrow(ctx);
  const generated = (await ctx.runCommand('generateSegmentation', { segmentationId, options: { SeriesDescription: 'VISTA3D' } })) as { dataset?: unknown } | undefined;
  if (!generated?.dataset) throw new Error('The DICOM SEG could not be built.');
  await extensionManager.getActiveDataSource()[0].store.dicom(generated.dataset);
  ctx.store.set({ notice: 'Saved to the PACS as DICOM SEG.' });
}

export function downloadSegmentation(ctx: CommandContext): void {
  ctx.runCommand('downloadSegmentation', { segmentationId: segmentationOrThrow(ctx) });
}
