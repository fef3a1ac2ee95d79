import type { InfoView } from '@vista3d/models';

/**
 * The extension's one store: what the panel shows. Commands change it (and only commands); the panel
 * subscribes and renders. Every change notifies subscribers synchronously with the new state.
 */

/** /v1/vista3d/info as the server describes it (the contract's InfoSchema). */
export type ServerInfo = InfoView;

export type ServerStatus = 'unknown' | 'unreachable' | 'loading' | 'ready';

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
  job: null,
  pointTarget: null,
  points: [],
  segmentationId: null,
  selectedLabel: null,
  error: null,
  notice: null,
});

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
