import { parseManifest, type GraphName, type ModelBundle, type ModelManifest } from '@vista3d/models';

/** The part of a Cache Storage `Cache` the model store uses (tests pass an in-memory one). */
export interface ModelCache {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
}

/** The Cache Storage cache the viewer keeps model files in. */
export const MODEL_CACHE_NAME = 'vista3d-models';

/** Default bound on a model run in the browser: its graphs together (bytes). NVIDIA's VISTA3D (≈750 MB) is over it. */
export const DEFAULT_MAX_BROWSER_MODEL_BYTES = 512 * 1024 * 1024;

export interface LoadModelOptions {
  fetch?: typeof fetch;
  cache: ModelCache;
  headers?: Record<string, string>;
  maxBytes?: number;
}

export interface LoadedBundle {
  bundle: ModelBundle;
  fromCache: string[];
  downloaded: string[];
  bytes: number;
}

export const formatBytes = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} kB`);

/** Lower-case hex SHA-256 (Web Crypto: browsers, workers and Node). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A model bundle for the browser, from `baseUrl` (a folder URL ending in /: model.json and the graphs it names):
 * model.json from the network (the cached copy when the network fails), each graph from `cache` when the copy
 * there matches model.json's SHA-256, else downloaded, checked against it and put into `cache` (keyed by URL and
 * hash, so a new version never meets an old file). Refused before any graph is downloaded when the graphs
 * together are larger than `maxBytes` (sizes from model.json, else from the server's Content-Length), and when
 * model.json lists no hash for a graph: a browser runs only what it can check.
 */
export async function loadModelBundle(baseUrl: string, opts: LoadModelOptions): Promise<LoadedBundle> {
  const fetchImpl = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BROWSER_MODEL_BYTES;
  const headers = opts.headers ?? {};
  const manifestUrl = new URL('model.json', baseUrl).href;
  let manifestText: string;
  let fromNetwork = true;
  try {
    const r = await fetchImpl(manifestUrl, { headers, cache: 'no-store' });
    if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
    manifestText = await r.text();
  } catch (e) {
    const cached = await opts.cache.match(manifestUrl);
    if (!cached) throw new Error(`The model cannot be loaded into this browser: ${manifestUrl} answered ${(e as Error).message}, and this browser holds no copy of it.`);
    manifestText = await cached.text();
    fromNetwork = false;
  }
  const manifest = parseManifest(JSON.parse(manifestText), manifestUrl);
  const model = `${manifest.name} ${manifest.version}`;
  const names = Object.keys(manifest.graphs) as GraphName[];
  const url = (g: GraphName) => new URL(manifest.graphs[g].file, baseUrl).href;

  // sizes first: a model too large is refused before a byte of it is downloaded
  const sizes = await Promise.all(names.map(async (g) => manifest.graphs[g].bytes ?? (fromNetwork ? await declaredSize(fetchImpl, url(g), headers) : 0)));
  const total = sizes.reduce((s, n) => s + n, 0);
  if (total > maxBytes) {
    const parts = names.map((g, n) => `${manifest.graphs[g].file} ${formatBytes(sizes[n])}`).join(', ');
    throw new Error(`The model ${model} is ${formatBytes(total)} (${parts}): too large to run in this browser (at most ${formatBytes(maxBytes)}). Run it on the server.`);
  }
  const unhashed = names.filter((g) => !manifest.graphs[g].sha256);
  if (unhashed.length) {
    throw new Error(`The model ${model} cannot be checked in this browser: its model.json lists no sha256 for ${unhashed.map((g) => manifest.graphs[g].file).join(', ')} (npm run hash-bundle writes them).`);
  }

  const fromCache: string[] = [];
  const downloaded: string[] = [];
  const graphs = {} as Record<GraphName, Uint8Array>;
  let bytes = 0;
  for (const g of names) {
    const spec = manifest.graphs[g];
    const key = `${url(g)}?sha256=${spec.sha256}`;
    let data = await cachedBytes(opts.cache, key, spec.sha256!);
    if (data) fromCache.push(spec.file);
    else {
      data = await download(fetchImpl, url(g), headers, spec, maxBytes - bytes, model);
      await opts.cache.put(key, new Response(data as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }));
      downloaded.push(spec.file);
    }
    bytes += data.length;
    graphs[g] = data;
  }
  if (fromNetwork) await opts.cache.put(manifestUrl, new Response(manifestText, { headers: { 'content-type': 'application/json' } }));
  return { bundle: { manifest, graphs }, fromCache, downloaded, bytes };
}

/** The bytes under `key` when they are there and match `sha256`; null otherwise (a damaged copy is downloaded again). */
async function cachedBytes(cache: ModelCache, key: string, sha256: string): Promise<Uint8Array | null> {
  const hit = await cache.match(key);
  if (!hit) return null;
  const data = new Uint8Array(await hit.arrayBuffer());
  return (await sha256Hex(data)) === sha256 ? data : null;
}

async function declaredSize(fetchImpl: typeof fetch, url: string, headers: Record<string, string>): Promise<number> {
  const r = await fetchImpl(url, { method: 'HEAD', headers });
  if (!r.ok) throw new Error(`The model cannot be loaded into this browser: ${url} answered ${r.status} ${r.statusText}.`);
  return Number(r.headers.get('content-length') ?? 0);
}

async function download(fetchImpl: typeof fetch, url: string, headers: Record<string, string>, spec: ModelManifest['graphs'][GraphName], budget: number, model: string): Promise<Uint8Array> {
  const r = await fetchImpl(url, { headers });
  if (!r.ok) throw new Error(`The model cannot be loaded into this browser: ${url} answered ${r.status} ${r.statusText}.`);
  const length = Number(r.headers.get('content-length') ?? NaN);
  if (length > budget) {
    await r.body?.cancel();
    throw new Error(`The model ${model} is too large to run in this browser: ${spec.file} alone is ${formatBytes(length)}. Run it on the server.`);
  }
  const data = new Uint8Array(await r.arrayBuffer());
  const got = await sha256Hex(data);
  if (got !== spec.sha256) throw new Error(`The model ${model} failed its check: ${spec.file} has SHA-256 ${got}, model.json says ${spec.sha256} (${formatBytes(data.length)} received).`);
  return data;
}
