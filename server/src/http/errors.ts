import type { ErrorRequestHandler } from 'express';
import { ModelsError, type ModelsErrorCode } from '@vista3d/models';
import type { Logger } from '../logger.ts';

/**
 * The one HTTP error type (STYLE rule 8). `message` goes to the client as `{"detail": message}` for 4xx;
 * 5xx bodies carry a generic message and the request id, never a stack trace.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** How the models package's typed errors reach the client. */
const STATUS_OF: Record<ModelsErrorCode, number> = {
  invalid_image: 415,
  unsupported_format: 415,
  limit_exceeded: 413,
  invalid_prompt: 422,
  invalid_model: 500,
  cancelled: 499,
  backend_unavailable: 503,
};

export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof ModelsError) return new HttpError(STATUS_OF[e.code], e.code, e.message);
  const err = e as { type?: string; status?: number; message?: string; limit?: number };
  // body-parser's errors (express.json): too large, malformed JSON
  if (err?.type === 'entity.too.large') return new HttpError(413, 'body_too_large', `request body exceeds the limit of ${err.limit} bytes`);
  if (err?.type === 'entity.parse.failed') return new HttpError(400, 'malformed_json', `request body is not valid JSON: ${err.message}`);
  if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) return new HttpError(err.status, 'bad_request', err.message ?? 'bad request');
  return new HttpError(500, 'internal', 'internal server error');
}

/**
 * How a failure is told in a job's or a prepare's view (read later, not in the failing request): the status (a
 * client that left, 499, becomes 409) and the message, or a generic one for an internal error.
 */
export function errorView(e: unknown): { status: number; detail: string } {
  const h = toHttpError(e);
  return { status: h.status === 499 ? 409 : h.status, detail: h.status >= 500 && h.code === 'internal' ? 'internal server error' : h.message };
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (e, req, res, _next) => {
    const h = toHttpError(e);
    const id = String(res.locals.requestId ?? '');
    if (h.status >= 500) log.error('request failed', { requestId: id, method: req.method, path: req.path, status: h.status, error: (e as Error)?.stack ?? String(e) });
    else log.warn('request rejected', { requestId: id, method: req.method, path: req.path, status: h.status, detail: h.message });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A body not read to its end is not read at all: the connection closes after the answer.
    if (!req.complete) res.set('Connection', 'close');
    const detail = h.status >= 500 && h.code === 'internal' ? `internal server error (request id ${id})` : h.message;
    res.status(h.status === 499 ? 400 : h.status).set(h.headers).json({ detail });
  };
}
