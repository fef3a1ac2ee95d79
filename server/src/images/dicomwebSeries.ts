/**
 * A DICOMweb series as an inference `image`. Accepted forms:
 *   - `/dicomweb/studies/{study}/series/{series}` (a path on this server), or the same under this server's own
 *     origin (loopback on our port, or PUBLIC_URL): read from the embedded store in memory when no DICOMWEB_URL
 *     is set, else from the PACS behind the proxy — no HTTP round trip through ourselves;
 *   - `<DICOMWEB_URL>/studies/{study}/series/{series}`: from the PACS.
 * Any other host is refused (403): the server fetches DICOMweb only from the PACS its operator configured (SSRF).
 *
 * From the PACS: one WADO-RS retrieve of the series (multipart/related; type="application/dicom"), with
 * DICOMWEB_AUTH, the download limits (MAX_DOWNLOAD_BYTES, DOWNLOAD_TIMEOUT_MS) and the reader limits. Explicit VR
 * little endian is asked for first, so a PACS that transcodes hands over uncompressed files; when it refuses that
 * (400, 406, or 500/501: Orthanc answers 500 for what its transcoder cannot decode, e.g. JPEG 2000 without its
 * GDCM plugin) the series is asked for again as stored (`transfer-syntax=*`), and what arrives compressed (RLE,
 * JPEG lossless, JPEG-LS, JPEG 2000, HTJ2K, 8-bit JPEG baseline) is decoded here (readDicomSeriesWithInfoAsync,
 * which lets other requests run between slices). Decoded series are kept in a byte-bounded LRU cache
 * (SERIES_CACHE_BYTES) keyed by source + Study/Series UID, and concurrent requests for one series share one
 * download. When the PACS cannot be reached the request fails with 502 "PACS unreachable at …" (nothing is
 * retried; a cached series is still served).
 */
import { readDicomSeriesWithInfoAsync, type Volume, type DicomInput } from '@vista3d/models';
import type { Config } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import { mediaTypeParams, parseMultipart } from '../dicomweb/multipart.ts';
import type { DicomStore } from '../dicomweb/store.ts';
import { describeUpstream, requestUpstream, upstreamFailure, type UpstreamOptions } from '../dicomweb/upstream.ts';
import type { LoadedImage } from './imageSource.ts';
import { LruCache } from '../lru.ts';

export interface SeriesRef {
  source: 'embedded' | 'upstream';
  study: string;
  series: string;
}

