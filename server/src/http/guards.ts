import type { RequestHandler } from 'express';
import { HttpError } from './errors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery: a state-changing request (POST, PUT, DELETE…) from a browser must come from this
 * server's own origin, PUBLIC_URL's, or one of CORS_ORIGINS. Browsers send `Origin` on such requests (and
 * `Sec-Fetch-Site`); scripts send neither and pass (they authenticate with a key when one is required).
 */
export function sameOriginOnly(opts: { publicOrigin: string | null; corsOrigins: readonly string[] }): RequestHandler {
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const origin = req.get('origin');
    const own = `${req.protocol}://${req.get('host')}`;
    const ok = origin === undefined ? req.get('sec-fetch-site') !== 'cross-site' : origin === own || origin === opts.publicOrigin || opts.corsOrigins.includes(origin);
    if (ok) return next();
    next(new HttpError(403, 'cross_origin_refused', `${req.method} from origin ${JSON.stringify(origin ?? 'cross-site')} is refused: only this server's own pages (or CORS_ORIGINS) may change state`));
  };
}

/** A request body must be JSON (415 otherwise): a web page cannot send JSON cross-origin without a CORS preflight. */
export function jsonBodiesOnly(): RequestHandler {
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method) || req.method === 'DELETE') return next();
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (!hasBody) return next();
    if (req.is('application/json') || req.is('+json')) return next();
    next(new HttpError(415, 'unsupported_media_type', `request body must be JSON (Content-Type: application/json), not ${JSON.stringify(req.get('content-type') ?? 'none')}`));
  };
}

/**
 * Refuses a body whose declared Content-Length is over `limit` at once, without reading it (the connection is
 * closed after the answer, so nothing more is read either).
 */
export function declaredLengthLimit(limit: number, what: string): RequestHandler {
  return (req, res, next) => {
    const raw = req.get('content-length');
    if (raw === undefined) return next();
    const declared = Number(raw);
    if (!/^\d+$/.test(raw.trim())) return next(new HttpError(400, 'bad_content_length', `Content-Length ${JSON.stringify(raw.slice(0, 40))} is not a number`));
    if (declared <= limit) return next();
    res.set('Connection', 'close');
    next(new HttpError(413, 'body_too_large', `request body is ${declared} bytes, over the ${limit}-byte limit (${what})`));
  };
}
