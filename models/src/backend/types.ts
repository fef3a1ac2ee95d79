/**
 * The runtime-neutral view of ONNX Runtime that the pipeline sees (STYLE rule 1): tensors as typed arrays and
 * sessions with `run` and `dispose`. Only the adapters in this folder import `onnxruntime-*`.
 */
export type TensorType = 'float32' | 'int64' | 'int32';

export interface TensorData {
  type: TensorType;
  /** C order (last dimension fastest). */
  data: Float32Array | BigInt64Array | Int32Array;
  dims: number[];
}

export interface GraphSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
  dispose(): Promise<void>;
}

export interface BackendStats {
  /** Milliseconds spent inside ONNX Runtime's `run`, summed over all sessions of this backend. */
  runMs: number;
  runs: number;
}

export interface Backend {
  /** The device the sessions actually run on (after any fallback). Known once the first graph is loaded. */
  readonly device: string;
  readonly stats: BackendStats;
  loadGraph(bytes: Uint8Array, name: string): Promise<GraphSession>;
}

export interface BackendOptions {
  /** A device name from the device table, or "auto". */
  device?: string;
  /** Intra-op threads (CPU/wasm). */
  threads?: number;
  /**
   * onnxruntime-web only: the URL prefix its wasm files are fetched from (the viewer's server serves them, same
   * origin); default: beside the script that bundled it.
   */
  wasmPaths?: string;
  /**
   * Why the caller knows a device of "auto" should not be tried here (e.g. WebGPU with only a software adapter,
   * found asynchronously before the backend is made), or null; checked before the runtime's own probe.
   */
  ruleOut?: (device: string) => string | null;
  /** Told when a requested device cannot start and another is used instead. */
  onWarning?: (message: string) => void;
  /**
   * Told once, when the first graph settles the device, which device runs and why, in one line:
   * `device cpu (auto: CUDA provider not installed)`, `device cuda (auto)`, `device cpu (requested)`.
   */
  onInfo?: (message: string) => void;
}

/** Wraps a typed array as a tensor of the given type (ints become BigInt64Array for int64). */
export function tensor(type: TensorType, values: ArrayLike<number> | Float32Array, dims: number[]): TensorData {
  if (type === 'float32') return { type, data: values instanceof Float32Array ? values : Float32Array.from(values), dims };
  if (type === 'int32') return { type, data: Int32Array.from(values), dims };
  return { type, data: BigInt64Array.from(Array.from(values, (v) => BigInt(Math.round(v)))), dims };
}
