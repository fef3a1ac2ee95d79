import type { Request, Response } from 'express';
import type { z } from 'zod';
import { HttpError } from '../http/errors.ts';
import { InferenceRequestSchema, PrepareRequestSchema, type InferenceRequest } from '../http/schemas.ts';

type PrepareRequest = z.infer<typeof PrepareRequestSchema>;

/** Zod issues → one message naming each offending field. */
export function describeIssues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

/** A request body must be a JSON object (with an "image" field, for every body our routes take). */
function requireObject(body: unknown): void {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'malformed_request', 'request body must be a JSON object with an "image" field (Content-Type: application/json)');
  }
}

export function parseInferenceRequest(body: unknown): InferenceRequest {
  requireObject(body);
  const r = InferenceRequestSchema.safeParse(body);
  if (r.success) return r.data;
  // Malformed prompts are the NIM's 422 (FastAPI validation); a missing/invalid image is a malformed request.
  const promptIssue = r.error.issues.every((i) => i.path[0] === 'prompts');
  throw new HttpError(promptIssue ? 422 : 400, promptIssue ? 'invalid_prompt' : 'malformed_request', describeIssues(r.error));
}

/** `POST /v1/vista3d/prepare`'s body: `{image}`, as a job names its image. */
export function parsePrepareRequest(body: unknown): PrepareRequest {
  requireObject(body);
  const r = PrepareRequestSchema.safeParse(body);
  if (!r.success) throw new HttpError(400, 'malformed_request', describeIssues(r.error));
  return r.data;
}

/** A Content-Disposition for a name made safe by outputNameFor (ASCII letters, digits, `._-` only). */
export function attachment(name: string): string {
  return `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`;
}

/** Aborts when the client disconnects before the response is sent. */
export function clientSignal(req: Request, res: Response): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  req.on('aborted', () => ac.abort());
  return ac.signal;
}

/** Who a request comes from (API key, user, or address), for the bounds per client. */
export const clientOf = (res: Response): string => res.locals.principal?.id ?? 'anonymous';

/** True when an `Accept-Encoding` value accepts gzip (listed, and not with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== 'x-gzip') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
