import { unzipSync } from 'fflate';
import { readNifti, type JobView, type Volume } from '@vista3d/models';
import type { ServerInfo } from '../state/store.ts';

/** The request body of the NIM (snake_case on the wire), with our point_labels extension. */
export interface InferenceBody {
  image: string;
  prompts?: { classes?: (string | number)[]; points?: Record<string, number[][]>; point_labels?: Record<string, number[]> };
}

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
    } catch {
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
    return (await (await this.call('/vista3d/info')).json()) as ServerInfo;
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

  /** The result label map (NIfTI on the server's grid, LPS). */
  async result(id: string): Promise<Volume<Uint8Array>> {
    const bytes = new Uint8Array(await (await this.call(`/vista3d/jobs/${id}/result`)).arrayBuffer());
    const files = Object.values(unzipSync(bytes));
    if (files.length !== 1) throw new ApiError(`The VISTA3D server sent ${files.length} files; expected one.`);
    const v = readNifti(files[0]);
    return { ...v, data: v.data instanceof Uint8Array ? v.data : Uint8Array.from(v.data) };
  }
}
