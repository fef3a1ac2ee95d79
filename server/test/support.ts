import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import type { JobView } from '@vista3d/models';
import { exactBundle, writeBundleDir, type ExactBundleOptions } from '../../models/test/support/testBundles.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startServer, type RunningServer } from '../src/server.ts';

/** A temporary workspace: model bundle, image root, output root, and a served folder for URL images. */
export interface TestEnv {
  dir: string;
  images: string;
  outputs: string;
  served: string;
  cleanup(): Promise<void>;
}

export async function makeTestEnv(bundle: ExactBundleOptions = {}): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'vista3d-server-'));
  const env = { dir, images: join(dir, 'images'), outputs: join(dir, 'outputs'), served: join(dir, 'served'), cleanup: () => rm(dir, { recursive: true, force: true }) };
  await Promise.all([mkdir(env.images), mkdir(env.outputs), mkdir(env.served)]);
  await writeBundleDir(join(dir, 'model'), exactBundle(bundle));
  return env;
}

/** Starts our server on a free loopback port with the test bundle; `env` overrides variables. */
export async function startTestServer(t: TestEnv, env: Record<string, string> = {}): Promise<RunningServer> {
  const config = loadConfig({
    NIM_HTTP_API_PORT: '0',
    HOST: '127.0.0.1',
    MODEL_DIR: join(t.dir, 'model'),
    DEVICE: 'cpu',
    THREADS: '1',
    IMAGE_ROOTS: t.images,
    OUTPUT_ROOTS: t.outputs,
    IMAGE_URI_ALLOWED_NETWORKS: '127.0.0.0/8',
    LOG_LEVEL: 'silent',
    SHUTDOWN_GRACE_MS: '5000',
    // the test bundles' ROIs are a few voxels: thousands of windows on images that a real model runs in one
    MAX_WINDOWS: '1000000',
    ...env,
  });
  const s = await startServer(config, { log: createLogger('silent') });
  await s.ready;
  return s;
}

export interface FileServer {
  url: string;
  server: Server;
  /** Requests seen, by path. */
  hits: string[];
  close(): Promise<void>;
}

/**
 * A local image host for tests: serves `root`'s files; `/redirect/<name>?to=URL` redirects; `/slow/...` never
 * answers; `/huge.nii.gz` declares a 10 GB body; `/status/NNN/<name>` answers that status; `/delay/MS/<name>` serves
 * `<name>` after MS milliseconds.
 */
export async function startFileServer(root: string): Promise<FileServer> {
  const hits: string[] = [];
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    hits.push(u.pathname);
    if (u.pathname.startsWith('/redirect/')) return void res.writeHead(302, { location: u.searchParams.get('to') ?? '/' }).end();
    if (u.pathname.startsWith('/slow/')) return; // hold the connection open
    if (u.pathname === '/huge.nii.gz') return void res.writeHead(200, { 'content-length': String(10 * 1024 ** 3) }).end();
    const delay = /^\/delay\/(\d+)(\/.*)$/.exec(u.pathname);
    if (delay) {
      await new Promise((r) => setTimeout(r, Number(delay[1])));
      u.pathname = delay[2];
    }
    const status = /^\/status\/(\d{3})/.exec(u.pathname);
    if (status) return void res.writeHead(Number(status[1])).end();
    try {
      const body = await readFile(join(root, normalize(decodeURIComponent(u.pathname)).replace(/^(\.\.[/\\])+/, '')));
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    hits,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Starts a viewer job at `server` (its base URL): 202 expected; the job's id. */
export async function startJob(server: { url: string }, body: unknown): Promise<string> {
  const r = await fetch(`${server.url}/v1/vista3d/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(r.status, 202, await r.clone().text());
  return ((await r.json()) as JobView).id;
}

/** A job's view at `server`: 200 expected. */
export async function jobView(server: { url: string }, id: string): Promise<JobView> {
  const r = await fetch(`${server.url}/v1/vista3d/jobs/${id}`);
  assert.equal(r.status, 200, `${server.url}: ${await r.clone().text()}`);
  return (await r.json()) as JobView;
}

/**
 * Polls a job's view until `ok` holds or `ms` pass (then the last view). `tolerate`: a view that cannot be had (a
 * front end restarting) is tried again rather than failing.
 */
export async function untilJob(server: { url: string }, id: string, ok: (v: JobView) => boolean, ms = 60_000, tolerate = false): Promise<JobView> {
  const t0 = Date.now();
  let last: JobView | undefined;
  for (;;) {
    const v = tolerate ? await jobView(server, id).catch(() => undefined) : await jobView(server, id);
    if (v) last = v;
    if ((v && ok(v)) || Date.now() - t0 > ms) return last!;
    await new Promise((r) => setTimeout(r, 25));
  }
}
