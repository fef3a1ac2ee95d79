#!/usr/bin/env node
// Fetches the prebuilt OHIF viewer (@ohif/app, its `dist/` only) into .cache/ohif-app-<version>/dist, once.
// The @ohif/app package cannot be installed as a dependency (its own dependencies do not resolve), so its
// tarball is fetched with `npm pack`, checked against the pinned integrity and extracted. Plain Node: runs
// before any dependency. Idempotent: a complete extraction (marker file) is left alone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const OHIF_APP = {
  name: '@ohif/app',
  version: '3.13.2',
  integrity: 'sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA==',
};

const root = new URL('..', import.meta.url).pathname;
const cacheDir = join(root, '.cache', `ohif-app-${OHIF_APP.version}`);
/** Where the viewer's static files end up (index.html, app-config.js, the built-in extensions and modes). */
export const VIEWER_DIST = join(cacheDir, 'dist');
const marker = join(cacheDir, '.complete');

function fail(message) {
  throw new Error(`fetch-viewer: ${message}`);
}

function sri(file) {
  const [algo] = OHIF_APP.integrity.split('-');
  return `${algo}-${createHash(algo).update(readFileSync(file)).digest('base64')}`;
}

export function fetchViewer() {
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === OHIF_APP.integrity && existsSync(join(VIEWER_DIST, 'index.html'))) return VIEWER_DIST;
  mkdirSync(cacheDir, { recursive: true });
  const spec = `${OHIF_APP.name}@${OHIF_APP.version}`;
  const tgz = join(cacheDir, `ohif-app-${OHIF_APP.version}.tgz`);
  if (!existsSync(tgz) || sri(tgz) !== OHIF_APP.integrity) {
    console.error(`fetching the OHIF viewer (${spec}, ≈50 MB)…`);
    const r = spawnSync('npm', ['pack', spec, '--pack-destination', cacheDir, '--json', '--ignore-scripts', '--registry', 'https://registry.npmjs.org/'], { cwd: cacheDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) fail(`npm pack ${spec} failed (exit ${r.status})`);
    const packed = join(cacheDir, JSON.parse(r.stdout)[0].filename.replace(/^@ohif\//, 'ohif-'));
    if (packed !== tgz) renameSync(packed, tgz);
  }
  const got = sri(tgz);
  if (got !== OHIF_APP.integrity) {
    rmSync(tgz, { force: true });
    fail(`integrity mismatch for ${spec}: expected ${OHIF_APP.integrity}, got ${got}`);
  }
  // Extract into a fresh temporary folder, then move into place: an interrupted run leaves no half tree.
  const tmp = mkdtempSync(join(cacheDir, 'extract-'));
  try {
    const r = spawnSync('tar', ['-xzf', tgz, '-C', tmp, '--no-same-owner', 'package/dist'], { stdio: 'inherit' });
    if (r.status !== 0) fail(`could not extract ${tgz} (tar exit ${r.status})`);
    if (!existsSync(join(tmp, 'package/dist/index.html'))) fail(`${spec} has no dist/index.html`);
    rmSync(VIEWER_DIST, { recursive: true, force: true });
    renameSync(join(tmp, 'package/dist'), VIEWER_DIST);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  rmSync(tgz, { force: true });
  writeFileSync(marker, `${OHIF_APP.integrity}\n`);
  console.error(`OHIF viewer ready in ${VIEWER_DIST} (${readdirSync(VIEWER_DIST).length} entries)`);
  return VIEWER_DIST;
}

/**
 * For `npm start` and `npm test`: fetches the viewer if needed; on failure (offline, registry down) says so and
 * goes on, since the API works without the viewer (and the browser test skips). Returns the dist folder or null.
 */
export function ensureViewer() {
  try {
    return fetchViewer();
  } catch (e) {
    console.error(`${e.message}\nthe OHIF viewer is not available; the server runs without it (retry: node scripts/fetch-viewer.mjs)`);
    return null;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    fetchViewer();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
