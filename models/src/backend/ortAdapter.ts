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
 * Why `device` cannot start on this machine, found without creating a session (a failed attempt makes ONNX
 * Runtime print an error of its own), or null: worth trying.
 */
export type DeviceProbe = (device: string) => string | null;

/**
 * A Backend over an ONNX Runtime module. The device is settled when the first graph loads: candidates from
 * the device table are tried in order, skipping those `probe` rules out. A requested device that cannot start,
 * or an "auto" candidate that was tried and failed, is reported through `onWarning`; an "auto" candidate the
 * probe ruled out is not (nothing is wrong: that machine has no such device). `onInfo` hears once which device
 * runs and why. Every later graph uses the settled device. A run that fails on a device other than the fallback
 * (cpu / wasm) is reported through `onWarning` and moves every graph to the fallback, this run included. Runs are
 * timed (stats) and serialised per session.
 */
export function createOrtBackend(ort: OrtModule, runtime: Runtime, options: BackendOptions = {}, probe?: DeviceProbe): Backend {
  const requested = options.device ?? 'auto';
  const candidates = deviceCandidates(runtime, requested);
  const stats: BackendStats = { runMs: 0, runs: 0 };
  let settled: (typeof candidates)[number] | null = null;

  const sessionOptions = (providers: readonly string[]): InferenceSession.SessionOptions => ({
    executionProviders: [...providers] as InferenceSession.SessionOptions['executionProviders'],
    graphOptimizationLevel: 'all',
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
  });

  let reported = false;
  /** One warning for what went wrong on the way (a probe ruling out an "auto" candidate is not wrong), one info line. */
  function report(device: string, passed: { device: string; why: string; tried: boolean }[]): void {
    if (reported) return; // graphs loaded at once before any settled
    reported = true;
    const wrong = passed.filter((p) => p.tried || requested !== 'auto');
    if (wrong.length) options.onWarning?.(`device ${wrong.map((p) => `${p.device} could not start (${p.why})`).join('; ')}; using ${device} instead`);
    const mode = requested === 'auto' ? 'auto' : requested === device ? 'requested' : `${requested} requested`;
    const why = passed.map((p) => (p.tried ? `${p.device} could not start` : p.why));
    options.onInfo?.(`device ${device} (${mode}${why.length ? `: ${why.join('; ')}` : ''})`);
  }

  async function create(bytes: Uint8Array, name: string): Promise<InferenceSession> {
    if (settled) return ort.InferenceSession.create(bytes, sessionOptions(settled.providers));
    const passed: { device: string; why: string; tried: boolean }[] = [];
    for (const c of candidates) {
      const ruledOut = (requested === 'auto' ? options.ruleOut?.(c.device) : null) ?? probe?.(c.device) ?? null;
      if (ruledOut) {
        passed.push({ device: c.device, why: ruledOut, tried: false });
        continue;
      }
      try {
        const s = await ort.InferenceSession.create(bytes, sessionOptions(c.providers));
        settled = c;
        report(c.device, passed);
        return s;
      } catch (e) {
        passed.push({ device: c.device, why: firstLine(e), tried: true });
      }
    }
    throw new ModelsError('backend_unavailable', `graph ${name}: no device could run it: ${passed.map((p) => `${p.device} could not start (${p.why})`).join('; ')}`);
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
