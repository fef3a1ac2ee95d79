import * as ort from 'onnxruntime-web';
import { createOrtBackend, type OrtModule } from './ortAdapter.ts';
import type { Backend, BackendOptions } from './types.ts';

/** ONNX Runtime Web: wasm everywhere, webgpu in browsers that have it. */
export function createBackend(options: BackendOptions = {}): Backend {
  if (options.threads) ort.env.wasm.numThreads = options.threads;
  if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
  return createOrtBackend(ort as unknown as OrtModule, 'web', options);
}

export const runtime = 'web' as const;
