import { ApiError } from '../api/client.ts';
import type { CommandContext } from './context.ts';
import { activeImageDisplaySet } from './context.ts';

/** A series is asked for again after this long (the server's caches may have let it go). */
export const PREPARE_AGAIN_AFTER_MS = 10 * 60_000;

/**
 * Asks the server to load the active viewport's series (and build its model-space state) ahead of the first
 * prompt, so that the first click is not the one that waits for the download: once per series, in the background,
 * never in the user's way — a failure is logged, not shown (the prompt itself reports it if it persists), and a
 * busy or unready server is asked again at the next display change.
 */
export async function prepareSeries(ctx: CommandContext): Promise<void> {
  if (ctx.store.get().server.status !== 'ready') return;
  let image: string;
  try {
    image = ctx.imageUrlFor(activeImageDisplaySet(ctx));
  } catch {
    return; // no image series in the active viewport
  }
  const asked = ctx.prepared.get(image);
  if (asked !== undefined && Date.now() - asked < PREPARE_AGAIN_AFTER_MS) return;
  ctx.prepared.set(image, Date.now());
  try {
    await ctx.api.prepare(image);
  } catch (e) {
    const status = e instanceof ApiError ? e.status : 0;
    // busy (503), too many of ours (429), or the network: worth another try later; anything else is not
    if (status === 0 || status === 429 || status === 503) ctx.prepared.delete(image);
    ctx.log(`VISTA3D: could not prepare ${image}: ${(e as Error).message}`);
  }
}
