import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../app.ts';
import { HttpError } from '../http/errors.ts';
import { InferenceRequestSchema, type InferenceRequest } from '../http/schemas.ts';
import { openApiDocument } from '../http/openapi.ts';
import { describeJob, JobRegistry, type Job } from '../inference/jobs.ts';
import { prepareInference, runInference } from '../inference/run.ts';

export const LICENSE_TEXT = `vista3d-ohif server — Apache License 2.0.
The bundled demo model was trained by this project on synthetic phantoms; it is not NVIDIA's VISTA3D.
NVIDIA's VISTA3D weights, when you install them, come under their own licence (see models/vista3d/README.md).`;

/** Zod issues → one message naming each offending field. */
function describeIssues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

export function parseInferenceRequest(body: unknown): InferenceRequest {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'malformed_request', 'request body must be a JSON object with an "image" field (Content-Type: application/json)');
  }
  const r = InferenceRequestSchema.safeParse(body);
  if (r.success) return r.data;
  // Malformed prompts are the NIM's 422 (FastAPI validation); a missing/invalid image is a malformed request.
  const promptIssue = r.error.issues.every((i) => i.path[0] === 'prompts');
  throw new HttpError(promptIssue ? 422 : 400, promptIssue ? 'invalid_prompt' : 'malformed_request', describeIssues(r.error));
}

/** Reader warnings as one header value: printable ASCII only, bounded. */
export function warningHeader(warnings: readonly string[]): string {
  return warnings.join(' | ').replace(/[^\x20-\x7e]/g, '?').slice(0, 2000);
}

/** A Content-Disposition for a name made safe by outputNameFor (ASCII letters, digits, `._-` only). */
function attachment(name: string): string {
  return `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`;
}

/** Aborts when the client disconnects before the response is sent. */
function clientSignal(req: Request, res: Response): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  req.on('aborted', () => ac.abort());
  return ac.signal;
}

export function v1Router(deps: AppDeps): Router {
  const { config, state, images, metrics } = deps;
  const r = Router();
  r.use((req, res, next) => {
    res.locals.routeBase = req.baseUrl;
    next();
  });

  r.get('/health/live', (_req, res) => {
    res.json({ status: state.shuttingDown ? 'shutting down' : 'live' });
  });
  r.get('/health/ready', (_req, res) => {
    const ready = state.ready && !state.shuttingDown;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : state.shuttingDown ? 'shutting down' : 'not ready' });
  });
  r.get('/license', (_req, res) => {
    res.type('text/plain').send(LICENSE_TEXT);
  });
  r.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  r.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const service = () => {
    if (!state.ready || !deps.service()) throw new HttpError(503, 'not_ready', 'the model is still loading; poll /v1/health/ready', { 'Retry-After': '5' });
    return deps.service()!;
  };

  r.get('/vista3d/info', (_req, res) => {
    const s = service();
    const m = s.pipeline.manifest;
    const labels = s.pipeline.labels;
    res.json({
      version: deps.version,
      model: { name: m.name, version: m.version, description: m.description },
      labels: Object.fromEntries(labels.supportedIds.map((id) => [labels.names.get(id) ?? String(id), id])),
      label_dictionary: m.labels,
      everything: m.everything.filter((id) => labels.isSupported(id)),
      subclasses: m.subclasses,
      no_point_prompts: m.noPointPrompts,
      supported_formats: config.images.supportedExtensions,
      device: s.pipeline.device,
      not_processed_value: m.notProcessedValue,
    });
  });

  r.post('/vista3d/inference', async (req, res) => {
    const body = parseInferenceRequest(req.body);
    const s = service();
    const prepared = await prepareInference(body, s, config);
    // a place in the queue before any download: a full queue is a 503 now, not after the image arrived
    const admission = s.queue.admit();
    const out = await runInference(prepared, { service: s, images, metrics }, admission, { signal: clientSignal(req, res) });
    if (out.warnings.length) {
      deps.log.warn('image read with assumptions', { requestId: res.locals.requestId, warnings: out.warnings });
      res.set('X-VISTA3D-Warning', warningHeader(out.warnings));
    }
    res
      .status(200)
      .type('application/zip')
      .set('Content-Disposition', attachment(`${out.fileName.replace(/\.[^.]+(\.gz)?$/i, '')}.zip`))
      .send(Buffer.from(out.zip.buffer, out.zip.byteOffset, out.zip.byteLength));
  });

  // Jobs: the same inference, watched (progress) and cancelled by the viewer. Not part of the NIM API.
  const jobs = deps.jobs ?? new JobRegistry({ ...config.jobs, timeoutMs: config.requestTimeoutMs });
  const client = (res: Response) => res.locals.principal?.id ?? 'anonymous';
  const expiry = `results expire ${config.jobs.ttlMs / 1000} s after the job ends, ${config.jobs.fetchedTtlMs / 1000} s after they are fetched`;
  const findJob = (id: string, res: Response): Job => {
    const j = jobs.get(id, client(res));
    if (!j) throw new HttpError(404, 'job_not_found', `no job ${JSON.stringify(id.slice(0, 64))} (${expiry})`);
    return j;
  };

  r.post('/vista3d/jobs', async (req, res) => {
    const body = parseInferenceRequest(req.body);
    const s = service();
    const prepared = await prepareInference(body, s, config);
    const admission = s.queue.admit();
    let job: Job;
    try {
      job = jobs.start(client(res), (signal, progress) =>
        runInference(prepared, { service: s, images, metrics }, admission, { signal, onProgress: (p) => progress(p.stage, p.done, p.total) }),
      );
    } catch (e) {
      admission.release();
      throw e;
    }
    res.status(202).set('Location', `${req.baseUrl}/vista3d/jobs/${job.id}`).json(describeJob(job));
  });

  r.get('/vista3d/jobs/:id', (req, res) => {
    res.json(describeJob(findJob(req.params.id, res)));
  });

  r.get('/vista3d/jobs/:id/result', async (req, res) => {
    const j = findJob(req.params.id, res);
    if (j.state === 'failed' || j.state === 'cancelled') throw new HttpError(j.error?.status ?? 500, 'job_failed', j.error?.detail ?? `job ${j.state}`);
    if (!j.result) throw new HttpError(409, 'job_not_done', `job ${j.id} is ${j.state} (${j.stage} ${j.done}/${j.total}); poll /v1/vista3d/jobs/${j.id}`);
    const wantFile = req.query.format === 'file';
    const fileName = j.result.fileName;
    const bytes = await jobs.read(j, wantFile ? 'file' : 'zip');
    res
      .status(200)
      .type(wantFile ? 'application/octet-stream' : 'application/zip')
      .set('Content-Disposition', attachment(wantFile ? fileName : 'result.zip'))
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });

  r.delete('/vista3d/jobs/:id', (req, res) => {
    const j = jobs.cancel(req.params.id, client(res));
    if (!j) throw new HttpError(404, 'job_not_found', `no job ${JSON.stringify(req.params.id.slice(0, 64))}`);
    res.json(describeJob(j));
  });

  return r;
}
