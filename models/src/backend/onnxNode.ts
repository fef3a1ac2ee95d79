import * as ort from 'onnxruntime-node';
import { createOrtBackend, type OrtModule } from './ortAdapter.ts';
import type { Backend, BackendOptions } from './types.ts';

/** ONNX Runtime for Node: cpu, cuda (when installed with its CUDA provider), webgpu (Dawn over Vulkan). */
export function createBackend(options: BackendOptions = {}): Backend {
  return createOrtBackend(ort as unknown as OrtModule, 'node', options);
}

export const runtime = 'node' as const;
