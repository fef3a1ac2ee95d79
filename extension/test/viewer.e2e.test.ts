/**
 * The viewer end to end, headless: our server (test model, embedded DICOMweb with the sample phantom study,
 * the OHIF build, our plugins) and Debian's Chromium (SwiftShader WebGL2). Opens the worklist and the VISTA3D
 * mode on the sample study; checks the page raises no errors and the VISTA3D panel shows the server's model as
 * ready. Screenshots go to test-artifacts/. Skipped when Chromium or the OHIF build is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULT_VIEWER_DIST, REPO_ROOT } from '../../server/src/config.ts';
import type { RunningServer } from '../../server/src/server.ts';
import { makeTestEnv, startTestServer, type TestEnv } from '../../server/test/support.ts';
import { ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS } from './browser.ts';

const missing = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : !existsSync(join(DEFAULT_VIEWER_DIST, 'index.html')) ? 'no OHIF build (node scripts/fetch-viewer.mjs)' : '';

describe('the viewer (headless Chromium)', { skip: missing || false, timeout: 240_000 }, () => {
  let env: TestEnv;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];

  before(async () => {
    const built = spawnSync(process.execPath, ['scripts/build-plugins.mjs'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    mkdirSync(ARTIFACTS, { recursive: true });
    env = await makeTestEnv();
    server = await startTestServer(env, { VIEWER_DIST: DEFAULT_VIEWER_DIST });
    // Playwright gives every launch a fresh temporary profile (--user-data-dir), removed on close.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await env?.cleanup();
  });

  it('serves the worklist with the sample study', async () => {
    await page.goto(`${server.url}/`);
    await page.getByText('Phantom', { exact: false }).first().waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'viewer-worklist.png') });
    assert.deepEqual(pageErrors, []);
  });

  it('opens the VISTA3D mode: panel ready with the server model, images shown', async () => {
    const studies = (await (await fetch(`${server.url}/dicomweb/studies`)).json()) as Record<string, { Value?: string[] }>[];
    const studyUid = studies[0]?.['0020000D']?.Value?.[0];
    assert.ok(studyUid, 'the embedded DICOMweb store has a study');
    const info = (await (await fetch(`${server.url}/v1/vista3d/info`)).json()) as { model: { name: string } };

    await page.goto(`${server.url}/vista3d?StudyInstanceUIDs=${studyUid}`);
    const panel = page.getByTestId('vista3d-panel');
    await panel.waitFor({ timeout: 90_000 });
    const status = page.getByTestId('vista3d-status');
    await page.waitForSelector('[data-testid="vista3d-status"][data-status="ready"]', { timeout: 60_000 });
    assert.match(await status.innerText(), new RegExp(`Ready: ${info.model.name}`));
    // The label list comes from the server's info.
    await page.getByTestId('vista3d-label-list').waitFor();
    assert.ok(await page.getByTestId('vista3d-segment').isVisible());
    // A Cornerstone viewport drew something.
    await page.waitForSelector('.cornerstone-viewport-element canvas, [data-viewport-uid] canvas, canvas.cornerstone-canvas', { timeout: 90_000 });
    await page.waitForTimeout(3000);
    await page.screenshot({ path: join(ARTIFACTS, 'viewer-vista3d.png') });

    // The panel's own controls respond (view state only, no server job).
    await page.getByTestId('vista3d-preset-abdomen').click();
    assert.match(await page.getByTestId('vista3d-segment').innerText(), /Segment \d+ structure/);
    await page.getByTestId('vista3d-label-search').fill('kidney');
    await page.screenshot({ path: join(ARTIFACTS, 'viewer-vista3d-search.png') });
    assert.deepEqual(pageErrors, [], `page errors: ${pageErrors.join('\n')}`);
  });

  it('click prompts: the toolbar tool, markers on the image, Shift+click negative, Alt+Z undoes', async () => {
    assert.ok(await page.locator('[data-cy="Vista3dPrompt-btn"]').count(), 'the prompt tool is in the toolbar');
    await page.getByTestId('vista3d-label-search').fill('');
    // Choosing the structure activates the click tool.
    await page.getByTestId('vista3d-point-target').selectOption({ label: 'liver' });
    const viewport = page.locator('.cornerstone-viewport-element').first();
    const box = (await viewport.boundingBox())!;
    const at = (fx: number, fy: number) => ({ x: box.x + box.width * fx, y: box.y + box.height * fy });
    const count = page.getByTestId('vista3d-point-count');

    let p = at(0.4, 0.5);
    await page.mouse.click(p.x, p.y);
    await page.waitForFunction(() => document.querySelector('[data-testid="vista3d-point-count"]')?.textContent?.startsWith('1 inside'), null, { timeout: 10_000 });
    p = at(0.6, 0.5);
    await page.keyboard.down('Shift');
    await page.mouse.click(p.x, p.y);
    await page.keyboard.up('Shift');
    await page.waitForFunction(() => document.querySelector('[data-testid="vista3d-point-count"]')?.textContent === '1 inside, 1 outside', null, { timeout: 10_000 });
    // Both markers are drawn in the viewport's SVG layer (the positive one a circle, the negative a crossed ring).
    await page.waitForFunction(() => document.querySelectorAll('.cornerstone-viewport-element svg circle').length >= 2, null, { timeout: 10_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'viewer-vista3d-points.png') });

    await page.keyboard.press('Alt+z');
    await page.waitForFunction(() => document.querySelector('[data-testid="vista3d-point-count"]')?.textContent === '1 inside, 0 outside', null, { timeout: 10_000 });
    assert.equal(await count.innerText(), '1 inside, 0 outside');
    // Let the last point job end (its outcome is the commands' business) before the screenshot.
    await page
      .waitForSelector('[data-testid="vista3d-job"][data-state="done"], [data-testid="vista3d-job"][data-state="failed"], [data-testid="vista3d-job"][data-state="cancelled"]', { timeout: 60_000 })
      .catch(() => undefined);
    await page.screenshot({ path: join(ARTIFACTS, 'viewer-vista3d-points-done.png') });
    assert.deepEqual(pageErrors, [], `page errors: ${pageErrors.join('\n')}`);
  });
});
