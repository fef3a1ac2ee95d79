/**
 * Requests to the configured DICOMweb PACS (DICOMWEB_URL), shared by the /dicomweb proxy and the series loader.
 * The upstream is configured by the operator, so it may be on loopback or the LAN (no SSRF guard); clients never
 * choose the host: only paths under DICOMWEB_URL are requested. Failures become HttpErrors with one wording:
 * 502 "PACS unreachable at …" when no connection/answer could be had, 504 when it did not answer in time.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { HttpError } from '../http/errors.ts';

export interface UpstreamOptions {
  /** DICOMWEB_URL, no trailing slash. */
  base: string;
  /** Authorization header value (DICOMWEB_AUTH). */
  auth?: string;
  /** Longest wait for the response headers (ms). */
  timeoutMs: number;
}

/**
 * The upstream URL for `pathAndQuery` (starting with `/`, relative to DICOMWEB_URL), or a 400 if it would leave
 * DICOMWEB_URL's path (dot segments, encoded or not).
 */
export function upstreamUrl(base: string, pathAndQuery: string): URL {
  const path = pathAndQuery.split('?')[0];
  if (!path.startsWith('/') || /(^|\/)(\.|%2e){1,2}(\/|$)/i.test(path) || /%2f|%5c|\\/i.test(path)) {
    throw new HttpError(400, 'invalid_dicomweb_path', `DICOMweb path ${JSON.stringify(path.slice(0, 200))} is not allowed`);
  }
  const url = new URL(base + pathAndQuery);
  const prefix = new URL(base).pathname.replace(/\/+$/, '');
  if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) throw new HttpError(400, 'invalid_dicomweb_path', `DICOMweb path ${JSON.stringify(path.slice(0, 200))} is not allowed`);
  return url;
}

/** Where the PACS is, for messages: origin and path, never credentials or query. */
export function describeUpstream(base: string): string {
  const u = new URL(base);
  return `${u.origin}${u.pathname}`;
}

/**
 * Sends one request upstream and resolves with the response once its headers arrive (any status: the caller
 * decides). `body`: a stream to pipe (the proxy) or nothing. Rejects with 502 "PACS unreachable at …" on
 * connection errors, 504 when the headers take longer than `timeoutMs`, 499 when `signal` aborts.
 */
export function requestUpstream(
  opts: UpstreamOptions,
  url: URL,
  init: { method?: string; headers?: Record<string, string>; body?: NodeJS.ReadableStream; signal?: AbortSignal },
): Promise<IncomingMessage> {
  const where = describeUpstream(opts.base);
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { 'user-agent': 'vista3d-ohif', ...init.headers };
    if (opts.auth) headers.authorization = opts.auth;
    const req = mod.request(url, { method: init.method ?? 'GET', headers, signal: init.signal });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new HttpError(504, 'pacs_timeout', `PACS at ${where} did not answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    timer.unref();
    req.on('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (init.signal?.aborted) return reject(new HttpError(499, 'cancelled', 'the client went away'));
      reject(new HttpError(502, 'pacs_unreachable', `PACS unreachable at ${where}: ${e.code ?? e.message}`));
    });
    if (init.body) init.body.pipe(req);
    else req.end();
  });
}

/** A 502 for an upstream answer that is an error of the PACS or of our credentials, or null to pass it on. */
export function upstreamFailure(base: string, status: number, what: string): HttpError | null {
  const where = describeUpstream(base);
  if (status === 401 || status === 403 || status === 407) {
    return new HttpError(502, 'pacs_auth_failed', `PACS at ${where} refused this server's credentials (HTTP ${status}) for ${what}; check DICOMWEB_AUTH`);
  }
  if (status >= 500) return new HttpError(502, 'pacs_error', `PACS at ${where} answered HTTP ${status} for ${what}`);
  return null;
}
