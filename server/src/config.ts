import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

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
  /** Regular expressions, each matched against the whole image URL; empty: any URL that passes the network checks. */
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
  /** Requests that may wait behind the running one before the server answers 503. */
  QUEUE_DEPTH: int(0).default(8),
  /** Bytes of encoder features kept between requests on the same image (LRU; the next click runs only the heads); 0 disables. */
  FEATURE_CACHE_BYTES: int(0).default(1024 ** 3),
  /** When set, every /v1 request except health must carry `Authorization: Bearer <API_KEY>`. */
  API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Origins allowed to call the API from a browser (CORS); empty: same-origin only. */
  CORS_ORIGINS: list.default([]),
  SHUTDOWN_GRACE_MS: int(0).default(30_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /** Serve the OHIF viewer at / (with the VISTA3D extension and mode) unless false. */
  VIEWER: bool.default(true),
  /** The prebuilt OHIF viewer (@ohif/app dist/), fetched by scripts/fetch-viewer.mjs. */
  VIEWER_DIST: z.string().min(1).default(DEFAULT_VIEWER_DIST),
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
  port: number;
  host: string;
  modelDir: string;
  device: Env['DEVICE'];
  threads: number;
  imageRoots: string[];
  outputRoots: string[];
  images: {
    domainWhitelist: RegExp[];
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
  featureCacheBytes: number;
  apiKey: string | undefined;
  corsOrigins: string[];
  shutdownGraceMs: number;
  logLevel: Env['LOG_LEVEL'];
  /** The OHIF viewer's dist folder served at /; null: no viewer (VIEWER=false). */
  viewerDist: string | null;
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
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.keys(EnvSchema.shape);
  const raw = Object.fromEntries(known.filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]]));
  const r = EnvSchema.safeParse(raw);
  const problems = r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}=${JSON.stringify(raw[String(i.path[0])] ?? '')}: ${i.message}`);
  const e = r.success ? r.data : undefined;
  const whitelist: RegExp[] = [];
  const networks: Config['images']['allowedNetworks'] = [];
  if (e) {
    for (const p of e.DOMAIN_WHITELIST) {
      try {
        whitelist.push(new RegExp(`^(?:${p})$`, 'i'));
      } catch (err) {
        problems.push(`DOMAIN_WHITELIST: ${JSON.stringify(p)} is not a regular expression (${(err as Error).message})`);
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
  }
  if (problems.length || !e) throw new ConfigError(problems);
  return {
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
    featureCacheBytes: e.FEATURE_CACHE_BYTES,
    apiKey: e.API_KEY,
    corsOrigins: e.CORS_ORIGINS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
    viewerDist: e.VIEWER ? resolve(e.VIEWER_DIST) : null,
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
