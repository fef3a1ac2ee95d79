import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { REPO_ROOT } from '../../server/src/config.ts';

/**
 * Headless Chromium for the viewer tests: Debian's build (no download), WebGL2 through SwiftShader, and no
 * background networking (this machine's network is closed; Chromium would otherwise keep trying).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

/**
 * Runs a command of the extension as the panel does; fails with the panel's error message (and the viewer's grid
 * and display sets) if it shows one. OHIF sometimes lays the viewports of a large series out again after it was
 * displayed (seen with a 512×512×200 series): a command that found no series in the active viewport runs once more.
 */
export async function runVista3dCommand(page: Page, name: string, args: Record<string, unknown> = {}, trace: (...a: unknown[]) => unknown = () => undefined, retried = false): Promise<void> {
  await page.evaluate(async ({ name, args }) => (window as any).commandsManager.runCommand(name, args), { name, args });
  const error = page.getByTestId('vista3d-error');
  if (!retried && (await error.count()) && /Open a CT series in the active viewport first/.test(await error.innerText())) {
    trace(`${name}: no series in the active viewport yet; again in 3 s`);
    await page.waitForTimeout(3000);
    return runVista3dCommand(page, name, args, trace, true);
  }
  if (await error.count()) {
    const state = await page.evaluate(() => {
      const w = window as any;
      const grid = w.services.viewportGridService.getState();
      return JSON.stringify({ active: grid.activeViewportId, viewports: [...grid.viewports.entries()].map(([id, v]: any) => [id, v.displaySetInstanceUIDs]), sets: w.services.displaySetService.getActiveDisplaySets().map((d: any) => [d.displaySetInstanceUID, d.Modality, d.imageIds?.length]) });
    });
    assert.fail(`${name}: ${await error.innerText()} (viewer state: ${state})`);
  }
}

/** The VISTA3D labelmap OHIF holds: all its images in display-set order, concatenated (empty when none yet). */
export async function vista3dLabelmap(page: Page): Promise<Uint8Array> {
  const b64 = await page.evaluate(() => {
    const w = window as any;
    const seg = w.services.segmentationService.getSegmentations().find((s: any) => s.label === 'VISTA3D');
    const lm = seg?.representationData?.Labelmap;
    if (!lm?.imageIds) return '';
    const parts: Uint8Array[] = lm.imageIds.map((id: string) => Uint8Array.from(w.cornerstone.cache.getImage(id).voxelManager.getScalarData()));
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) all.set(p, (o += p.length) - p.length);
    let s = '';
    for (let p = 0; p < all.length; p += 0x8000) s += String.fromCharCode(...all.subarray(p, p + 0x8000));
    return btoa(s);
  });
  return new Uint8Array(Buffer.from(b64, 'base64'));
}
