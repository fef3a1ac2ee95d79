import assert from 'node:assert/strict';
import { copyFileSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadModelBundle, sha256Hex, type ModelCache } from './modelStore.ts';

const PHANTOM = fileURLToPath(new URL('../../../models/bundles/phantom/', import.meta.url));
const NVIDIA_MANIFEST = fileURLToPath(new URL('../../../models/vista3d/model.json', import.meta.url));

/** Cache Storage's contract in memory: Responses by key. */
function memoryCache(): ModelCache & { keys(): string[]; entries: Map<string, Uint8Array> } {
  const entries = new Map<string, Uint8Array>();
  return {
    entries,
    keys: () => [...entries.keys()],
    async match(key) {
      const b = entries.get(key);
      return b ? new Response(b as Uint8Array<ArrayBuffer>) : undefined;
    },
    async put(key, response) {
      entries.set(key, new Uint8Array(await response.arrayBuffer()));
    },
  };
}

/** A static file server over folders (HEAD answers the real size), counting GETs per file. */
function serve(dirs: Record<string, string>): Promise<{ url: string; gets: Map<string, number>; server: Server }> {
  const gets = new Map<string, number>();
  const server = createServer((req, res) => {
    const [, dir, file] = /^\/([\w-]+)\/([\w.-]+)$/.exec(req.url ?? '') ?? [];
    const root = dirs[dir];
    if (!root) return void res.writeHead(404).end();
    const path = join(root, file);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return void res.writeHead(404).end();
    }
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();
    gets.set(`${dir}/${file}`, (gets.get(`${dir}/${file}`) ?? 0) + 1);
    createReadStream(path).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, gets, server })));
}

describe('the browser model store: download once, check against model.json, keep in Cache Storage', () => {
  let dir: string;
  let http: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'v3d-modelstore-'));
    const tampered = join(dir, 'tampered');
    const nvidia = join(dir, 'nvidia');
    for (const d of [tampered, nvidia]) {
      mkdirSync(d, { recursive: true });
    }
    for (const f of ['model.json', 'encoder.onnx', 'class_head.onnx', 'point_head.onnx']) copyFileSync(join(PHANTOM, f), join(tampered, f));
    const enc = readFileSync(join(tampered, 'encoder.onnx'));
    enc[enc.length - 1] ^= 0xff;
    writeFileSync(join(tampered, 'encoder.onnx'), enc);
    // NVIDIA's VISTA3D manifest beside graphs of its sizes (sparse files: no disk used)
    copyFileSync(NVIDIA_MANIFEST, join(nvidia, 'model.json'));
    for (const [f, n] of [['encoder.onnx', 786_432_000], ['class_head.onnx', 9_500_000], ['point_head.onnx', 31_000_000]] as const) {
      writeFileSync(join(nvidia, f), '');
      truncateSync(join(nvidia, f), n);
    }
    http = await serve({ phantom: PHANTOM, tampered, nvidia });
  });
  after(() => {
    http?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads each graph once, checked; the next load takes them from the cache', async () => {
    const cache = memoryCache();
    const first = await loadModelBundle(`${http.url}/phantom/`, { cache });
    assert.deepEqual(first.downloaded.sort(), ['class_head.onnx', 'encoder.onnx', 'point_head.onnx']);
    assert.deepEqual(first.fromCache, []);
    assert.equal(first.bundle.manifest.name, 'vista3d-phantom-small');
    assert.deepEqual(first.bundle.graphs.encoder, new Uint8Array(readFileSync(join(PHANTOM, 'encoder.onnx'))));
    const second = await loadModelBundle(`${http.url}/phantom/`, { cache });
    assert.deepEqual(second.fromCache.sort(), ['class_head.onnx', 'encoder.onnx', 'point_head.onnx']);
    assert.deepEqual(second.downloaded, []);
    assert.equal(http.gets.get('phantom/encoder.onnx'), 1);
    // the cache keys carry the hash, so that another version never meets this file
    const manifest = JSON.parse(readFileSync(join(PHANTOM, 'model.json'), 'utf8'));
    assert.ok(cache.keys().includes(`${http.url}/phantom/encoder.onnx?sha256=${manifest.graphs.encoder.sha256}`));
  });

  it('works from the cache alone when the server is unreachable', async () => {
    const cache = memoryCache();
    await loadModelBundle(`${http.url}/phantom/`, { cache });
    const gone = (() => Promise.reject(new TypeError('fetch failed'))) as typeof fetch;
    const offline = await loadModelBundle(`${http.url}/phantom/`, { cache, fetch: gone });
    assert.equal(offline.fromCache.length, 3);
    await assert.rejects(loadModelBundle(`${http.url}/phantom/`, { cache: memoryCache(), fetch: gone }), /this browser holds no copy of it/);
  });

  it('downloads again a cached copy that no longer matches its hash', async () => {
    const cache = memoryCache();
    await loadModelBundle(`${http.url}/phantom/`, { cache });
    const key = cache.keys().find((k) => k.includes('encoder.onnx'))!;
    const damaged = cache.entries.get(key)!.slice();
    damaged[10] ^= 1;
    cache.entries.set(key, damaged);
    const again = await loadModelBundle(`${http.url}/phantom/`, { cache });
    assert.deepEqual(again.downloaded, ['encoder.onnx']);
    assert.equal(await sha256Hex(cache.entries.get(key)!), JSON.parse(readFileSync(join(PHANTOM, 'model.json'), 'utf8')).graphs.encoder.sha256);
  });

  it('refuses a graph whose bytes do not match model.json, naming both hashes', async () => {
    await assert.rejects(loadModelBundle(`${http.url}/tampered/`, { cache: memoryCache() }), /failed its check: encoder\.onnx has SHA-256 [0-9a-f]{64}, model\.json says 6adaca05/);
  });

  it("refuses NVIDIA's VISTA3D (≈790 MB of graphs) before downloading it, naming the size", async () => {
    const cache = memoryCache();
    await assert.rejects(loadModelBundle(`${http.url}/nvidia/`, { cache }), (e: Error) => {
      assert.match(e.message, /^The model vista3d 0\.5\.4 is 826\.9 MB \(encoder\.onnx 786\.4 MB, class_head\.onnx 9\.5 MB, point_head\.onnx 31\.0 MB\): too large to run in this browser \(at most 536\.9 MB\)\. Run it on the server\.$/);
      return true;
    });
    assert.equal(http.gets.get('nvidia/encoder.onnx'), undefined, 'no graph was downloaded');
    assert.deepEqual(cache.keys(), []);
  });

  it('refuses a model over a lower bound, with the declared sizes of model.json', async () => {
    await assert.rejects(loadModelBundle(`${http.url}/phantom/`, { cache: memoryCache(), maxBytes: 1_000_000 }), /vista3d-phantom-small 0\.2\.0 is 2\.2 MB \(encoder\.onnx 2\.2 MB, class_head\.onnx 21 kB, point_head\.onnx 33 kB\): too large to run in this browser \(at most 1\.0 MB\)/);
  });
});
