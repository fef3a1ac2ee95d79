import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { parseWhitelistEntry, type UrlPattern } from './images/domainWhitelist.ts';

/**
 * The server's configuration: one typed object read from the environment once at start-up (STYLE rule 7).
 * Names follow the VISTA3D NIM where it has one (NIM_HTTP_API_PORT, DOMAIN_WHITELIST, SUPPORTED_IMAGE_EXT,
 * IMAGE_URI_HTTPS_ONLY, IMAGE_URI_ALLOW_REDIRECTS, IGNORE_SSL_ERRORS). Every variable is documented in
 * `.env.example`. A bad value stops start-up with a message naming every offending variable.
 */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DEFAULT_MODEL_DIR = resolve(REPO_ROOT, 'models/bundles/phantom');
export const DEFAULT_VIEWER_DIST = resolve(REPO_ROOT, '.cache/ohif-app-3.13.2/dist');

/** A list given as a JSON array or as comma-separated values. */
const list = z
  .string()
  .transform((s, ctx) => {
    const t = s.trim();
    if (!t) return [];
    if (t.startsWith('[')) {
      try {
        const v = JSON.parse(t);
        if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
      } catch {
        /* reported below */
      }
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of strings or a comma-separated list' });
      return z.NEVER;
    }
    return t.split(',').map((x) => x.trim()).filter(Boolean);
  });
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const paths = list.transform((l) => l.map((p) => (isAbsolute(p) ? p : resolve(p))));

