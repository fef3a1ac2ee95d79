/**
 * Worker thread of the reader fuzz: reads each input it is sent with the models package's readers and says
 * how it went: accepted (with any impossible geometry of the accepted volume named), rejected with a ModelsError,
 * or crashed (any other exception). The parent times each read: a worker that does not answer is a hang.
 */
import { parentPort } from 'node:worker_threads';
import { loadDicomDecoders, ModelsError, readDicomSeries, readVolumeBytes, type ReadLimits, type Volume } from '@vista3d/models';

// The synchronous DICOM reader needs the wasm decoders started once, as the server's async reader does itself.
await loadDicomDecoders();

export type ReadRequest =
  | { id: number; kind: 'volume'; name: string; bytes: Uint8Array; limits: ReadLimits }
  | { id: number; kind: 'dicom'; files: { name: string; bytes: Uint8Array }[]; limits: ReadLimits };

export type ReadResult =
  | { id: number; outcome: 'accepted'; ms: number; issue: string | null }
  | { id: number; outcome: 'rejected'; ms: number; code: string; message: string }
  | { id: number; outcome: 'crash'; ms: number; name: string; message: string; stack: string };

/** What is impossible about an accepted volume (the pipeline would meet it next), or null. */
function geometryIssue(v: Volume): string | null {
  const { dims, spacing, direction, origin, data } = v;
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d >= 1)) return `dims ${dims.join('×')}`;
  if (data.length !== dims[0] * dims[1] * dims[2]) return `${data.length} voxels for dims ${dims.join('×')}`;
  if (!spacing.every((s) => Number.isFinite(s) && s > 0)) return `spacing ${spacing.join(', ')}`;
  if (direction.length !== 9 || !direction.every(Number.isFinite)) return `direction ${direction.join(', ')}`;
  const [a, b, c, d, e, f, g, h, i] = direction;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (!(Math.abs(det) > 1e-6)) return `singular direction (det ${det})`;
  if (!origin.every(Number.isFinite)) return `origin ${origin.join(', ')}`;
  return null;
}

parentPort!.on('message', (r: ReadRequest) => {
  const t0 = performance.now();
  let result: ReadResult;
  try {
    const v = r.kind === 'dicom' ? readDicomSeries(r.files, { limits: r.limits }) : readVolumeBytes(r.bytes, r.name, { limits: r.limits, onWarning: () => {} });
    result = { id: r.id, outcome: 'accepted', ms: performance.now() - t0, issue: geometryIssue(v) };
  } catch (e) {
    const ms = performance.now() - t0;
    if (e instanceof ModelsError) result = { id: r.id, outcome: 'rejected', ms, code: e.code, message: e.message };
    else {
      // dicom-parser throws plain strings: no stack to show, the message says where
      result = e instanceof Error
        ? { id: r.id, outcome: 'crash', ms, name: e.name, message: e.message, stack: e.stack ?? '' }
        : { id: r.id, outcome: 'crash', ms, name: `a thrown ${typeof e}`, message: String(e), stack: `${String(e)}\n    (a thrown ${typeof e}: no stack)` };
    }
  }
  parentPort!.postMessage(result);
});
parentPort!.postMessage({ ready: true });
