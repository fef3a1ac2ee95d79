/**
 * VISTA3D in the browser, end to end: Orthanc (a real PACS) holding the sample study and the real head CT, our
 * server in front of it (authentication on, the viewer logged in), OHIF in headless Chromium. On each series, in
 * its own tab: a class prompt and a click prompt on the **Server**, then the same in **This browser** (the
 * inference worker: the bundled model over onnxruntime-web, WebAssembly here), and the labelmaps OHIF holds must be
 * equal voxel for voxel. Then the server is stopped, the model is reloaded in each tab from Cache Storage (checked
 * against model.json's hashes), and the browser runs again: the same labels, with no server at all.
 *
 * Timings (`# timing: …`): each run's start-to-result time as the panel reports it, and the browser's device.
 * VISTA3D_BENCH_LARGE=1 adds a 512×512×200 synthetic CT (scripts/bench-browser.ts sets it: `npm run bench:browser`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { writeDicomSeries } from '../../models/src/io/dicomWrite.ts';
import type { Vec3, Volume } from '../../models/src/geometry/volume.ts';
import { generatePhantom } from '../../models/src/phantom/index.ts';
import { loadHeadCT } from '../../models/test/support/realData.ts';
import { DEFAULT_MODEL_DIR, DEFAULT_VIEWER_DIST, REPO_ROOT } from '../../server/src/config.ts';
import { hashUserLine } from '../../server/src/auth/users.ts';
import { sampleStudyFiles } from '../../server/src/dicomweb/store.ts';
import type { RunningServer } from '../../server/src/server.ts';
import { orthancMissing, startOrthanc, storeSeries, type RunningOrthanc } from '../../server/test/orthanc.ts';
import { makeTestEnv, startTestServer, type TestEnv } from '../../server/test/support.ts';
import { ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, runVista3dCommand, vista3dLabelmap } from './browser.ts';

const missing =
  (!existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}`) ||
  orthancMissing() ||
  (!existsSync(join(DEFAULT_VIEWER_DIST, 'index.html')) && 'no OHIF build (node scripts/fetch-viewer.mjs)') ||
  (!existsSync(join(DEFAULT_MODEL_DIR, 'encoder.onnx')) && 'no bundled model') ||
  '';
if (missing && process.env.CI) throw new Error(`the in-browser end-to-end test cannot run in CI: ${missing}`);
const trace = (...a: unknown[]) => process.env.E2E_TRACE && process.stderr.write(`[e2e-browser ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

const USER = 'radiologist';
const PASSWORD = 'browser e2e correct horse';

interface Case {
  key: string;
  patientId: string;
  /** The class prompt, and the click prompt: target label and the click's voxel of the written grid. */
  classId: number;
  pointLabel: number;
  click: Vec3;
  grid: Volume;
  page?: Page;
  studyUid?: string;
  seriesUid?: string;
  /** The server's labelmaps after the class prompt and after the click. */
  server?: { classes: Uint8Array; points: Uint8Array };
}

/** World position (LPS mm) of voxel `ijk` of a volume. */
function world(v: Volume, ijk: Vec3): Vec3 {
  const d = v.direction;
  return [0, 1, 2].map((r) => v.origin[r] + d[3 * r] * ijk[0] * v.spacing[0] + d[3 * r + 1] * ijk[1] * v.spacing[1] + d[3 * r + 2] * ijk[2] * v.spacing[2]) as Vec3;
}

