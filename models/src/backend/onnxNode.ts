import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createOrtBackend, type DeviceProbe, type OrtModule } from './ortAdapter.ts';
import type { Backend, BackendOptions } from './types.ts';

/** ONNX Runtime for Node: cpu, cuda (when installed with its CUDA provider), webgpu (Dawn over Vulkan). */
export function createBackend(options: BackendOptions = {}): Backend {
  return createOrtBackend(ort as unknown as OrtModule, 'node', options, probeNodeDevice);
}

export const runtime = 'node' as const;

/** What probeNodeDevice looks at; tests pass their own. */
export interface NodeMachine {
  platform: NodeJS.Platform;
  /** onnxruntime-node's native folder (bin/napi-v6/<platform>/<arch>), where ORT looks for provider libraries. */
  nativeDir: string;
  exists: (path: string) => boolean;
}

const CUDA_PROVIDER_FILES: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  win32: ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'],
};

/**
 * Rules CUDA out without creating a session when it cannot start: a failed attempt makes ONNX Runtime print an
 * error line of its own on every start (its default logger, which no session option silences). onnxruntime-node
 * ships the CUDA provider separately (its install script downloads it; `onnxruntime-node-install=skip` does
 * not), into the folder beside its binding; on Linux the NVIDIA driver's control device must exist (WSL: /dev/dxg).
 * A CUDA that passes these and still fails (no cuDNN, wrong CUDA version) is tried, and reported, as before.
 */
export const probeNodeDevice: DeviceProbe = (device) => probeOn(device, thisMachine());

export function probeOn(device: string, m: NodeMachine): string | null {
  if (device !== 'cuda') return null;
  const files = CUDA_PROVIDER_FILES[m.platform];
  if (!files || !files.every((f) => m.exists(join(m.nativeDir, f)))) return 'CUDA provider not installed';
  if (m.platform === 'linux' && !['/dev/nvidiactl', '/dev/dxg'].some((p) => m.exists(p))) return 'no NVIDIA driver (no /dev/nvidiactl)';
  return null;
}

function thisMachine(): NodeMachine {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node'); // …/onnxruntime-node/dist/index.js
  return { platform: process.platform, nativeDir: join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch), exists: existsSync };
}
