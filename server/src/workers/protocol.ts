/**
 * What a front end and a worker say to each other, over a worker process's IPC channel or through Redis: plain
 * data only (typed arrays included: IPC uses structured clone).
 */
import type { ModelManifest, PrepareView } from '@vista3d/models';
import { HttpError, toHttpError } from '../http/errors.ts';
import type { RunProgress, RunRequest } from '../inference/engine.ts';
import type { JobOutput } from '../inference/jobs.ts';
import type { QueueLoad } from '../inference/queue.ts';

export type PrepareCall = 'prepare' | 'getPrepare' | 'cancelPrepare';

export type ToWorker =
  | { t: 'run'; id: string; req: RunRequest }
  | { t: 'cancel'; id: string }
  | { t: PrepareCall; id: string; client: string; image: string };

export type FromWorker =
  | { t: 'ready'; manifest: ModelManifest; device: string }
  | { t: 'progress'; id: string; p: RunProgress; position?: number }
  | { t: 'done'; id: string; out: JobOutput }
  | { t: 'failed'; id: string; error: WireError }
  | { t: 'reply'; id: string; view: PrepareView | undefined }
  | { t: 'load'; load: QueueLoad };

/** An error as it crosses a process: what the client is told, never a stack. */
export interface WireError {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

export function toWire(e: unknown): WireError {
  const h = toHttpError(e);
  return { status: h.status, code: h.code, message: h.status >= 500 && h.code === 'internal' ? 'internal server error' : h.message, headers: h.headers };
}

export function fromWire(w: WireError): HttpError {
  return new HttpError(w.status, w.code, w.message, w.headers);
}
