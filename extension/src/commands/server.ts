import { ApiError } from '../api/client.ts';
import type { CommandContext } from './context.ts';

/** Reads the server's readiness and model information into the store. */
export async function refreshServer(ctx: CommandContext): Promise<void> {
  try {
    if (!(await ctx.api.ready())) {
      ctx.store.set({ server: { status: 'loading' } });
      return;
    }
    ctx.store.set({ server: { status: 'ready', info: await ctx.api.info() } });
  } catch (e) {
    ctx.store.set({ server: { status: 'unreachable', error: e instanceof ApiError ? e.message : String(e) } });
  }
}

/** Cancels the running job (the server, or this browser's worker, stops at its next window). */
export async function cancel(ctx: CommandContext): Promise<void> {
  const id = ctx.running.id;
  if (!id) return;
  ctx.running.cancelled = true;
  // a run in this browser stops in the worker at its next window
  if (ctx.running.cancel) return ctx.running.cancel();
  await ctx.api.cancel(id);
}
