import { z } from 'zod';
import type { Vec3 } from '../geometry/volume.ts';

/**
 * The wire contract of the server's jobs API (`/v1/vista3d/jobs`, `/v1/vista3d/prepare`, beside the NIM's
 * synchronous endpoint), as the server writes it and the viewer reads it: one module for both sides.
 */
export const JobViewSchema = z.object({
  id: z.string(),
  state: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']),
  /** Pipeline stage (`Progress.stage`) or `queued` / `load`. */
  stage: z.string(),
  done: z.number(),
  total: z.number(),
  error: z.object({ status: z.number(), detail: z.string() }).optional(),
  /** The result's file name (`<stem>_seg.<ext>`), once done. */
  file_name: z.string().optional(),
  /** What the server's image reader assumed (a NIfTI geometry fallback, NaN voxels), once done. */
  warnings: z.array(z.string()).optional(),
  /** While it waits for the device: 1 = next to run (interactive prompts go before batch work, clients in turn). */
  queue_position: z.number().int().positive().optional(),
});
export type JobView = z.infer<typeof JobViewSchema>;

/** A job that has ended (its view no longer changes). */
export const jobEnded = (v: Pick<JobView, 'state'>): boolean => v.state !== 'queued' && v.state !== 'running';

/**
 * `GET …/jobs/{id}/result?format=`:
 * - `zip` (default): the NIM's answer, a zip of the full-grid file;
 * - `file`: that file alone (`<stem>_seg.nii.gz`, or `.nii` / `.nrrd` after the input);
 * - `region`: what the viewer reads — an uncompressed NIfTI-1 of the result's box only, with its own affine
 *   (the input's spacing and direction, the origin at the box's first voxel), plus REGION_HEADER and
 *   OUTSIDE_HEADER; HTTP `Content-Encoding: gzip` when the client accepts it.
 */
export const RESULT_FORMATS = ['zip', 'file', 'region'] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

/** `…/result?wait=<seconds>`: longest a result request waits for its job to end (then 409 as without wait). */
export const MAX_RESULT_WAIT_S = 30;

/** `i0,j0,k0,i1,j1,k1`: the box [lo, hi) of the region on the input's grid (voxel indices, i fastest). */
export const REGION_HEADER = 'X-VISTA3D-Region';
/** What every voxel of the input's grid outside the region holds: 0 (background) or 255 (not processed). */
export const OUTSIDE_HEADER = 'X-VISTA3D-Outside';

export function formatRegionHeader(lo: readonly number[], hi: readonly number[]): string {
  return [...lo, ...hi].join(',');
}

/** The box a REGION_HEADER names, or null when the value is missing or malformed (six integers, lo ≤ hi). */
export function parseRegionHeader(value: string | null | undefined): { lo: Vec3; hi: Vec3 } | null {
  const parts = value?.split(',').map((s) => s.trim());
  if (parts?.length !== 6 || !parts.every((s) => /^\d{1,9}$/.test(s))) return null;
  const n = parts.map(Number);
  const lo = n.slice(0, 3) as Vec3;
  const hi = n.slice(3) as Vec3;
  return lo.every((v, a) => v <= hi[a]) ? { lo, hi } : null;
}

/**
 * `GET …/jobs/{id}/events` (text/event-stream): `progress` events carry the job's view as it changes, the last one
 * is `end` with the final view, then the stream closes; a comment line every EVENTS_HEARTBEAT_S keeps it open.
 */
export const JOB_EVENTS = { progress: 'progress', end: 'end' } as const;
export const EVENTS_HEARTBEAT_S = 15;

/** `POST /v1/vista3d/prepare` `{ image }` → 202 with this; `GET`/`DELETE /v1/vista3d/prepare?image=…` too. */
export const PrepareViewSchema = z.object({
  image: z.string(),
  /** `loading`: the image is being read into the server's caches; `ready`: it is there. */
  state: z.enum(['loading', 'ready', 'failed', 'cancelled']),
  error: z.object({ status: z.number(), detail: z.string() }).optional(),
});
export type PrepareView = z.infer<typeof PrepareViewSchema>;