describe('VISTA3D in the browser: same labels as the server, also with the server stopped', { skip: missing || false, timeout: 1_800_000 }, () => {
  let orthanc: RunningOrthanc;
  let env: TestEnv;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  const cases: Case[] = [];
  const pageErrors: string[] = [];
  const timings: string[] = [];

  async function store(c: Case, files: readonly { bytes: Uint8Array }[]) {
    await storeSeries(orthanc.url, files);
    const read = (await (await fetch(`${orthanc.dicomweb}/instances?PatientID=${c.patientId}&limit=1`)).json()) as Record<string, { Value?: string[] }>[];
    c.studyUid = read[0]['0020000D'].Value![0];
    c.seriesUid = read[0]['0020000E'].Value![0];
    cases.push(c);
  }

  before(async () => {
    const built = spawnSync(process.execPath, ['scripts/build-plugins.mjs'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    mkdirSync(ARTIFACTS, { recursive: true });
    orthanc = await startOrthanc();
    // the sample study (the phantom the server embeds when no PACS is configured), stored in Orthanc
    const sample = generatePhantom({ seed: 7, kind: 'torso', dims: [144, 112, 80], spacing: [2.5, 2.5, 3] });
    const sampleFiles = sampleStudyFiles({ kind: 'torso', seed: 7 });
    await storeSeries(orthanc.url, sampleFiles);
    const sampleStudy = (await (await fetch(`${orthanc.dicomweb}/instances?limit=200`)).json()) as Record<string, { Value?: string[] }>[];
    cases.push({ key: 'sample', patientId: sampleStudy[0]['00100020']?.Value?.[0] ?? '', classId: 1, pointLabel: 3, click: centroid(sample.labels, 3), grid: sample.image, studyUid: sampleStudy[0]['0020000D'].Value![0], seriesUid: sampleStudy[0]['0020000E'].Value![0] });
    // the real head CT, rows flipped so that anterior is at the top (as scanners write it); bone, and a click on a new structure
    const head = loadHeadCT();
    const [nx, ny, nz] = head.dims;
    const flipped = new Int16Array(head.data.length);
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) flipped.set(head.data.subarray(nx * (ny - 1 - j + ny * k), nx * (ny - j + ny * k)), nx * (j + ny * k));
    const headGrid: Volume = { data: flipped, dims: head.dims, spacing: head.spacing, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, -(ny - 1) * head.spacing[1], 0] };
    const headCase: Case = { key: 'head', patientId: 'BR-head', classId: 21, pointLabel: 133, click: [Math.round(nx / 2), Math.round(ny / 2), Math.round(nz / 2)], grid: headGrid };
    await store(headCase, writeDicomSeries(headGrid, { seed: 'br-head', patientName: 'BR^head', patientId: 'BR-head', seriesDescription: 'head CT (InVesalius)', date: new Date('2026-01-01T00:00:00Z') }));
    if (process.env.VISTA3D_BENCH_LARGE) {
      const big = generatePhantom({ seed: 5, kind: 'torso', dims: [512, 512, 200], spacing: [0.75, 0.6, 1.25] });
      const bigCase: Case = { key: 'large', patientId: 'BR-large', classId: 1, pointLabel: 3, click: centroid(big.labels, 3), grid: big.image };
      await store(bigCase, writeDicomSeries(big.image, { seed: 'br-large', patientName: 'BR^large', patientId: 'BR-large', seriesDescription: 'phantom 512x512x200', date: new Date('2026-01-01T00:00:00Z') }));
    }
    trace('series stored');

    env = await makeTestEnv();
    const usersFile = join(env.dir, 'users.txt');
    writeFileSync(usersFile, `${await hashUserLine(USER, PASSWORD)}\n`);
    server = await startTestServer(env, { DICOMWEB_URL: orthanc.dicomweb, MODEL_DIR: DEFAULT_MODEL_DIR, VIEWER_DIST: DEFAULT_VIEWER_DIST, THREADS: '2', USERS_FILE: usersFile, MAX_WINDOWS: '100000' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addInitScript({ content: 'window.__name = (f) => f;' });
    const login = await context.newPage();
    await login.goto(`${server.url}/vista3d?StudyInstanceUIDs=1.2.3`);
    await login.fill('input[name="user"]', USER);
    await login.fill('input[name="password"]', PASSWORD);
    await Promise.all([login.waitForURL(/\/vista3d\?/), login.click('button[type="submit"]')]);
    await login.close();
  });

  after(async () => {
    for (const t of timings) console.log(t);
    await browser?.close();
    await server?.close().catch(() => undefined);
    await orthanc?.stop();
    await env?.cleanup();
  });

  /** Opens the case's study in its own tab; waits for the panel and for every image of the series in the cache. */
  async function open(c: Case) {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${c.key}: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && trace(c.key, 'console:', m.text().slice(0, 300)));
    c.page = page;
    await page.goto(`${server.url}/vista3d?StudyInstanceUIDs=${c.studyUid}`);
    await page.getByTestId('vista3d-panel').waitFor({ timeout: 120_000 });
    await page.waitForSelector('[data-testid="vista3d-status"][data-status="ready"]', { timeout: 60_000 });
    const banner = page.getByText('Confirm and hide');
    if (await banner.count()) await banner.first().click().catch(() => undefined);
    // every image of the series loaded into Cornerstone's cache (the viewer fetches them; the browser run reads them)
    await page.waitForFunction(
      async (uid) => {
        const w = window as any;
        const ds = w.services?.displaySetService?.getActiveDisplaySets?.().find((d: any) => d.SeriesInstanceUID === uid);
        if (!ds?.imageIds?.length || !w.cornerstone?.getEnabledElements?.()?.[0]?.viewport?.getCurrentImageId?.()) return false;
        // the series in the active viewport (what the commands segment), not only among the display sets
        const grid = w.services.viewportGridService.getState();
        if (!grid.viewports.get(grid.activeViewportId)?.displaySetInstanceUIDs?.includes(ds.displaySetInstanceUID)) return (w.__vista3dStable = 0) > 0;
        await Promise.all(ds.imageIds.map((id: string) => w.cornerstone.imageLoader.loadAndCacheImage(id)));
        // OHIF may still lay the viewports out again after the first display: the same state three polls in a row
        w.__vista3dStable = (w.__vista3dStable ?? 0) + 1;
        return w.__vista3dStable >= 3;
      },
      c.seriesUid,
      { timeout: 300_000, polling: 1000 },
    );
  }

  const command = (page: Page, name: string, args: Record<string, unknown> = {}) => runVista3dCommand(page, name, args, trace);
  const labelmap = vista3dLabelmap;

  /** Empties the labelmap (so that the next runner's result is compared alone) and forgets the clicks. */
  async function clear(page: Page) {
    await page.evaluate(() => {
      const w = window as any;
      const seg = w.services.segmentationService.getSegmentations().find((s: any) => s.label === 'VISTA3D');
      for (const id of seg?.representationData?.Labelmap?.imageIds ?? []) {
        const vm = w.cornerstone.cache.getImage(id).voxelManager;
        const d = vm.getScalarData();
        d.fill(0);
        vm.setScalarData?.(d);
      }
    });
    await command(page, 'vista3dClearPoints');
  }

  async function lastRun(page: Page, what: string, c: Case) {
    const el = page.getByTestId('vista3d-last-run');
    const [where, device, ms] = await Promise.all([el.getAttribute('data-where'), el.getAttribute('data-device'), el.getAttribute('data-ms')]);
    const line = `# timing: ${c.key} ${c.grid.dims.join('×')} ${what}: ${where} (${device}) ${ms} ms`;
    timings.push(line);
    trace(line);
    return { where, device, ms: Number(ms) };
  }

  /** A class prompt and a click prompt where the panel's choice says; the labelmaps after each. */
  async function runBoth(c: Case, label: string): Promise<{ classes: Uint8Array; points: Uint8Array }> {
    const page = c.page!;
    await clear(page);
    await command(page, 'vista3dSegmentClasses', { classes: [c.classId] });
    const classes = await labelmap(page);
    const r1 = await lastRun(page, `${label} class prompt`, c);
    await command(page, 'vista3dSetPointTarget', { label: c.pointLabel });
    await command(page, 'vista3dAddPoint', { world: world(c.grid, c.click), positive: true });
    const points = await labelmap(page);
    const r2 = await lastRun(page, `${label} click`, c);
    assert.equal(r1.where, label === 'server' ? 'server' : 'browser');
    assert.equal(r2.where, r1.where);
    await page.screenshot({ path: join(ARTIFACTS, `e2e-browser-${c.key}-${label}.png`) });
    return { classes, points };
  }

  function assertSame(a: Uint8Array, b: Uint8Array, what: string, label: number) {
    assert.equal(a.length, b.length, `${what}: labelmaps of ${a.length} and ${b.length} voxels`);
    let n = 0;
    let first = -1;
    let count = 0;
    for (let p = 0; p < a.length; p++) {
      if (a[p] === label) count++;
      if (a[p] !== b[p]) {
        n++;
        if (first < 0) first = p;
      }
    }
    assert.equal(n, 0, `${what}: ${n} voxels differ (first at ${first}: browser ${a[first]}, server ${b[first]})`);
    assert.ok(count > 0, `${what}: the result holds no voxel of label ${label}`);
    console.log(`# ${what}: ${count} voxels of label ${label}, 0 differ`);
  }

  it('This browser gives the labels of the Server, voxel for voxel, for a class prompt and a click', async () => {
    for (const c of cases) {
      trace('open', c.key);
      await open(c);
      const page = c.page!;
      c.server = await runBoth(c, 'server');
      await page.getByTestId('vista3d-run-browser').check();
      await page.waitForSelector('[data-testid="vista3d-browser-model"][data-status="ready"]', { timeout: 120_000 });
      const note = await page.getByTestId('vista3d-browser-model').innerText();
      trace(c.key, note);
      const local = await runBoth(c, 'browser');
      assertSame(local.classes, c.server.classes, `${c.key} class prompt, browser vs server`, c.classId);
      assertSame(local.points, c.server.points, `${c.key} click, browser vs server`, c.pointLabel);
    }
    assert.deepEqual(pageErrors, []);
  });

  it('with the server stopped: the model reloads from Cache Storage and the browser gives the same labels', async () => {
    assert.ok(cases.every((c) => c.server), 'the server runs came first');
    await server.close();
    for (const c of cases) {
      const page = c.page!;
      assert.equal((await page.request.get(`${server.url}/v1/health/live`).catch(() => null))?.status() ?? 0, 0, 'the server is gone');
      await command(page, 'vista3dLoadBrowserModel', { reload: true });
      const note = await page.getByTestId('vista3d-browser-model').innerText();
      assert.match(note, /3 files from this browser's cache/, `${c.key}: ${note}`);
      assert.doesNotMatch(note, /downloaded/);
      const local = await runBoth(c, 'browser, server stopped');
      assertSame(local.classes, c.server!.classes, `${c.key} class prompt, browser (server stopped) vs server`, c.classId);
      assertSame(local.points, c.server!.points, `${c.key} click, browser (server stopped) vs server`, c.pointLabel);
    }
    assert.deepEqual(pageErrors, []);
  });
});

/** The voxel of `label` nearest the centroid of its voxels (a click well inside it). */
function centroid(labels: Volume, label: number): Vec3 {
  const [nx, ny, nz] = labels.dims;
  const s = [0, 0, 0];
  let n = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (labels.data[i + nx * (j + ny * k)] === label) {
          s[0] += i;
          s[1] += j;
          s[2] += k;
          n++;
        }
  assert.ok(n, `no voxel of label ${label}`);
  const c = s.map((v) => v / n);
  let best: Vec3 = [0, 0, 0];
  let bestD = Infinity;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (labels.data[i + nx * (j + ny * k)] === label) {
          const d = (i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2;
          if (d < bestD) {
            bestD = d;
            best = [i, j, k];
          }
        }
  return best;
}
