import type { InfoView, LabelRegion, Progress, Prompts, Volume } from '@vista3d/models';

/**
 * The messages between the viewer and its inference worker (extension/src/local/worker.ts). Every request carries
 * an id; the worker answers it with exactly one `ok` or `error` (or `cancelled`), after any number of `progress`.
 */

export interface LoadRequest {
  type: 'load';
  id: number;
  /** The model bundle's folder URL (ends in /): model.json and the graphs it names. */
  modelUrl: string;
  /** Sent with every model download (the viewer's Authorization, when its login gives one). */
  headers: Record<string, string>;
  /** Refuse a model whose graphs together are larger (bytes). */
  maxBytes: number;
  /** Where onnxruntime-web's wasm files are served. */
  wasmPaths: string;
  /** A device of the web runtime's table, or "auto" (webgpu when a hardware adapter exists, else wasm). */
  device: string;
  /** Drop the loaded sessions and load again (from Cache Storage when the copy there is intact). */
  reload?: boolean;
}

export interface SegmentRequest {
  type: 'segment';
  id: number;
  /** Identifies `volume`; when the worker holds this image already the volume may be left out. */
  imageKey: string;
  /** Voxels (i fastest, LPS mm), transferred; absent when the worker holds `imageKey`. */
  volume?: Volume;
  prompts: Prompts;
}

export interface CancelRequest {
  type: 'cancel';
  /** The id of the segment request to cancel. */
  id: number;
}

export type WorkerRequest = LoadRequest | SegmentRequest | CancelRequest;

export interface LoadedModel {
  info: InfoView;
  /** Files taken from Cache Storage (checked), and files downloaded (checked, then cached). */
  fromCache: string[];
  downloaded: string[];
  bytes: number;
  /** Intra-op threads of the wasm backend (1 unless the page is cross-origin isolated). */
  threads: number;
  /** What the backend said about its device, in one line. */
  deviceNote: string;
}

export interface SegmentOutcome {
  region: LabelRegion;
  device: string;
  /** Inside the worker, from the request to the result (ms). */
  ms: number;
  windows: number;
}

export type WorkerReply =
  | { type: 'progress'; id: number; progress: Progress }
  | { type: 'ok'; id: number; value: LoadedModel | SegmentOutcome }
  | { type: 'cancelled'; id: number }
  | { type: 'error'; id: number; message: string; needVolume?: boolean };
