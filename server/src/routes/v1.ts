import { join } from 'node:path';
import { Router, type Request, type Response } from 'express';
import { resolveInside, writeFileAtomic } from '@vista3d/models/node';
import { z } from 'zod';
import type { AppDeps } from '../app.ts';
import { HttpError } from '../http/errors.ts';
import { InferenceRequestSchema, type InferenceRequest } from '../http/schemas.ts';
import { openApiDocument } from '../http/openapi.ts';

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
    const prompts = body.prompts && {
      classes: body.prompts.classes,
      points: body.prompts.points,
      pointLabels: body.prompts.point_labels,
    };
    // Prompt names are checked before the download; point bounds once the image's dims are known.
    s.checkPrompts(prompts, [Infinity, Infinity, Infinity]);
    let outDir: string | null = null;
    if (body.local_working_dir !== undefined) {
      if (!config.outputRoots.length) throw new HttpError(403, 'local_working_dir_disabled', 'local_working_dir is disabled on this server (set OUTPUT_ROOTS)');
      outDir = await resolveInside(body.local_working_dir, config.outputRoots);
      if (!outDir) throw new HttpError(403, 'path_not_allowed', `local_working_dir ${JSON.stringify(body.local_working_dir)} does not exist or is outside the allowed output folders`);
    }
    const signal = clientSignal(req, res);
    const t0 = performance.now();
    const image = await images.load(body.image, signal);
    metrics.stageSeconds.observe({ stage: 'load' }, (performance.now() - t0) / 1000);
    s.checkPrompts(prompts, image.volume.dims);
    const out = await s.segment(image, prompts, { signal });
    if (outDir) await writeFileAtomic(join(outDir, out.fileName), out.file);
    res
      .status(200)
      .type('application/zip')
      .set('Content-Disposition', `attachment; filename="${out.fileName.replace(/\.[^.]+(\.gz)?$/i, '')}.zip"`)
      .send(Buffer.from(out.zip.buffer, out.zip.byteOffset, out.zip.byteLength));
  });

  return r;
}
