/**
 * The viewer's API beside the NIM's: jobs (`/v1/vista3d/jobs`: start, watch as events or by polling, wait for,
 * fetch as a region or a file, cancel) and prepares (`/v1/vista3d/prepare`: load an image ahead of its first
 * prompt). Parses, bounds and calls; the work is in inference/jobs.ts, inference/prepare.ts and inference/run.ts.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Router, type Request, type Response } from 'express';
import {
  EVENTS_HEARTBEAT_S,
  formatRegionHeader,
  JOB_EVENTS,
  jobEnded,
  MAX_RESULT_WAIT_S,
  OUTSIDE_HEADER,
  REGION_HEADER,
  RESULT_FORMATS,
  type ResultFormat,
} from '@vista3d/models';
import type { AppDeps } from '../app.ts';
import { HttpError } from '../http/errors.ts';
import { HeldRequests, openEventStream } from '../http/eventStream.ts';
import type { Engine } from '../inference/engine.ts';
import { describeJob, JobRegistry, type Job, type JobStore } from '../inference/jobs.ts';
import { prepareInference } from '../inference/run.ts';
import { acceptsGzip, attachment, clientOf, clientSignal, parseInferenceRequest, parsePrepareRequest } from './requests.ts';

const gzipAsync = promisify(gzip);

/** Progress events of one stream are at least this far apart (the last change is always sent). */
export const EVENT_MIN_INTERVAL_MS = 50;

function parseFormat(v: unknown): ResultFormat {
  if (v === undefined) return 'zip';
  if (typeof v === 'string' && (RESULT_FORMATS as readonly string[]).includes(v)) return v as ResultFormat;
  throw new HttpError(400, 'invalid_format', `format ${JSON.stringify(String(v).slice(0, 40))} is not one of ${RESULT_FORMATS.join(', ')}`);
}

/** `wait`: seconds, 0 to MAX_RESULT_WAIT_S (decimals allowed); absent: 0. */
function parseWait(v: unknown): number {
  if (v === undefined) return 0;
  const n = typeof v === 'string' && /^\d{1,3}(\.\d{1,3})?$/.test(v) ? Number(v) : NaN;
  if (!(n <= MAX_RESULT_WAIT_S)) throw new HttpError(400, 'invalid_wait', `wait ${JSON.stringify(String(v).slice(0, 40))} is not a number of seconds from 0 to ${MAX_RESULT_WAIT_S}`);
  return n;
}

function imageQuery(req: Request): string {
  const v = req.query.image;
  if (typeof v !== 'string' || !v || v.length > 4096) throw new HttpError(400, 'malformed_request', 'give the image as ?image=<the image of the prepare> (one, at most 4096 characters)');
  return v;
}

/** The region file's name: the full file's stem + `_region.nii`. */
const regionName = (fileName: string) => `${fileName.replace(/\.(nii(\.gz)?|nrrd|nhdr)$/i, '')}_region.nii`;

