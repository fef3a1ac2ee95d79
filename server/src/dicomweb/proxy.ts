/**
 * `/dicomweb/*` → DICOMWEB_URL: a same-origin reverse proxy for the viewer (Orthanc and most PACS send no CORS
 * headers). GET/HEAD/POST only; method, path, query, Accept and Content-Type go upstream, the client's own
 * credentials and hop-by-hop headers do not (DICOMWEB_AUTH is sent instead). Bodies stream both ways (WADO-RS
 * frames and STOW-RS uploads can be large). DICOM JSON bodies (QIDO results, metadata: megabytes at most) are
 * read whole to rewrite the PACS's absolute URLs (BulkDataURI, RetrieveURL) to this server's /dicomweb.
 *
 * What reaches the client: the PACS's 2xx/3xx/4xx as they are (a 404 for an unknown study is the PACS's answer);
 * its 5xx and its refusals of our credentials (401/403) as 502 `{detail}`; no connection as 502 "PACS unreachable
 * at …"; no answer within DOWNLOAD_TIMEOUT_MS as 504.
 */
import { Router, type Request, type Response, type NextFunction } from 'express';
import { HttpError } from '../http/errors.ts';
import type { Logger } from '../logger.ts';
import { requestUpstream, upstreamFailure, upstreamUrl, type UpstreamOptions } from './upstream.ts';

const FORWARDED_REQUEST_HEADERS = ['accept', 'content-type', 'content-length', 'if-none-match', 'if-modified-since', 'range', 'x-request-id'];
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'set-cookie', 'www-authenticate']);

/** DICOM JSON bodies up to this size are rewritten; larger ones pass as they are. */
const MAX_REWRITE_BYTES = 64 * 1024 ** 2;

/**
 * A rewrite of the PACS's absolute URLs under its DICOMweb path (whatever host name it used: its own, an internal
 * one, DICOMWEB_URL's) to `to`. With DICOMWEB_URL at the server root, only URLs on DICOMWEB_URL's origin.
 */
export function upstreamUrlPattern(base: string): RegExp {
  const u = new URL(base);
  const escape = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const path = u.pathname.replace(/\/+$/, '');
  return new RegExp(`${path ? 'https?://[^/"\\s]+' : escape(u.origin)}${escape(path)}(?=[/"?])`, 'g');
}

/** Buffers a JSON body (up to MAX_REWRITE_BYTES), rewrites upstream URLs, and sends it; larger bodies go as they are. */
function rewriteJson(up: NodeJS.ReadableStream, res: Response, pattern: RegExp, to: string): void {
  const chunks: Buffer[] = [];
  let total = 0;
  let passing = false;
  up.on('data', (c: Buffer) => {
    if (passing) return void res.write(c);
    chunks.push(c);
    total += c.length;
    if (total > MAX_REWRITE_BYTES) {
      passing = true;
      res.write(Buffer.concat(chunks));
    }
  });
  up.on('end', () => {
    if (passing) return void res.end();
    res.end(Buffer.from(Buffer.concat(chunks).toString('utf8').replace(pattern, to), 'utf8'));
  });
}

export function dicomwebProxyRouter(upstream: UpstreamOptions, log: Logger): Router {
  const r = Router();
  const pattern = upstreamUrlPattern(upstream.base);
  r.use((req: Request, res: Response, next: NextFunction) => {
    if (!['GET', 'HEAD', 'POST'].includes(req.method)) return next(new HttpError(405, 'method_not_allowed', `${req.method} is not proxied to the PACS (GET, HEAD, POST only)`));
    const url = upstreamUrl(upstream.base, req.url);
    const headers: Record<string, string> = {};
    for (const h of FORWARDED_REQUEST_HEADERS) {
      const v = req.get(h);
      if (v !== undefined) headers[h] = v;
    }
    if (req.method === 'POST' && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    const what = `${req.method} ${req.baseUrl}${req.path}`;
    requestUpstream(upstream, url, { method: req.method, headers, body: req.method === 'POST' ? req : undefined, signal: ac.signal })
      .then((up) => {
        const status = up.statusCode ?? 502;
        const failure = upstreamFailure(upstream.base, status, what);
        if (failure) {
          up.resume();
          return next(failure);
        }
        const own = `${req.protocol}://${req.get('host')}${req.baseUrl}`;
        const contentType = String(up.headers['content-type'] ?? '');
        const rewrite = /^application\/(dicom\+)?json/i.test(contentType);
        res.status(status);
        for (const [k, v] of Object.entries(up.headers)) {
          if (v === undefined || DROPPED_RESPONSE_HEADERS.has(k) || (rewrite && k === 'content-length')) continue;
          // a redirect or Content-Location into the PACS points at our /dicomweb instead
          res.setHeader(k, k === 'location' || k === 'content-location' ? String(v).replace(pattern, own) : v);
        }
        up.on('error', (e) => {
          if (!ac.signal.aborted) log.warn('PACS response broke off', { requestId: res.locals.requestId, path: what, error: e.message });
          res.destroy();
        });
        if (!rewrite) return void up.pipe(res);
        // absolute upstream URLs in DICOM JSON (Orthanc's BulkDataURI, RetrieveURL) → this server's /dicomweb
        rewriteJson(up, res, pattern, own);
      })
      .catch(next);
  });
  return r;
}
