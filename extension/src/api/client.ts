import {
  JOB_EVENTS,
  JobViewSchema,
  OUTSIDE_HEADER,
  parseRegionHeader,
  PrepareViewSchema,
  readNifti,
  REGION_HEADER,
  regionDims,
  InfoSchema,
  type InferenceRequest,
  type JobView,
  type PrepareView,
  type Vec3,
  type Volume,
} from '@vista3d/models';
import type { ServerInfo } from '../state/store.ts';
import { EventStreamParser } from './eventStream.ts';

/** The request body of the NIM (snake_case on the wire), with our point_labels extension: the contract's. */
export type InferenceBody = InferenceRequest;

/**
 * A job's result as the server sends it to the viewer: the labels of the box of the series grid it covers, as a
 * volume of their own (the series grid's spacing and direction, the origin at the box's first voxel; LPS mm,
 * i fastest), and the one value every voxel outside the box holds (0 = background, 255 = not processed).
 */
export interface RegionResult {
  labels: Volume<Uint8Array>;
  /** The box [lo, hi) on the series grid (voxel indices). */
  lo: Vec3;
  hi: Vec3;
  outside: number;
}

const isAbort = (e: unknown) => (e as { name?: string })?.name === 'AbortError';

/** An error to show in the panel, in plain words. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status = 0,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function plainWords(status: number, detail: string): string {
  switch (status) {
    case 401:
      return 'The VISTA3D server needs you to sign in again (your session has ended, or this viewer has no credentials): reload the page to reach the login.';
    case 429:
      return `Too many VISTA3D jobs at once: ${detail}`;
    case 413:
      return `The image is too large for the VISTA3D server: ${detail}`;
    case 415:
      return `The VISTA3D server cannot read this image: ${detail}`;
    case 422:
      return `Invalid prompt: ${detail}`;
    case 502:
    case 504:
      return `The VISTA3D server could not get the image from the PACS: ${detail}`;
    case 503:
      return /loading/.test(detail) ? 'The VISTA3D model is still loading; try again in a moment.' : `The VISTA3D server is busy: ${detail}`;
    default:
      return `The VISTA3D server answered ${status}: ${detail}`;
  }
}

/**
 * Talks to our server's /v1 API (same origin by default). Knows HTTP; knows nothing of OHIF. Credentials: the
 * viewer's login session travels as its same-origin cookie; `authHeaders` adds what the host's login gives (OHIF's
 * userAuthenticationService: an OIDC bearer token).
 */
export class Vista3dClient {
  constructor(
    readonly baseUrl = '/v1',
    private readonly fetchImpl: typeof fetch = (...a) => fetch(...a),
    private readonly authHeaders: () => Record<string, string> | undefined = () => undefined,
  ) {}

  private async call(path: string, init?: RequestInit): Promise<Response> {
    let r: Response;
    try {
      const headers = { ...(this.authHeaders() ?? {}), ...((init?.headers as Record<string, string> | undefined) ?? {}) };
      r = await this.fetchImpl(`${this.baseUrl}${path}`, { ...init, headers, credentials: 'same-origin' });
    } catch (e) {
      if (init?.signal?.aborted || isAbort(e)) throw e;
      throw new ApiError('The VISTA3D server cannot be reached. Is it running?');
    }
    if (r.ok) return r;
    let detail = r.statusText;
    try {
      detail = ((await r.json()) as { detail?: string }).detail ?? detail;
    } catch {
      /* not JSON */
    }
    throw new ApiError(plainWords(r.status, detail), r.status);
  }

  async ready(): Promise<boolean> {
    try {
      await this.call('/health/ready');
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 503) return false;
      throw e;
    }
  }

  async info(): Promise<ServerInfo> {
    const parsed = InfoSchema.safeParse(await (await this.call('/vista3d/info')).json());
    if (!parsed.success) throw new ApiError(`The VISTA3D server's /info does not match this viewer: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }

  async startJob(body: InferenceBody): Promise<JobView> {
    return (await (await this.call('/vista3d/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as JobView;
  }

  async job(id: string): Promise<JobView> {
    return (await (await this.call(`/vista3d/jobs/${id}`)).json()) as JobView;
  }

  async cancel(id: string): Promise<void> {
    await this.call(`/vista3d/jobs/${id}`, { method: 'DELETE' });
  }

  /**
   * The result as its region (`format=region`): in the round trip that ends the job when `wait` (seconds, at
   * most 30) is given; an ApiError with status 409 when the job is still running after it. The browser
   * decompresses the HTTP gzip itself.
   */
  async resultRegion(id: string, opts: { wait?: number; signal?: AbortSignal } = {}): Promise<RegionResult> {
    const r = await this.call(`/vista3d/jobs/${id}/result?format=region${opts.wait ? `&wait=${opts.wait}` : ''}`, { signal: opts.signal });
    const box = parseRegionHeader(r.headers.get(REGION_HEADER));
    const outside = Number(r.headers.get(OUTSIDE_HEADER) ?? NaN);
    if (!box || !Number.isInteger(outside) || outside < 0 || outside > 255) {
      throw new ApiError(`The VISTA3D server sent a result without valid ${REGION_HEADER} / ${OUTSIDE_HEADER} headers.`);
    }
    const v = readNifti(new Uint8Array(await r.arrayBuffer()));
    if (!regionDims(box).every((d, a) => d === v.dims[a])) throw new ApiError(`The VISTA3D server sent a region of ${v.dims.join('×')} voxels for the box ${box.lo}–${box.hi}.`);
    return { labels: { ...v, data: v.data instanceof Uint8Array ? v.data : Uint8Array.from(v.data) }, lo: box.lo, hi: box.hi, outside };
  }

  /**
   * Follows a job's server-sent events (fetch streaming, so the Authorization header goes along, as EventSource
   * cannot send it): `onView` at each progress event; resolves with the final view (`end`). Rejects when the
   * stream cannot be opened or breaks off before the end (the caller falls back to polling).
   */
  async events(id: string, onView: (v: JobView) => void, signal?: AbortSignal): Promise<JobView> {
    const r = await this.call(`/vista3d/jobs/${id}/events`, { headers: { accept: 'text/event-stream' }, signal });
    if (!r.body) throw new ApiError('The VISTA3D server sent no event stream.');
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    const parser = new EventStreamParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const e of parser.push(decoder.decode(value, { stream: true }))) {
          const v = JobViewSchema.parse(JSON.parse(e.data));
          if (e.event === JOB_EVENTS.end) return v;
          if (e.event === JOB_EVENTS.progress) onView(v);
        }
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
    throw new ApiError('The VISTA3D server closed the job\'s event stream before the job ended.');
  }

  /** Asks the server to load an image into its caches ahead of the first prompt (answered at once). */
  async prepare(image: string): Promise<PrepareView> {
    const r = await this.call('/vista3d/prepare', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image }) });
    return PrepareViewSchema.parse(await r.json());
  }
}
