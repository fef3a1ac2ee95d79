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
  /** When set, every /v1 request except health must carry `Authorization: Bearer <API_KEY>`. */
  API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Origins allowed to call the API from a browser (CORS); empty: same-origin only. */
  CORS_ORIGINS: list.default([]),
  SHUTDOWN_GRACE_MS: int(0).default(30_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
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
  apiKey: string | undefined;
  corsOrigins: string[];
  shutdownGraceMs: number;
  logLevel: Env['LOG_LEVEL'];
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
    apiKey: e.API_KEY,
    corsOrigins: e.CORS_ORIGINS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
  };
}