const SERIES_PATH = /\/studies\/([0-9.]{1,64})\/series\/([0-9.]{1,64})\/?$/;
const OWN_PATH = /^\/dicomweb\/studies\/([0-9.]{1,64})\/series\/([0-9.]{1,64})\/?$/;
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** What a PACS answers when it will not (or cannot) transcode to EXPLICIT_LE: ask again for the files as stored. */
const TRANSCODE_REFUSED = new Set([400, 406, 500, 501]);
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export class DicomwebSeriesLoader {
  readonly cache: LruCache<Volume>;
  private readonly inflight = new Map<string, { promise: Promise<Volume>; waiters: number; ac: AbortController }>();
  private readonly upstream: UpstreamOptions | null;
  private readonly ownOrigins = new Set<string>();
  private ownPort: string | null = null;
  private readonly lookup?: (hit: boolean) => void;
  /** What the DICOM reader assumed for each decoded series (kept with it while it is cached). */
  private readonly warnings = new WeakMap<Volume, string[]>();

  /** @param embedded the embedded store (used when no DICOMWEB_URL is configured). */
  constructor(
    private readonly config: Config,
    private readonly embedded: DicomStore | null,
    events: { lookup?: (hit: boolean) => void; evict?: () => void } = {},
  ) {
    const d = config.dicomweb;
    this.cache = new LruCache(d.seriesCacheBytes, () => events.evict?.());
    this.lookup = events.lookup;
    this.upstream = d.url ? { base: d.url, auth: d.auth, timeoutMs: config.images.downloadTimeoutMs } : null;
    if (d.publicOrigin) this.ownOrigins.add(d.publicOrigin);
  }

  /** Decodes a series (between slices the event loop runs; `signal`: every request for it has gone). */
  private async read(files: DicomInput[], signal?: AbortSignal): Promise<Volume> {
    const warnings: string[] = [];
    const v = (await readDicomSeriesWithInfoAsync(files, { limits: this.config.limits, onWarning: (w) => warnings.push(w), signal })).volume;
    if (warnings.length) this.warnings.set(v, warnings);
    return v;
  }

  /** Tells the loader the address it listens on (loopback URLs on this port are "own origin"). */
  listeningOn(url: string): void {
    const u = new URL(url);
    this.ownPort = u.port;
    this.ownOrigins.add(u.origin);
  }

  /**
   * The series an `image` names, or null when it is not a DICOMweb series reference (a file URL, a path).
   * Throws 403 for a series URL on a host other than this server and DICOMWEB_URL.
   */
  parse(image: string): SeriesRef | null {
    const own = OWN_PATH.exec(image);
    if (own) return this.ref(own[1], own[2]);
    if (!/^https?:\/\//i.test(image)) return null;
    let url: URL;
    try {
      url = new URL(image);
    } catch {
      return null;
    }
    const m = SERIES_PATH.exec(url.pathname);
    if (!m || url.search) return null;
    const base = this.upstream?.base;
    if (base && `${url.origin}${url.pathname}`.startsWith(`${base}/studies/`) && !url.username && !url.password) return { source: 'upstream', study: m[1], series: m[2] };
    const loopbackHere = url.protocol === 'http:' && LOOPBACK.has(url.hostname) && url.port === this.ownPort;
    if ((this.ownOrigins.has(url.origin) || loopbackHere) && OWN_PATH.test(url.pathname)) return this.ref(m[1], m[2]);
    throw new HttpError(
      403,
      'dicomweb_host_not_allowed',
      `series URL ${url.origin}${url.pathname} is not on this server's /dicomweb nor under DICOMWEB_URL (${base ? describeUpstream(base) : 'not set'}); the server reads DICOMweb only from the PACS it is configured with`,
    );
  }

  private ref(study: string, series: string): SeriesRef {
    return { source: this.upstream ? 'upstream' : 'embedded', study, series };
  }

  /** Loads a series as an image named by its SeriesInstanceUID (result file `<SeriesInstanceUID>_seg.nii.gz`). */
  async load(ref: SeriesRef, signal?: AbortSignal): Promise<LoadedImage> {
    // the embedded store's series can grow by STOW: its key holds the instance count, so a grown series is read afresh
    const key = ref.source === 'upstream' ? `upstream ${this.upstream!.base}|${ref.study}|${ref.series}` : `embedded|${ref.study}|${ref.series}|${this.embedded?.instances(ref.study, ref.series).length ?? 0}`;
    const volume = await this.shared(key, signal, (s) => (ref.source === 'upstream' ? this.fromUpstream(ref, s) : this.fromEmbedded(ref, s)));
    return { volume, name: ref.series, format: 'dicom', warnings: this.warnings.get(volume) ?? [] };
  }

  /** The cached volume, or one download shared by every concurrent request (aborted when all of them left). */
  private async shared(key: string, signal: AbortSignal | undefined, load: (signal: AbortSignal) => Promise<Volume>): Promise<Volume> {
    const cached = this.cache.get(key);
    this.lookup?.(cached !== undefined);
    if (cached) return cached;
    let entry = this.inflight.get(key);
    if (!entry) {
      const ac = new AbortController();
      const promise = load(ac.signal).then((v) => {
        this.cache.set(key, v, v.data.byteLength);
        return v;
      });
      const e = { promise, waiters: 0, ac };
      promise.then(
        () => this.inflight.delete(key),
        () => this.inflight.delete(key),
      );
      this.inflight.set(key, (entry = e));
    }
    entry.waiters++;
    try {
      if (!signal) return await entry.promise;
      if (signal.aborted) throw new HttpError(499, 'cancelled', 'the client went away');
      return await new Promise<Volume>((resolve, reject) => {
        const onAbort = () => reject(new HttpError(499, 'cancelled', 'the client went away'));
        signal.addEventListener('abort', onAbort, { once: true });
        entry.promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    } finally {
      if (--entry.waiters === 0 && this.inflight.get(key) === entry) entry.ac.abort();
    }
  }

  private async fromEmbedded(ref: SeriesRef, signal: AbortSignal): Promise<Volume> {
    if (!this.embedded) throw new HttpError(404, 'series_not_found', 'this server has no embedded DICOMweb store');
    await this.embedded.ready();
    const files = this.embedded.seriesFiles(ref.study, ref.series);
    if (!files.length) throw new HttpError(404, 'series_not_found', `series ${ref.series} of study ${ref.study} is not in the embedded DICOMweb store`);
    return this.read(files, signal);
  }

  private async fromUpstream(ref: SeriesRef, signal: AbortSignal): Promise<Volume> {
    const up = this.upstream!;
    const cfg = this.config.images;
    const url = new URL(`${up.base}/studies/${ref.study}/series/${ref.series}`);
    const what = `series ${ref.series}`;
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(cfg.downloadTimeoutMs)]);
    const retrieve = (accept: string) =>
      requestUpstream(up, url, { headers: { accept }, signal: deadline }).catch((e) => {
        if (!signal.aborted && deadline.aborted) throw new HttpError(504, 'pacs_timeout', `PACS at ${describeUpstream(up.base)} did not send ${what} within ${cfg.downloadTimeoutMs} ms`);
        throw e;
      });
    // explicit VR little endian first (a PACS that transcodes decompresses for us); as stored if it refuses that
    // (`*`: without a transfer-syntax parameter, application/dicom means explicit VR little endian again, PS3.18)
    let res = await retrieve(`multipart/related; type="application/dicom"; transfer-syntax=${EXPLICIT_LE}`);
    if (TRANSCODE_REFUSED.has(res.statusCode ?? 0)) {
      res.resume();
      res = await retrieve('multipart/related; type="application/dicom"; transfer-syntax=*');
    }
    const status = res.statusCode ?? 502;
    const failure = upstreamFailure(up.base, status, what) ?? (status === 404 ? new HttpError(404, 'series_not_found', `series ${ref.series} of study ${ref.study} is not on the PACS at ${describeUpstream(up.base)}`) : null);
    if (failure || status !== 200) {
      res.resume();
      throw failure ?? new HttpError(502, 'pacs_error', `PACS at ${describeUpstream(up.base)} answered HTTP ${status} to the retrieve of ${what}`);
    }
    const body = await readLimited(res, cfg.maxDownloadBytes, what, deadline).catch((e) => {
      if (e instanceof HttpError) throw e;
      if (signal.aborted) throw new HttpError(499, 'cancelled', 'the client went away');
      if (deadline.aborted) throw new HttpError(504, 'pacs_timeout', `PACS at ${describeUpstream(up.base)} did not send ${what} within ${cfg.downloadTimeoutMs} ms`);
      throw new HttpError(502, 'pacs_unreachable', `PACS unreachable at ${describeUpstream(up.base)}: the transfer of ${what} broke off (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    });
    let files: DicomInput[];
    try {
      files = parseMultipart(body, String(res.headers['content-type'] ?? ''))
        .filter((p) => mediaTypeParams(p.headers['content-type'] ?? 'application/dicom').type === 'application/dicom')
        .map((p, n) => ({ name: `${what}, part ${n + 1}`, bytes: p.body }));
    } catch (e) {
      throw new HttpError(502, 'pacs_error', `PACS at ${describeUpstream(up.base)} sent ${what} in a form that is not multipart/related application/dicom: ${(e as Error).message}`);
    }
    if (!files.length) throw new HttpError(404, 'series_not_found', `the PACS sent no instances for ${what}`);
    return this.read(files, signal);
  }
}

/** Reads a response body up to `limit` bytes (413 beyond, by Content-Length or by count). */
async function readLimited(res: AsyncIterable<Buffer> & { headers: Record<string, unknown>; destroy(): void }, limit: number, what: string, signal: AbortSignal): Promise<Uint8Array> {
  const declared = Number(res.headers['content-length'] ?? NaN);
  if (declared > limit) {
    res.destroy();
    throw new HttpError(413, 'image_too_large', `${what} is ${declared} bytes, over the MAX_DOWNLOAD_BYTES limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of res) {
    if (signal.aborted) throw signal.reason;
    total += c.length;
    if (total > limit) {
      res.destroy();
      throw new HttpError(413, 'image_too_large', `${what} is over the MAX_DOWNLOAD_BYTES limit of ${limit} bytes`);
    }
    chunks.push(c);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
