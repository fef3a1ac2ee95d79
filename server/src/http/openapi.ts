import { z } from 'zod';
import { ErrorSchema, HealthSchema, InferenceRequestSchema, InfoSchema, PrepareRequestSchema } from './schemas.ts';

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function openApiDocument(): Record<string, unknown> {
  const json = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input' });
  const error = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
  const errors = {
    '400': error('malformed request'),
    '401': error('missing or wrong API key (when authentication is on)'),
    '403': error('image URL or path not allowed (internal network, outside IMAGE_ROOTS / OUTPUT_ROOTS, not whitelisted)'),
    '404': error('image not found'),
    '413': error('over a size limit (download, decompressed bytes, voxels, body)'),
    '415': error('unsupported or malformed image format'),
    '422': error('invalid prompts (unknown class, point outside the image, points on a group class)'),
    '502': error('the image host failed'),
    '503': error('not ready, or overloaded (see Retry-After)'),
    '504': error('the image host timed out'),
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'VISTA3D NIM-compatible API',
      version: '1.0.0',
      description: 'Drop-in compatible with NVIDIA\'s VISTA-3D NIM /v1 API, plus `prompts.point_labels` for negative clicks.',
    },
    components: {
      schemas: { InferenceRequest: json(InferenceRequestSchema), PrepareRequest: json(PrepareRequestSchema), Error: json(ErrorSchema), Health: json(HealthSchema), Info: json(InfoSchema) },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'only when the server has API_KEY set' } },
    },
    security: [{}, { bearer: [] }],
    paths: {
      '/v1/health/live': { get: { summary: 'the process is up', responses: { '200': { description: 'live', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } } } } },
      '/v1/health/ready': {
        get: {
          summary: 'the model is loaded and warmed up',
          responses: { '200': { description: 'ready', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } }, '503': { description: 'not ready' } },
        },
      },
      '/v1/license': { get: { summary: 'licence text', responses: { '200': { description: 'text', content: { 'text/plain': {} } } } } },
      '/v1/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition format' } } } },
      '/v1/vista3d/info': {
        get: { summary: 'model information', responses: { '200': { description: 'info', content: { 'application/json': { schema: { $ref: '#/components/schemas/Info' } } } }, '503': errors['503'] } },
      },
      '/v1/vista3d/inference': {
        post: {
          summary: 'segment an image',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/InferenceRequest' } } } },
          responses: {
            '200': { description: 'a zip holding one `<input stem>_seg.<ext>` label map on the input grid (NIfTI for DICOM input); 255 = not processed', content: { 'application/zip': {} } },
            ...errors,
          },
        },
      },
      '/v1/vista3d/jobs': {
        post: {
          summary: 'extension for viewers: start the same inference as a job that reports progress and can be cancelled',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/InferenceRequest' } } } },
          responses: { '202': { description: 'the job: {id, state, stage, done, total}; Location: its URL' }, ...errors },
        },
      },
      '/v1/vista3d/jobs/{id}': {
        get: { summary: 'job state and progress (stage, windows done / total)', responses: { '200': { description: 'the job' }, '404': error('no such job') } },
        delete: { summary: 'cancel the job', responses: { '200': { description: 'the job' }, '404': error('no such job') } },
      },
      '/v1/vista3d/jobs/{id}/events': {
        get: {
          summary: 'progress as server-sent events: `progress` with the job now and at each change, `end` with the final job, then the stream closes; a heartbeat comment every 15 s',
          responses: { '200': { description: 'the event stream', content: { 'text/event-stream': {} } }, '404': error('no such job'), '429': error('too many event streams and waiting result requests open') },
        },
      },
      '/v1/vista3d/jobs/{id}/result': {
        get: {
          summary: 'the result: the zip of /v1/vista3d/inference; ?format=file the label-map file itself; ?format=region the viewer\'s answer, an uncompressed NIfTI-1 of the result\'s box with its own affine (X-VISTA3D-Region: i0,j0,k0,i1,j1,k1 on the input grid; X-VISTA3D-Outside: the value outside it; Content-Encoding gzip when accepted). ?wait=<0-30 s> waits for the job to end',
          parameters: [
            { name: 'format', in: 'query', schema: { enum: ['zip', 'file', 'region'], default: 'zip' } },
            { name: 'wait', in: 'query', schema: { type: 'number', minimum: 0, maximum: 30 } },
          ],
          responses: { '200': { description: 'zip, file or region' }, '409': error('not finished (after the wait), or cancelled'), '429': error('too many waiting requests open'), ...errors },
        },
      },
      '/v1/vista3d/prepare': {
        post: {
          summary: 'extension for viewers: load an image into the server\'s caches (and build its model-space state) in the background, ahead of its first prompt',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/PrepareRequest' } } } },
          responses: { '202': { description: '{image, state}: loading, ready, failed (with error) or cancelled' }, '429': error('too many prepares of this client loading'), ...errors },
        },
        get: { summary: 'the state of a prepare this client asked for (?image=)', responses: { '200': { description: '{image, state, error?}' }, '404': error('no such prepare') } },
        delete: { summary: 'cancel a prepare (?image=)', responses: { '200': { description: '{image, state}' }, '404': error('no such prepare') } },
      },
    },
  };
}
