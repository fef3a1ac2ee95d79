/**
 * The viewer against a scaled-out server, end to end: Orthanc holding the sample study, one redis-server, one
 * worker process and two front ends on it, and a round-robin balancer in front of the front ends (each request to
 * the next one, as a load balancer without sticky sessions does). OHIF in headless Chromium logs in through the
 * balancer (the session lives in Redis), runs a class prompt and a click from the panel — so a job started on one
 * front end is followed (events, result) on the other — and the labelmaps must equal, voxel for voxel, those a
 * single server (no Redis) gives in another browser context on the same PACS.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Vec3 } from '../../models/src/geometry/volume.ts';
import { generatePhantom } from '../../models/src/phantom/index.ts';
import { DEFAULT_MODEL_DIR, DEFAULT_VIEWER_DIST, REPO_ROOT } from '../../server/src/config.ts';
import { hashUserLine } from '../../server/src/auth/users.ts';
import { sampleStudyFiles } from '../../server/src/dicomweb/store.ts';
import type { RunningServer } from '../../server/src/server.ts';
import { redisMissing, startRedis, startWorker, type Proc, type RunningRedis } from '../../server/test/cluster.ts';
import { orthancMissing, startOrthanc, storeSeries, type RunningOrthanc } from '../../server/test/orthanc.ts';
import { makeTestEnv, startTestServer, type TestEnv } from '../../server/test/support.ts';
import { ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, runVista3dCommand, vista3dLabelmap } from './browser.ts';

const missing =
  (!existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}`) ||
  orthancMissing() ||
  redisMissing() ||
  (!existsSync(join(DEFAULT_VIEWER_DIST, 'index.html')) && 'no OHIF build (node scripts/fetch-viewer.mjs)') ||
  '';
if (missing && process.env.CI) throw new Error(`the scale-out end-to-end test cannot run in CI: ${missing}`);

const USER = 'radiologist';
const PASSWORD = 'scale-out e2e correct horse';

/** A balancer that sends each request to the next backend in turn; counts the jobs API requests each one got. */
async function roundRobin(backends: string[]): Promise<{ url: string; jobs: number[]; close(): Promise<void> }> {
  let next = 0;
  const jobs = backends.map(() => 0);
  const server: Server = createServer((req, res) => {
    const i = next++ % backends.length;
    if (req.url?.startsWith('/v1/vista3d/jobs')) jobs[i]++;
    const target = new URL(req.url ?? '/', backends[i]);
    // the Host header goes through unchanged: the front ends see the page's own origin
    const up = request(target, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.headersSent || res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    jobs,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('the viewer against two front ends on one Redis', { skip: missing || false, timeout: 900_000 }, () => {
  let orthanc: RunningOrthanc;
  let redis: RunningRedis;
  let env: TestEnv;
  let worker: Proc;
  let fronts: RunningServer[] = [];
  let single: RunningServer;
  let lb: Awaited<ReturnType<typeof roundRobin>>;
  let browser: Browser;
  let studyUid: string;
  let seriesUid: string;
  let click: Vec3;
  const pageErrors: string[] = [];

  before(async () => {
    const built = spawnSync(process.execPath, ['scripts/build-plugins.mjs'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    mkdirSync(ARTIFACTS, { recursive: true });
    [orthanc, redis, env] = await Promise.all([startOrthanc(), startRedis(), makeTestEnv()]);
    await storeSeries(orthanc.url, sampleStudyFiles({ kind: 'torso', seed: 7 }));
    const inst = (await (await fetch(`${orthanc.dicomweb}/instances?limit=1`)).json()) as Record<string, { Value?: string[] }>[];
    studyUid = inst[0]['0020000D'].Value![0];
    seriesUid = inst[0]['0020000E'].Value![0];
    // a click inside the phantom's spleen (label 3), in world coordinates
    const sample = generatePhantom({ seed: 7, kind: 'torso', dims: [144, 112, 80], spacing: [2.5, 2.5, 3] });
    const [nx, ny] = sample.labels.dims;
    const at = sample.labels.data.findIndex((v, o) => v === 3 && sample.labels.data[o + 2] === 3 && sample.labels.data[o + 2 * nx] === 3 && sample.labels.data[o + 2 * nx * ny] === 3);
    const ijk: Vec3 = [(at % nx) + 1, (Math.floor(at / nx) % ny) + 1, Math.floor(at / nx / ny) + 1];
    const v = sample.image;
    click = [0, 1, 2].map((r) => v.origin[r] + [0, 1, 2].reduce((s, c) => s + v.direction[3 * r + c] * ijk[c] * v.spacing[c], 0)) as Vec3;

    const usersFile = join(env.dir, 'users.txt');
    writeFileSync(usersFile, `${await hashUserLine(USER, PASSWORD)}\n`);
    const common = { DICOMWEB_URL: orthanc.dicomweb, MODEL_DIR: DEFAULT_MODEL_DIR, VIEWER_DIST: DEFAULT_VIEWER_DIST, THREADS: '1', USERS_FILE: usersFile, MAX_WINDOWS: '100000' };
    worker = await startWorker({ ...common, REDIS_URL: redis.url, DEVICE: 'cpu', IMAGE_URI_ALLOWED_NETWORKS: '127.0.0.0/8', LOG_LEVEL: 'info' }, 'e2e-worker');
    fronts = await Promise.all([0, 1].map(() => startTestServer(env, { ...common, REDIS_URL: redis.url, NIM_HTTP_MAX_WORKERS: '0' })));
    single = await startTestServer(env, common);
    lb = await roundRobin(fronts.map((f) => f.url));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  });

  after(async () => {
    await browser?.close();
    await lb?.close();
    await Promise.all([...fronts.map((f) => f.close()), single?.close()]);
    await worker?.kill();
    await Promise.all([redis?.close(), orthanc?.stop()]);
    await env?.cleanup();
  });

  /** Logs in at `base`, opens the study, waits for the panel and the series in the active viewport. */
  async function open(base: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addInitScript({ content: 'window.__name = (f) => f;' });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${base}/vista3d?StudyInstanceUIDs=${studyUid}`);
    await page.fill('input[name="user"]', USER);
    await page.fill('input[name="password"]', PASSWORD);
    await Promise.all([page.waitForURL(/\/vista3d\?/), page.click('button[type="submit"]')]);
    await page.getByTestId('vista3d-panel').waitFor({ timeout: 120_000 });
    await page.waitForSelector('[data-testid="vista3d-status"][data-status="ready"]', { timeout: 60_000 });
    await page.waitForFunction(
      (uid) => {
        const w = window as any;
        const ds = w.services?.displaySetService?.getActiveDisplaySets?.().find((d: any) => d.SeriesInstanceUID === uid);
        const grid = w.services?.viewportGridService?.getState();
        const ok = Boolean(ds && w.cornerstone?.getEnabledElements?.()?.[0]?.viewport?.getCurrentImageId?.() && grid.viewports.get(grid.activeViewportId)?.displaySetInstanceUIDs?.includes(ds.displaySetInstanceUID));
        // OHIF may lay the viewports out again after the first display: the same state three polls in a row
        w.__vista3dStable = ok ? (w.__vista3dStable ?? 0) + 1 : 0;
        return w.__vista3dStable >= 3;
      },
      seriesUid,
      { timeout: 300_000, polling: 500 },
    );
    return page;
  }

  const command = (page: Page, name: string, args: Record<string, unknown> = {}) => runVista3dCommand(page, name, args);
  const labelmap = vista3dLabelmap;

  async function prompts(page: Page): Promise<{ classes: Uint8Array; click: Uint8Array }> {
    await command(page, 'vista3dSegmentClasses', { classes: [1] });
    const classes = await labelmap(page);
    await command(page, 'vista3dSetPointTarget', { label: 3 });
    await command(page, 'vista3dAddPoint', { world: click, positive: true });
    return { classes, click: await labelmap(page) };
  }

  it('a class prompt and a click through the balancer: jobs followed on the other front end, the single server\'s labels voxel for voxel', async () => {
    const scaled = await open(lb.url);
    const got = await prompts(scaled);
    await scaled.screenshot({ path: join(ARTIFACTS, 'e2e-scaleout.png') });
    assert.ok(lb.jobs.every((n) => n > 0), `both front ends answered the panel's job requests: ${lb.jobs.join(' / ')}`);
    const want = await prompts(await open(single.url));
    for (const [what, label] of [['classes', 1], ['click', 3]] as const) {
      const a = got[what];
      const b = want[what];
      assert.equal(a.length, b.length);
      let differ = 0;
      let count = 0;
      for (let p = 0; p < a.length; p++) {
        if (a[p] !== b[p]) differ++;
        if (a[p] === label) count++;
      }
      assert.ok(count > 0, `${what}: no voxel of label ${label}`);
      assert.equal(differ, 0, `${what}: ${differ} voxels differ from the single server's`);
      console.log(`# scale-out ${what}: ${count} voxels of label ${label}, 0 differ from a single server; job requests per front end ${lb.jobs.join(' / ')}`);
    }
    assert.deepEqual(pageErrors, []);
  });
});