const EnvSchema = z.object({
  NIM_HTTP_API_PORT: int(0, 65535).default(8000),
  HOST: z.string().min(1).default('127.0.0.1'),
  MODEL_DIR: z.string().min(1).default(DEFAULT_MODEL_DIR),
  DEVICE: z.enum(['auto', 'cpu', 'cuda', 'webgpu']).default('auto'),
  THREADS: int(0, 256).default(0),
  /** Folders that local image paths / file:// URLs may point into (after symlinks). Empty: none allowed. */
  IMAGE_ROOTS: paths.default([]),
  /** Folders that `local_working_dir` may point into. Empty: none allowed. */
  OUTPUT_ROOTS: paths.default([]),
  /** URL prefixes, host names, `*` globs or regular expressions (the rule: images/domainWhitelist.ts); empty: any URL that passes the network checks. */
  DOMAIN_WHITELIST: list.default([]),
  SUPPORTED_IMAGE_EXT: list.default(['.nii', '.nii.gz', '.nrrd', '.dcm']),
  IMAGE_URI_HTTPS_ONLY: bool.default(false),
  IMAGE_URI_ALLOW_REDIRECTS: bool.default(true),
  IGNORE_SSL_ERRORS: bool.default(false),
  /** CIDR ranges that image URLs may resolve into although private/loopback/link-local (e.g. a PACS on the LAN). */
  IMAGE_URI_ALLOWED_NETWORKS: list.default([]),
  MAX_DOWNLOAD_BYTES: int(1).default(1024 ** 3),
  MAX_DECOMPRESSED_BYTES: int(1).default(2 * 1024 ** 3),
  MAX_VOXELS: int(1).default(2 ** 28),
  DOWNLOAD_TIMEOUT_MS: int(1).default(120_000),
  /** Longest a request may take, queueing included. */
  REQUEST_TIMEOUT_MS: int(1).default(900_000),
  MAX_BODY_BYTES: int(1).default(1024 * 1024),
  /** Requests admitted behind the running one (loading their image or waiting for the device) before the server answers 503. */
  QUEUE_DEPTH: int(0).default(8),
  /** How the device picks its next job: `priority` (the viewer's prompts first, clients in turn, batch work yielding between windows) or `fifo`. */
  QUEUE_POLICY: z.enum(['priority', 'fifo']).default('priority'),
  /** Worker processes (the NIM's name): 1 runs inference in the server process; more fork that many, one device each. */
  NIM_HTTP_MAX_WORKERS: int(0, 64).default(1),
  /** GPU ids handed to the workers in turn as CUDA_VISIBLE_DEVICES (e.g. `0,1`); empty: the CPU threads are split between them. */
  WORKER_DEVICE_IDS: list.default([]),
  /** Redis (redis://host:port/db): job queue and job state shared by every front end and worker; unset: all in this process. */
  /** A worker that has not beaten for this long is taken for dead: its jobs go to another worker (once). */
  WORKER_TIMEOUT_MS: int(1000).default(10_000),
  REDIS_URL: z.string().regex(/^rediss?:\/\/\S+$/, 'a redis:// or rediss:// URL').optional(),
  /** Images downloaded and decoded at once (bytes in flight ≤ this × MAX_DOWNLOAD_BYTES); admitted requests wait for a slot. */
  MAX_CONCURRENT_LOADS: int(1, 64).default(2),
  /** Most model-space voxels one request may make (its image resampled to the model's spacing), checked before allocating. */
  MAX_MODEL_VOXELS: int(1).default(2 ** 27),
  /** Most sliding windows one request may run (classes × windows + point windows), checked before running any. */
  MAX_WINDOWS: int(1).default(1024),
  /** Jobs (/v1/vista3d/jobs) kept at once, running or finished and not yet expired; beyond: 503. */
  MAX_JOBS: int(1).default(64),
  /** Jobs one client (API key, user or address) may hold at once; beyond: 503 for that client only. */
  MAX_JOBS_PER_CLIENT: int(1).default(8),
  /** Finished jobs' results expire this long after the job ends (ms); a fetched result after RESULT_FETCHED_TTL_MS. */
  RESULT_TTL_MS: int(1000).default(10 * 60_000),
  RESULT_FETCHED_TTL_MS: int(0).default(60_000),
  /** Folder for finished jobs' results (written atomically, removed on expiry); default: a fresh folder under the OS temp dir. */
  RESULT_DIR: z.string().min(1).optional(),
  /** Bytes of results kept on disk at once; when used up, new jobs get 503 until results expire or are fetched. */
  RESULT_STORE_BYTES: int(1).default(4 * 1024 ** 3),
  /** Longest a request body may take to arrive (ms): slow bodies are cut. */
  BODY_TIMEOUT_MS: int(1000).default(120_000),
  /** Most simultaneous client connections. */
  MAX_CONNECTIONS: int(1).default(256),
  /** Event streams and waiting result requests (…/events, …/result?wait) open at once, per client and in all: 429 / 503 beyond. */
  MAX_OPEN_STREAMS_PER_CLIENT: int(1).default(8),
  MAX_OPEN_STREAMS: int(1).default(512),
  /** Images being prepared (/v1/vista3d/prepare) at once, in all and per client: 503 / 429 beyond. */
  MAX_PREPARES: int(1).default(8),
  MAX_PREPARES_PER_CLIENT: int(1).default(4),
  /** Most entries in a DICOMweb list parameter (frames, includefield, …). */
  MAX_LIST_ENTRIES: int(1).default(1024),
  /** Bytes of encoder features kept between requests on the same image (LRU; the next click runs only the heads); 0 disables. */
  FEATURE_CACHE_BYTES: int(0).default(1024 ** 3),
  /** Bytes of prepared model-space images kept per image content (LRU; the next class prompt skips pre-processing); 0 disables. */
  PREPARED_CACHE_BYTES: int(0).default(1024 ** 3),
  /** Most windows one point prompt runs: those around its clicks, then neighbours where the structure reaches an inner edge. */
  MAX_POINT_WINDOWS: int(1, 64).default(16),
  /** When set, every request but health and the viewer's static files must be authenticated; scripts send `Authorization: Bearer <API_KEY>`. */
  API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /** People who may log in to the viewer (/login, session cookie): a file of `name:scrypt$…` lines (`npm run user -- add NAME`). Turns authentication on. */
  USERS_FILE: z.string().min(1).optional(),
  /** How long a viewer login lasts without use (ms). */
  SESSION_IDLE_MS: int(60_000).default(8 * 3600_000),
  /** OpenID Connect: bearer tokens (JWT) from this issuer are accepted (OHIF's oidc login attaches them). Turns authentication on. */
  OIDC_ISSUER: z.url({ protocol: /^https?$/, error: 'must be the issuer URL, e.g. https://keycloak.example.org/realms/hospital' }).optional(),
  /** The audience (`aud`) tokens must carry; required with OIDC_ISSUER. */
  OIDC_AUDIENCE: z.string().min(1).optional(),
  /** The issuer's JWKS URL; default: jwks_uri from <OIDC_ISSUER>/.well-known/openid-configuration. */
  OIDC_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** OHIF's oidc client configuration for the viewer (client id registered at the issuer); with OIDC_ISSUER. */
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  /** Origins allowed to call the API from a browser (CORS); empty: same-origin only. */
  CORS_ORIGINS: list.default([]),
  SHUTDOWN_GRACE_MS: int(0).default(30_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /** Serve the OHIF viewer at / (with the VISTA3D extension and mode) unless false. */
  VIEWER: bool.default(true),
  /** The prebuilt OHIF viewer (@ohif/app dist/), fetched by scripts/fetch-viewer.mjs. */
  VIEWER_DIST: z.string().min(1).default(DEFAULT_VIEWER_DIST),
  /** Serve the viewer cross-origin isolated (COOP/COEP): in-browser inference then runs WebAssembly threads. */
  CROSS_ORIGIN_ISOLATION: bool.default(true),
  /** Upstream DICOMweb root (e.g. http://127.0.0.1:8042/dicom-web) that /dicomweb proxies to; empty: the embedded store. */
  DICOMWEB_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:8042/dicom-web' }).optional(),
  /** Authorization header value sent upstream ("Basic …" or "Bearer …"). */
  DICOMWEB_AUTH: z.string().regex(/^(Basic|Bearer) \S+$/, 'must be "Basic <base64>" or "Bearer <token>"').optional(),
  /** Bytes of decoded series kept for series-URL images (LRU); 0 disables the cache. */
  SERIES_CACHE_BYTES: int(0).default(2 * 1024 ** 3),
  /** The embedded store's sample study: `<kind>:<seed>` (torso or head), true (= torso:7) or false (none). */
  SAMPLE_STUDY: z
    .string()
    .regex(/^(true|false|(torso|head):\d{1,9})$/, 'must be true, false or <kind>:<seed> with kind torso or head (e.g. torso:7)')
    .default('true'),
  /** Bytes the embedded store accepts by STOW-RS (viewer saves) before it answers "out of resources". */
  DICOMWEB_STORE_BYTES: int(0).default(512 * 1024 ** 2),
  /** This server's public origin (e.g. https://viewer.example.org) when it is reached by a name other than loopback. */
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) origin such as https://viewer.example.org' }).optional(),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  /** The variables this configuration was read from (the known ones, as given): what worker processes get. */
  env: Record<string, string>;
  port: number;
  host: string;
  modelDir: string;
  device: Env['DEVICE'];
  threads: number;
  imageRoots: string[];
  outputRoots: string[];
  images: {
    domainWhitelist: UrlPattern[];
    supportedExtensions: string[];
    httpsOnly: boolean;
    allowRedirects: boolean;
    ignoreSslErrors: boolean;
    allowedNetworks: [ipaddr.IPv4 | ipaddr.IPv6, number][];
    maxDownloadBytes: number;
    downloadTimeoutMs: number;
  };
  limits: { maxVoxels: number; maxDecompressedBytes: number };
  requestTimeoutMs: number;
  maxBodyBytes: number;
  queueDepth: number;
  queuePolicy: 'priority' | 'fifo';
  /** Worker processes this server forks (1: none, inference in this process; 0: none, only with REDIS_URL). */
  workers: number;
  workerDeviceIds: string[];
  redisUrl: string | null;
  workerTimeoutMs: number;
  maxConcurrentLoads: number;
  /** What one request may cost, checked before the work is allocated. */
  work: { maxModelVoxels: number; maxWindows: number };
  jobs: { maxJobs: number; maxPerClient: number; ttlMs: number; fetchedTtlMs: number; resultDir: string | null; storeBytes: number };
  bodyTimeoutMs: number;
  maxConnections: number;
  maxListEntries: number;
  streams: { perClient: number; total: number };
  prepares: { maxOutstanding: number; maxPerClient: number };
  featureCacheBytes: number;
  preparedCacheBytes: number;
  maxPointWindows: number;
  apiKey: string | undefined;
  auth: {
    /** True when any credential is configured: every route but health and the static viewer needs one. */
    required: boolean;
    usersFile: string | null;
    sessionIdleMs: number;
    oidc: { issuer: string; audience: string; jwksUrl: string | null; clientId: string | null } | null;
  };
  corsOrigins: string[];
  shutdownGraceMs: number;
  logLevel: Env['LOG_LEVEL'];
  /** The OHIF viewer's dist folder served at /; null: no viewer (VIEWER=false). */
  viewerDist: string | null;
  crossOriginIsolation: boolean;
  dicomweb: {
    /** Upstream DICOMweb root without a trailing slash; null: the embedded store serves /dicomweb. */
    url: string | null;
    auth: string | undefined;
    seriesCacheBytes: number;
    /** The embedded store's sample study (null: none, or an upstream is configured). */
    sampleStudy: { kind: 'torso' | 'head'; seed: number } | null;
    storeBytes: number;
    /** Origins (scheme://host:port) under which this server's own /dicomweb is addressed, besides loopback. */
    publicOrigin: string | null;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the configuration from an environment (process.env by default). */
/** A process entry's configuration: the environment's, or the problems on stderr and exit code 2. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (e) {
    process.stderr.write(`${e instanceof ConfigError ? e.message : String(e)}\n`);
    process.exit(2);
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.keys(EnvSchema.shape);
  const raw = Object.fromEntries(known.filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]]));
  const r = EnvSchema.safeParse(raw);
  const problems = r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}=${JSON.stringify(raw[String(i.path[0])] ?? '')}: ${i.message}`);
  const e = r.success ? r.data : undefined;
  const whitelist: UrlPattern[] = [];
  const networks: Config['images']['allowedNetworks'] = [];
  if (e) {
    for (const p of e.DOMAIN_WHITELIST) {
      try {
        whitelist.push(parseWhitelistEntry(p));
      } catch (err) {
        problems.push(`DOMAIN_WHITELIST: ${(err as Error).message}`);
      }
    }
    for (const c of e.IMAGE_URI_ALLOWED_NETWORKS) {
      try {
        networks.push(ipaddr.parseCIDR(c));
      } catch {
        problems.push(`IMAGE_URI_ALLOWED_NETWORKS: ${JSON.stringify(c)} is not a CIDR range (e.g. 10.0.0.0/8)`);
      }
    }
    for (const x of e.SUPPORTED_IMAGE_EXT) if (!x.startsWith('.')) problems.push(`SUPPORTED_IMAGE_EXT: ${JSON.stringify(x)} must start with a dot`);
    if (e.DICOMWEB_URL) {
      const u = new URL(e.DICOMWEB_URL);
      if (u.username || u.password) problems.push('DICOMWEB_URL: must not carry credentials; put them in DICOMWEB_AUTH ("Basic <base64 user:password>")');
      if (u.search || u.hash) problems.push(`DICOMWEB_URL: ${JSON.stringify(e.DICOMWEB_URL)} must be a root URL without query or fragment`);
    }
    if (e.NIM_HTTP_MAX_WORKERS === 0 && !e.REDIS_URL) problems.push('NIM_HTTP_MAX_WORKERS: 0 (a front end without workers) needs REDIS_URL, where workers elsewhere take the jobs');
    if (e.OIDC_ISSUER && !e.OIDC_AUDIENCE) problems.push('OIDC_AUDIENCE: required with OIDC_ISSUER (the audience your issuer puts in the viewer\'s tokens)');
    if (!e.OIDC_ISSUER && (e.OIDC_AUDIENCE || e.OIDC_JWKS_URL || e.OIDC_CLIENT_ID)) problems.push('OIDC_ISSUER: required with OIDC_AUDIENCE, OIDC_JWKS_URL or OIDC_CLIENT_ID');
  }
  if (problems.length || !e) throw new ConfigError(problems);
  return {
    env: raw as Record<string, string>,
    port: e.NIM_HTTP_API_PORT,
    host: e.HOST,
    modelDir: resolve(e.MODEL_DIR),
    device: e.DEVICE,
    threads: e.THREADS,
    imageRoots: e.IMAGE_ROOTS,
    outputRoots: e.OUTPUT_ROOTS,
    images: {
      domainWhitelist: whitelist,
      supportedExtensions: e.SUPPORTED_IMAGE_EXT.map((x) => x.toLowerCase()),
      httpsOnly: e.IMAGE_URI_HTTPS_ONLY,
      allowRedirects: e.IMAGE_URI_ALLOW_REDIRECTS,
      ignoreSslErrors: e.IGNORE_SSL_ERRORS,
      allowedNetworks: networks,
      maxDownloadBytes: e.MAX_DOWNLOAD_BYTES,
      downloadTimeoutMs: e.DOWNLOAD_TIMEOUT_MS,
    },
    limits: { maxVoxels: e.MAX_VOXELS, maxDecompressedBytes: e.MAX_DECOMPRESSED_BYTES },
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    queueDepth: e.QUEUE_DEPTH,
    queuePolicy: e.QUEUE_POLICY,
    workers: e.NIM_HTTP_MAX_WORKERS,
    workerDeviceIds: e.WORKER_DEVICE_IDS,
    redisUrl: e.REDIS_URL ?? null,
    workerTimeoutMs: e.WORKER_TIMEOUT_MS,
    maxConcurrentLoads: e.MAX_CONCURRENT_LOADS,
    work: { maxModelVoxels: e.MAX_MODEL_VOXELS, maxWindows: e.MAX_WINDOWS },
    jobs: {
      maxJobs: e.MAX_JOBS,
      maxPerClient: Math.min(e.MAX_JOBS_PER_CLIENT, e.MAX_JOBS),
      ttlMs: e.RESULT_TTL_MS,
      fetchedTtlMs: e.RESULT_FETCHED_TTL_MS,
      resultDir: e.RESULT_DIR ? resolve(e.RESULT_DIR) : null,
      storeBytes: e.RESULT_STORE_BYTES,
    },
    bodyTimeoutMs: e.BODY_TIMEOUT_MS,
    maxConnections: e.MAX_CONNECTIONS,
    maxListEntries: e.MAX_LIST_ENTRIES,
    streams: { perClient: Math.min(e.MAX_OPEN_STREAMS_PER_CLIENT, e.MAX_OPEN_STREAMS), total: e.MAX_OPEN_STREAMS },
    prepares: { maxOutstanding: e.MAX_PREPARES, maxPerClient: Math.min(e.MAX_PREPARES_PER_CLIENT, e.MAX_PREPARES) },
    featureCacheBytes: e.FEATURE_CACHE_BYTES,
    preparedCacheBytes: e.PREPARED_CACHE_BYTES,
    maxPointWindows: e.MAX_POINT_WINDOWS,
    apiKey: e.API_KEY,
    auth: {
      required: Boolean(e.API_KEY || e.USERS_FILE || e.OIDC_ISSUER),
      usersFile: e.USERS_FILE ? resolve(e.USERS_FILE) : null,
      sessionIdleMs: e.SESSION_IDLE_MS,
      oidc: e.OIDC_ISSUER ? { issuer: e.OIDC_ISSUER, audience: e.OIDC_AUDIENCE!, jwksUrl: e.OIDC_JWKS_URL ?? null, clientId: e.OIDC_CLIENT_ID ?? null } : null,
    },
    corsOrigins: e.CORS_ORIGINS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
    viewerDist: e.VIEWER ? resolve(e.VIEWER_DIST) : null,
    crossOriginIsolation: e.CROSS_ORIGIN_ISOLATION,
    dicomweb: {
      url: e.DICOMWEB_URL ? `${new URL(e.DICOMWEB_URL).origin}${new URL(e.DICOMWEB_URL).pathname.replace(/\/+$/, '')}` : null,
      auth: e.DICOMWEB_AUTH,
      seriesCacheBytes: e.SERIES_CACHE_BYTES,
      sampleStudy: e.DICOMWEB_URL || e.SAMPLE_STUDY === 'false' ? null : sampleStudy(e.SAMPLE_STUDY),
      storeBytes: e.DICOMWEB_STORE_BYTES,
      publicOrigin: e.PUBLIC_URL ? new URL(e.PUBLIC_URL).origin : null,
    },
  };
}

function sampleStudy(v: string): { kind: 'torso' | 'head'; seed: number } {
  if (v === 'true') return { kind: 'torso', seed: 7 };
  const [kind, seed] = v.split(':');
  return { kind: kind as 'torso' | 'head', seed: Number(seed) };
}
