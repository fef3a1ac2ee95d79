import type { InfoView } from '@vista3d/models';

/**
 * The extension's one store: what the panel shows. Commands change it (and only commands); the panel
 * subscribes and renders. Every change notifies subscribers synchronously with the new state.
 */

/** /v1/vista3d/info as the server describes it (the contract's InfoSchema). */
export type ServerInfo = InfoView;

export type ServerStatus = 'unknown' | 'unreachable' | 'loading' | 'ready';

/** Where prompts run: on the server, in this browser (the inference worker), or the server when it is ready, else here. */
export type RunTarget = 'server' | 'browser' | 'auto';
export const RUN_TARGETS: readonly RunTarget[] = ['server', 'browser', 'auto'];

/** The model in this browser (loaded into the inference worker from the server's bundle or a configured URL). */
export interface BrowserModelState {
  status: 'idle' | 'loading' | 'ready' | 'failed';
  /** The model as /info would describe it, `device` = where the worker runs it (webgpu / wasm). */
  info?: ServerInfo;
  /** What the load did (files from Cache Storage / downloaded, size, threads, the device's reason). */
  note?: string;
  error?: string;
}

/** Which runner made the last result, on which device, and how long it took (start to result, ms). */
export interface LastRun {
  kind: 'classes' | 'points';
  where: 'server' | 'browser';
  device: string;
  ms: number;
}

export interface JobState {
  kind: 'classes' | 'points';
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  stage: string;
  done: number;
  total: number;
  error?: string;
  /** While it waits for the device: 1 = next to run. */
  queuePosition?: number;
}

export interface PromptPoint {
  /** LPS world position (mm) of the click. */
  world: [number, number, number];
  positive: boolean;
}

export interface Vista3dState {
  server: { status: ServerStatus; info?: ServerInfo; error?: string };
  runTarget: RunTarget;
  browserModel: BrowserModelState;
  lastRun: LastRun | null;
  job: JobState | null;
  /** The label the clicks target (a VISTA3D index; ≥ 133 = a new structure). */
  pointTarget: number | null;
  points: PromptPoint[];
  /** The labelmap segmentation holding VISTA3D's results for the active display set. */
  segmentationId: string | null;
  /** Segment selected by clicking a voxel of the overlay. */
  selectedLabel: number | null;
  /** Plain-words message of the last error, shown in the panel. */
  error: string | null;
  /** Last message worth telling (saved, cancelled …). */
  notice: string | null;
}

export const initialState = (): Vista3dState => ({
  server: { status: 'unknown' },
  runTarget: 'server',
  browserModel: { status: 'idle' },
  lastRun: null,
  job: null,
  pointTarget: null,
  points: [],
  segmentationId: null,
  selectedLabel: null,
  error: null,
  notice: null,
});

/** The model the labels and prompts refer to: the server's when it is ready, else the one loaded in this browser. */
export function modelInfo(s: Pick<Vista3dState, 'server' | 'browserModel'>): ServerInfo | undefined {
  return s.server.status === 'ready' && s.server.info ? s.server.info : s.browserModel.info ?? s.server.info;
}

export interface Store {
  get(): Vista3dState;
  set(patch: Partial<Vista3dState>): void;
  subscribe(fn: (s: Vista3dState) => void): () => void;
  reset(): void;
}

export function createStore(): Store {
  let state = initialState();
  const subs = new Set<(s: Vista3dState) => void>();
  const emit = () => subs.forEach((fn) => fn(state));
  return {
    get: () => state,
    set(patch) {
      state = { ...state, ...patch };
      emit();
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
    reset() {
      state = initialState();
      emit();
    },
  };
}
