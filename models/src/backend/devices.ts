import { ModelsError } from '../errors.ts';

/**
 * The one device table (STYLE rule 2): device name → ONNX Runtime execution providers, per runtime.
 * "auto" is an ordered list of devices tried in turn; an explicit device that cannot start falls back to the
 * runtime's last "auto" entry (cpu / wasm) with a warning. WebGPU is never chosen by "auto" in Node: with only a
 * software Vulkan driver it succeeds but runs 40–70× slower than CPU, and ORT does not say which adapter it got.
 */
export type Runtime = 'node' | 'web';

export const DEVICE_TABLE = Object.freeze({
  node: Object.freeze({ cpu: ['cpu'], cuda: ['cuda'], webgpu: ['webgpu'] }),
  web: Object.freeze({ wasm: ['wasm'], webgpu: ['webgpu'] }),
} as const);

export const AUTO_ORDER: Readonly<Record<Runtime, readonly string[]>> = Object.freeze({
  node: ['cuda', 'cpu'],
  web: ['webgpu', 'wasm'],
});

export interface DeviceChoice {
  device: string;
  providers: readonly string[];
}

/** The devices to try, in order, for a requested name; an unknown name throws with the valid list. */
export function deviceCandidates(runtime: Runtime, requested = 'auto'): DeviceChoice[] {
  const table = DEVICE_TABLE[runtime] as Record<string, readonly string[]>;
  const names = requested === 'auto' ? AUTO_ORDER[runtime] : [requested];
  const fallback = AUTO_ORDER[runtime][AUTO_ORDER[runtime].length - 1];
  if (requested !== 'auto' && !(requested in table)) {
    throw new ModelsError('backend_unavailable', `unknown device ${JSON.stringify(requested)} for the ${runtime} runtime; valid: auto, ${Object.keys(table).join(', ')}`);
  }
  const list = names.map((d) => ({ device: d, providers: table[d] }));
  if (!list.some((c) => c.device === fallback)) list.push({ device: fallback, providers: [fallback] });
  return list;
}
