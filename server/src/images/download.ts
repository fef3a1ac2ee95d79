import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Config } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import { isWhitelisted } from './domainWhitelist.ts';
import { guardedLookup, RefusedAddressError, refusedRange } from './network.ts';

export interface Downloaded {
  bytes: Uint8Array;
  /** The URL finally read (after redirects). */
  url: URL;
}

const MAX_REDIRECTS = 5;

/**
 * Checks an image URL before any connection: scheme, HTTPS-only, the domain whitelist, literal IP addresses.
 * DNS names are checked when connecting (guardedLookup).
 */
export function checkImageUrl(raw: string, cfg: Config['images']): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HttpError(400, 'invalid_image_url', `image ${JSON.stringify(raw)} is not a valid URL or allowed path`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HttpError(400, 'invalid_image_url', `image URL scheme ${url.protocol} is not supported; use http(s)`);
  if (cfg.httpsOnly && url.protocol !== 'https:') throw new HttpError(400, 'https_required', `image URL ${url.origin} must use https (IMAGE_URI_HTTPS_ONLY is on)`);
  if (url.username || url.password) throw new HttpError(400, 'invalid_image_url', 'image URLs may not carry credentials');
  if (!isWhitelisted(url, cfg.domainWhitelist)) {
    throw new HttpError(403, 'domain_not_allowed', `image URL ${url.origin}${url.pathname} is not in DOMAIN_WHITELIST`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const range = refusedRange(host, cfg.allowedNetworks);
    if (range) throw new HttpError(403, 'address_not_allowed', new RefusedAddressError(host, host, range).message);
  }
  return url;
}

/**
 * Downloads an image over http(s) with every guard on: address checks at each connection and each redirect,
 * a byte limit (Content-Length and actual), a timeout, and the caller's abort signal.
 */
export async function downloadImage(raw: string, cfg: Config['images'], signal?: AbortSignal): Promise<Downloaded> {
  const timeout = AbortSignal.timeout(cfg.downloadTimeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let url = checkImageUrl(raw, cfg);
  for (let hop = 0; ; hop++) {
    const r = await request(url, cfg, combined).catch((e) => {
      if (timeout.aborted) throw new HttpError(504, 'image_timeout', `image download from ${url.host} took longer than ${cfg.downloadTimeoutMs} ms`);
      if (signal?.aborted) throw new HttpError(499, 'cancelled', 'the client went away');
      if (e instanceof RefusedAddressError) throw new HttpError(403, 'address_not_allowed', e.message);
      if (e instanceof HttpError) throw e;
      throw new HttpError(502, 'image_host_unreachable', `cannot fetch the image from ${url.host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    });
    if (r.kind === 'redirect') {
      if (!cfg.allowRedirects) throw new HttpError(400, 'redirect_not_allowed', `image URL ${url.href} redirects (HTTP ${r.status}) and IMAGE_URI_ALLOW_REDIRECTS is off`);
      if (hop >= MAX_REDIRECTS) throw new HttpError(502, 'too_many_redirects', `image URL redirected more than ${MAX_REDIRECTS} times`);
      url = checkImageUrl(redirectTarget(r.location, url), cfg);
      continue;
    }
    return { bytes: r.bytes, url };
  }
}

/**
 * Where a redirect leads. A Location that is no URL is the image host's fault, not the client's: 502 (like the
 * host's other bad answers), with the location in the message.
 */
function redirectTarget(location: string, from: URL): string {
  try {
    return new URL(location, from).href;
  } catch {
    throw new HttpError(502, 'image_host_error', `image URL ${from.href} redirects to ${JSON.stringify(location.slice(0, 200))}, which is not a valid URL`);
  }
}

type Result = { kind: 'redirect'; status: number; location: string } | { kind: 'body'; bytes: Uint8Array };

function request(url: URL, cfg: Config['images'], signal: AbortSignal): Promise<Result> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.get(url, { lookup: guardedLookup(cfg.allowedNetworks), signal, rejectUnauthorized: !cfg.ignoreSslErrors, headers: { 'user-agent': 'vista3d-ohif' } }, (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        return resolve({ kind: 'redirect', status, location: res.headers.location });
      }
      if (status !== 200) {
        res.resume();
        const code = status === 404 || status === 410 ? 404 : 502;
        return reject(new HttpError(code, code === 404 ? 'image_not_found' : 'image_host_error', `image host answered HTTP ${status} for ${url.href}`));
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > cfg.maxDownloadBytes) {
        res.destroy();
        return reject(new HttpError(413, 'image_too_large', `image at ${url.href} is ${declared} bytes, over the MAX_DOWNLOAD_BYTES limit of ${cfg.maxDownloadBytes}`));
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (c: Buffer) => {
        total += c.length;
        if (total > cfg.maxDownloadBytes) {
          res.destroy();
          reject(new HttpError(413, 'image_too_large', `image at ${url.href} is over the MAX_DOWNLOAD_BYTES limit of ${cfg.maxDownloadBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ kind: 'body', bytes: new Uint8Array(Buffer.concat(chunks)) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
