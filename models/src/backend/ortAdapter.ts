import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { ModelsError } from '../errors.ts';
import type { Backend, BackendOptions, BackendStats, GraphSession, TensorData } from './types.ts';
import { deviceCandidates, type Runtime } from './devices.ts';

/** The part of an `onnxruntime-node` / `onnxruntime-web` module this adapter uses. */
export interface OrtModule {
  InferenceSession: { create(bytes: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: TensorData['type'], data: TensorData['data'], dims: readonly number[]) => Tensor;
}

/**
 * A Backend over an ONNX Runtime module. The device is settled when the first graph loads: candidates from
 * the device table are tried in order, and a failure is reported through `onWarning` before the next.
 * Every later graph uses the settled device. A run that fails on a device other than the fallback (cpu / wasm)
 * is reported the same way and moves every graph to the fallback, this run included. Runs are timed (stats)
 * and serialised per session.
 */
export function createOrtBackend(ort: OrtModule, runtime: Runtime, options: BackendOptions = {}): Backend {
  const candidates = deviceCandidates(runtime, options.device);
  const stats: BackendStats = { runMs: 0, runs: 0 };
  let settled: (typeof candidates)[number] | null = null;

  const sessionOptions = (providers: readonly string[]): InferenceSession.SessionOptions => ({
    executionProviders: [...providers] as InferenceSession.SessionOptions['executionProviders'],
    graphOptimizationLevel: 'all',
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
  });

  async function create(bytes: Uint8Array, name: string): Promise<InferenceSession> {
    if (settled) return ort.InferenceSession.create(bytes, sessionOptions(settled.providers));
    const errors: string[] = [];
    for (const c of candidates) {
      try {
        const s = await ort.InferenceSession.create(bytes, sessionOptions(c.providers));
        settled = c;
        if (errors.length) options.onWarning?.(`device ${errors.join('; ')}; using ${c.device} instead`);
        return s;
      } catch (e) {
        errors.push(`${c.device} could not start (${firstLine(e)})`);
      }
    }
    throw new ModelsError('backend_unavailable', `graph ${name}: no device could run it: ${errors.join('; ')}`);
  }

  const fallback = candidates[candidates.length - 1];

  return {
    get device() {
      return settled?.device ?? 'unknown';
    },
    stats,
    async loadGraph(bytes, name) {
      let session = await create(bytes, name);
      let device = settled!;
      // The session follows the backend's device: after any graph failed at run time on a device (an operator the
      // provider accepted at load but cannot run, e.g. 3-D ConvTranspose on WebGPU), every graph moves to the
      // fallback before its next run.
      const follow = async () => {
        if (device === settled) return;
        await session.release().catch(() => undefined);
        session = await ort.InferenceSession.create(bytes, sessionOptions(settled!.providers));
        device = settled!;
      };
      let queue: Promise<unknown> = Promise.resolve();
      const graph: GraphSession = {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        run(feeds) {
          const job = queue.then(async () => {
            await follow();
            const ortFeeds: Record<string, Tensor> = {};
            for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(t.type, t.data, t.dims);
            const t0 = performance.now();
            let out: InferenceSession.ReturnType;
            try {
              out = await session.run(ortFeeds);
            } catch (e) {
              if (device === fallback) throw e;
              options.onWarning?.(`device ${device.device} failed running graph ${name} (${firstLine(e)}); using ${fallback.device} from now on`);
              settled = fallback;
              await follow();
              out = await session.run(ortFeeds);
            }
            stats.runMs += performance.now() - t0;
            stats.runs++;
            const result: Record<string, TensorData> = {};
            for (const [k, t] of Object.entries(out)) {
              result[k] = { type: t.type as TensorData['type'], data: t.data as TensorData['data'], dims: [...t.dims] };
            }
            return result;
          });
          queue = job.catch(() => undefined);
          return job;
        },
        dispose: () => session.release(),
      };
      return graph;
    },
  };
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0].slice(0, 300);
}