export function jobsRouter(deps: AppDeps, engine: () => Engine): Router {
  const { config } = deps;
  const r = Router();
  const jobs: JobStore = deps.jobs ?? new JobRegistry({ ...config.jobs, timeoutMs: config.requestTimeoutMs });
  const held = new HeldRequests(config.streams.perClient, config.streams.total);
  const hold = (res: Response) =>
    held.take(clientOf(res), (why, n) =>
      why === 'client'
        ? new HttpError(429, 'too_many_open_requests', `you hold ${n} event streams and waiting result requests open, the limit per client; close some first`, { 'Retry-After': '5' })
        : new HttpError(503, 'too_many_open_requests', `the server holds ${n} event streams and waiting result requests, its limit; retry later`, { 'Retry-After': '5' }),
    );
  const expiry = `results expire ${config.jobs.ttlMs / 1000} s after the job ends, ${config.jobs.fetchedTtlMs / 1000} s after they are fetched`;
  const findJob = async (id: string, res: Response): Promise<Job> => {
    const j = await jobs.get(id, clientOf(res));
    if (!j) throw new HttpError(404, 'job_not_found', `no job ${JSON.stringify(id.slice(0, 64))} (${expiry})`);
    return j;
  };

  r.post('/vista3d/jobs', async (req, res) => {
    const body = parseInferenceRequest(req.body);
    const e = engine();
    const prepared = await prepareInference(body, e.model, config);
    // the viewer's prompts are interactive; "everything" (no prompts) is batch work
    const run = e.admit({ prepared, priority: body.prompts ? 'interactive' : 'batch', client: clientOf(res) });
    let job: Job;
    try {
      job = await jobs.start(clientOf(res), run);
    } catch (err) {
      run.release();
      throw err;
    }
    res.status(202).set('Location', `${req.baseUrl}/vista3d/jobs/${job.id}`).json(describeJob(job));
  });

  r.get('/vista3d/jobs/:id', async (req, res) => {
    res.json(describeJob(await findJob(req.params.id, res)));
  });

  // Server-sent events: the view now, then at each change (at most every EVENT_MIN_INTERVAL_MS), `end` last.
  r.get('/vista3d/jobs/:id/events', async (req, res) => {
    const j = await findJob(req.params.id, res);
    const release = hold(res);
    let unwatch = () => undefined as void;
    let timer: NodeJS.Timeout | undefined;
    const stream = openEventStream(res, {
      heartbeatMs: EVENTS_HEARTBEAT_S * 1000,
      onClose: () => {
        clearTimeout(timer);
        unwatch();
        release();
      },
    });
    let last = Date.now();
    stream.send(JOB_EVENTS.progress, describeJob(j));
    const end = () => {
      stream.send(JOB_EVENTS.end, describeJob(j));
      stream.close();
    };
    if (jobEnded(j)) return end();
    const flush = () => {
      timer = undefined;
      last = Date.now();
      stream.send(JOB_EVENTS.progress, describeJob(j));
    };
    unwatch = jobs.watch(j, () => {
      if (jobEnded(j)) return end();
      if (timer) return;
      const wait = last + EVENT_MIN_INTERVAL_MS - Date.now();
      if (wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    });
  });

  r.get('/vista3d/jobs/:id/result', async (req, res) => {
    const format = parseFormat(req.query.format);
    const wait = parseWait(req.query.wait);
    const j = await findJob(req.params.id, res);
    if (wait > 0 && !jobEnded(j)) {
      const release = hold(res);
      const gone = clientSignal(req, res);
      try {
        await jobs.ended(j, AbortSignal.any([gone, AbortSignal.timeout(wait * 1000)]));
      } finally {
        release();
      }
      if (gone.aborted) return;
    }
    if (j.state === 'failed' || j.state === 'cancelled') throw new HttpError(j.error?.status ?? 500, 'job_failed', j.error?.detail ?? `job ${j.state}`);
    const stored = j.result;
    if (!stored) {
      throw new HttpError(409, 'job_not_done', `job ${j.id} is ${j.state} (${j.stage} ${j.done}/${j.total})${wait ? ` after waiting ${wait} s` : ''}; poll /v1/vista3d/jobs/${j.id}, or ask again with ?wait=<seconds up to ${MAX_RESULT_WAIT_S}>`);
    }
    const bytes = await jobs.read(j, format);
    if (format === 'region') {
      res.status(200).type('application/octet-stream').set({
        'Content-Disposition': attachment(regionName(stored.fileName)),
        [REGION_HEADER]: formatRegionHeader(stored.lo, stored.hi),
        [OUTSIDE_HEADER]: String(stored.outside),
        'Cache-Control': 'private, no-store',
        Vary: 'Accept-Encoding',
      });
      if (!acceptsGzip(req.get('accept-encoding'))) return void res.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      // level 1: the labels compress well already; the time saved counts more than the bytes (on zlib's thread pool)
      const packed = await gzipAsync(bytes, { level: 1 });
      return void res.set('Content-Encoding', 'gzip').send(packed);
    }
    res
      .status(200)
      .type(format === 'file' ? 'application/octet-stream' : 'application/zip')
      .set('Content-Disposition', attachment(format === 'file' ? stored.fileName : 'result.zip'))
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });

  r.delete('/vista3d/jobs/:id', async (req, res) => {
    const j = await jobs.cancel(req.params.id, clientOf(res));
    if (!j) throw new HttpError(404, 'job_not_found', `no job ${JSON.stringify(req.params.id.slice(0, 64))}`);
    res.json(describeJob(j));
  });

  // Prepare: read an image into the server's caches (and its model-space state) before its first prompt.
  r.post('/vista3d/prepare', async (req, res) => {
    const { image } = parsePrepareRequest(req.body);
    res.status(202).json(await engine().prepare(clientOf(res), image));
  });

  r.get('/vista3d/prepare', async (req, res) => {
    const image = imageQuery(req);
    const v = await engine().getPrepare(image, clientOf(res));
    if (!v) throw new HttpError(404, 'prepare_not_found', `no prepare of ${JSON.stringify(image.slice(0, 200))} that you asked for (ended ones are forgotten after a minute)`);
    res.json(v);
  });

  r.delete('/vista3d/prepare', async (req, res) => {
    const image = imageQuery(req);
    const v = await engine().cancelPrepare(image, clientOf(res));
    if (!v) throw new HttpError(404, 'prepare_not_found', `no prepare of ${JSON.stringify(image.slice(0, 200))} that you asked for`);
    res.json(v);
  });

  return r;
}
