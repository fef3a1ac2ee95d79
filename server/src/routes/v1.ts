import { Router } from 'express';
import type { AppDeps } from '../app.ts';
import { HttpError } from '../http/errors.ts';
import { openApiDocument } from '../http/openapi.ts';
import { DEFAULT_PREPARE_LIMITS, PrepareRegistry } from '../inference/prepare.ts';
import { prepareInference, runInference } from '../inference/run.ts';
import { jobsRouter } from './jobs.ts';
import { attachment, clientOf, clientSignal, parseInferenceRequest } from './requests.ts';

export { parseInferenceRequest };

export const LICENSE_TEXT = `vista3d-ohif server — Apache License 2.0.
The bundled demo model was trained by this project on synthetic phantoms; it is not NVIDIA's VISTA3D.
NVIDIA's VISTA3D weights, when you install them, come under their own licence (see models/vista3d/README.md).`;

/** Reader warnings as one header value: printable ASCII only, bounded. */
export function warningHeader(warnings: readonly string[]): string {
  return warnings.join(' | ').replace(/[^\x20-\x7e]/g, '?').slice(0, 2000);
}

export function v1Router(deps: AppDeps): Router {
  const { config, state, images, metrics } = deps;
  const prepares = deps.prepares ?? new PrepareRegistry({ ...DEFAULT_PREPARE_LIMITS, ...config.prepares });
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
      zero_shot_from: m.zeroShotFrom,
    });
  });

  r.post('/vista3d/inference', async (req, res) => {
    const body = parseInferenceRequest(req.body);
    const s = service();
    const prepared = await prepareInference(body, s, config);
    // a place in the queue before any download: a full queue is a 503 now, not after the image arrived; NIM calls
    // are batch work, behind the viewer's prompts
    const admission = s.queue.admit({ priority: 'batch', client: clientOf(res) });
    const out = await runInference(prepared, { service: s, images, metrics, prepares }, admission, { signal: clientSignal(req, res) });
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

  // Jobs and prepares: the viewer's API beside the NIM's (routes/jobs.ts).
  r.use(jobsRouter(deps, service, prepares));

  return r;
}
