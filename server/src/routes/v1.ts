import { Router } from 'express';
import { describeModel } from '@vista3d/models';
import type { AppDeps } from '../app.ts';
import { HttpError } from '../http/errors.ts';
import { openApiDocument } from '../http/openapi.ts';
import { encodeResult } from '../inference/jobs.ts';
import { prepareInference } from '../inference/run.ts';
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
  const { config, state, metrics } = deps;
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

  const engine = () => {
    const e = deps.engine();
    if (!state.ready || !e) throw new HttpError(503, 'not_ready', 'the model is still loading; poll /v1/health/ready', { 'Retry-After': '5' });
    return e;
  };

  r.get('/vista3d/info', (_req, res) => {
    const { manifest, device } = engine().model;
    res.json(describeModel(manifest, { version: deps.version, device, supportedFormats: config.images.supportedExtensions }));
  });

  r.post('/vista3d/inference', async (req, res) => {
    const body = parseInferenceRequest(req.body);
    const e = engine();
    const prepared = await prepareInference(body, e.model, config);
    // a place in the queue before any download: a full queue is a 503 now, not after the image arrived; NIM calls
    // are batch work, behind the viewer's prompts
    const out = await e.admit({ prepared, priority: 'batch', client: clientOf(res) }).run({ signal: clientSignal(req, res) });
    const t0 = performance.now();
    const zip = await encodeResult(out, 'zip');
    metrics.stageSeconds.observe({ stage: 'encode' }, (performance.now() - t0) / 1000);
    if (out.warnings?.length) {
      deps.log.warn('image read with assumptions', { requestId: res.locals.requestId, warnings: out.warnings });
      res.set('X-VISTA3D-Warning', warningHeader(out.warnings));
    }
    res
      .status(200)
      .type('application/zip')
      .set('Content-Disposition', attachment(`${out.fileName.replace(/\.[^.]+(\.gz)?$/i, '')}.zip`))
      .send(Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength));
  });

  // Jobs and prepares: the viewer's API beside the NIM's (routes/jobs.ts).
  r.use(jobsRouter(deps, engine));

  return r;
}
