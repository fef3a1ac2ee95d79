import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import vm from 'node:vm';
import express from 'express';
import { DEFAULT_VIEWER_DIST, loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { mountViewer } from './mount.ts';
import { PLUGIN_FILES, appConfigScript, viewerConfig, viewerRoutes } from './routes.ts';

/** Runs app-config.js as the browser would and returns window.config. */
function evalConfig(script: string): any {
  const window: { config?: unknown } = {};
  vm.runInNewContext(script, { window });
  return JSON.parse(JSON.stringify(window.config)); // out of the vm realm, for deepEqual
}

describe('app-config.js', () => {
  it('names our extension and mode by URL and our same-origin DICOMweb', () => {
    const c = evalConfig(appConfigScript());
    assert.equal(c.routerBasename, '/');
    assert.equal(c.showStudyList, true);
    assert.deepEqual(c.extensions, [`/plugins/${PLUGIN_FILES.extension}`]);
    assert.deepEqual(c.modes, [`/plugins/${PLUGIN_FILES.mode}`]);
    assert.deepEqual(c.investigationalUseDialog, { option: 'never' });
    assert.equal(c.defaultDataSourceName, 'dicomweb');
    const [ds] = c.dataSources;
    assert.equal(ds.namespace, '@ohif/extension-default.dataSourcesModule.dicomweb');
    assert.equal(ds.sourceName, 'dicomweb');
    for (const k of ['qidoRoot', 'wadoRoot', 'wadoUriRoot']) assert.equal(ds.configuration[k], '/dicomweb');
    assert.equal(ds.configuration.staticWado, false);
    assert.equal(ds.configuration.imageRendering, 'wadors');
  });
  it('takes another DICOMweb root', () => {
    assert.equal(viewerConfig({ dicomwebRoot: '/pacs' }).dataSources[0].configuration.qidoRoot, '/pacs');
  });
});

describe('viewer routes', () => {
  let dir: string;
  let server: Server;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vista3d-viewer-'));
    // A dot-folder in the path, like the default .cache/ohif-app-…/dist.
    const dist = join(dir, '.cache', 'dist');
    const plugins = [join(dir, 'ext'), join(dir, 'mode')];
    for (const d of [dist, ...plugins]) mkdirSync(d, { recursive: true });
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>OHIF</title>');
    writeFileSync(join(dist, 'app-config.js'), 'window.config = { theirs: true };');
    writeFileSync(join(dist, 'app.bundle.js'), 'console.log(1)');
    writeFileSync(join(plugins[0], PLUGIN_FILES.extension), 'export default {}');
    writeFileSync(join(plugins[0], `${PLUGIN_FILES.extension}.map`), '{}');
    writeFileSync(join(plugins[1], PLUGIN_FILES.mode), 'export default {}');
    writeFileSync(join(dir, 'secret.mjs'), 'secret');
    const app = express();
    app.get('/v1/health/live', (_req, res) => void res.json({ status: 'live' }));
    app.use('/dicomweb', (_req, res) => void res.status(404).json({ detail: 'dicomweb 404' }));
    viewerRoutes({ distDir: dist, pluginDirs: plugins, appConfig: () => 'window.config = { ours: true };', crossOriginIsolation: true })(app);
    app.use((_req, res) => void res.status(404).json({ detail: 'unmatched' }));
    server = await new Promise<Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (path: string, init?: RequestInit) => {
    const r = await fetch(base + path, init);
    return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text(), headers: r.headers };
  };

  it('serves our app-config.js, not the dist one, uncached', async () => {
    const r = await get('/app-config.js');
    assert.equal(r.status, 200);
    assert.match(r.type, /javascript/);
    assert.equal(r.body, 'window.config = { ours: true };');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
  });

  it('serves the plugins as JavaScript modules (and their maps) from the plugin folders', async () => {
    const ext = await get(`/plugins/${PLUGIN_FILES.extension}`);
    assert.equal(ext.status, 200);
    assert.match(ext.type, /^text\/javascript/);
    assert.equal((await get(`/plugins/${PLUGIN_FILES.mode}`)).body, 'export default {}');
    assert.match((await get(`/plugins/${PLUGIN_FILES.extension}.map`)).type, /json/);
    const missing = await get('/plugins/nothing.mjs');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /build the plugins/);
  });

  it('never serves files outside the plugin folders', async () => {
    for (const p of ['/plugins/..%2Fsecret.mjs', '/plugins/%2E%2E%2Fsecret.mjs', '/plugins/../secret.mjs']) {
      const r = await get(p);
      assert.ok(r.body !== 'secret', p);
    }
  });

  it('serves the viewer files and index.html for the viewer routes (SPA), from under a dot-folder', async () => {
    assert.equal((await get('/app.bundle.js')).body, 'console.log(1)');
    for (const p of ['/', '/vista3d', '/segmentation/', '/viewer/dicomweb']) {
      const r = await get(`${p}?StudyInstanceUIDs=1.2.3`);
      assert.equal(r.status, 200, p);
      assert.match(r.body, /<title>OHIF<\/title>/, p);
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
    }
    assert.equal((await get('/', { method: 'HEAD' })).status, 200);
  });

  it('leaves /v1, /dicomweb, missing files and other methods to the routers after it', async () => {
    assert.equal((await get('/v1/health/live')).body, '{"status":"live"}');
    assert.equal((await get('/v1/nope')).body, '{"detail":"unmatched"}');
    assert.equal((await get('/dicomweb/studies')).body, '{"detail":"dicomweb 404"}');
    assert.equal((await get('/missing.js')).body, '{"detail":"unmatched"}');
    assert.equal((await get('/vista3d', { method: 'POST' })).body, '{"detail":"unmatched"}');
    assert.equal((await get('/v1/health/live')).headers.get('cross-origin-embedder-policy'), null);
  });
});

describe('mountViewer (VIEWER, VIEWER_DIST)', () => {
  const log = createLogger('silent');
  it('is on by default with the fetched build; VIEWER=false turns it off', () => {
    assert.equal(loadConfig({}).viewerDist, DEFAULT_VIEWER_DIST);
    assert.equal(loadConfig({ VIEWER: 'false' }).viewerDist, null);
    assert.equal(mountViewer(express(), { viewerDist: null, crossOriginIsolation: true }, log), false);
  });
  it('mounts nothing when the build is missing', () => {
    assert.equal(mountViewer(express(), { viewerDist: join(tmpdir(), 'no-such-ohif-build'), crossOriginIsolation: true }, log), false);
  });
  it('rejects a bad VIEWER value', () => {
    assert.throws(() => loadConfig({ VIEWER: 'maybe' }), /VIEWER="maybe"/);
  });
});

describe('plugin file names: one contract', () => {
  it('scripts/build-plugins.mjs writes the files the contract names (the server serves, the mode imports)', async () => {
    const script = new URL('../../../scripts/build-plugins.mjs', import.meta.url).href; // plain JS, no typings
    const { PLUGINS } = (await import(script)) as { PLUGINS: { outfile: string }[] };
    const { PLUGIN_FILES } = await import('@vista3d/models');
    assert.deepEqual(PLUGINS.map((p) => p.outfile.split('/').pop()).sort(), Object.values(PLUGIN_FILES).sort());
  });
});
