/**
 * The embedded store's DICOMweb endpoints, as OHIF's dicomweb data source (`qidoRoot = wadoRoot = /dicomweb`,
 * `staticWado: false`) and dicomweb-client use them: QIDO-RS searches, WADO-RS retrieve (instances, series,
 * studies as multipart/related application/dicom; metadata as DICOM JSON; frames and bulk data as
 * multipart/related application/octet-stream), STOW-RS store. PS3.18 §10.4–10.6. Errors are JSON `{detail}`.
 */
import { Router, type Request, type Response } from 'express';
import { HttpError } from '../http/errors.ts';
import { TAG, type DicomJson } from './dicomJson.ts';
import { buildMultipart, mediaTypeParams, newBoundary, parseMultipart, splitOutsideQuotes } from './multipart.ts';
import { DicomStore, frameBytes, NATIVE_LE, StoreError, FAILURE, type QueryParams, type StoredInstance } from './store.ts';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const DICOM_JSON = 'application/dicom+json';

/** One media range of an Accept header: type, its `type` and `transfer-syntax` parameters. */
interface AcceptRange {
  type: string;
  partType: string | undefined;
  transferSyntax: string | undefined;
}

function acceptRanges(req: Request): AcceptRange[] {
  const header = req.get('accept') ?? '*/*';
  return splitOutsideQuotes(header, ',').map((r) => {
    const { type, params } = mediaTypeParams(r);
    return { type, partType: params.type?.toLowerCase(), transferSyntax: params['transfer-syntax'] };
  });
}

/**
 * The transfer syntax to answer a multipart retrieve with, given what is stored, or a 406. `partType` is the
 * body part type we can send (application/dicom, application/octet-stream); `stored` the instances' syntaxes.
 */
function negotiate(req: Request, partType: string, stored: string[], canServe: (ts: string) => boolean): string | null {
  for (const r of acceptRanges(req)) {
    const wildcard = r.type === '*/*' || r.type === 'multipart/*';
    const fits = wildcard || (r.type === 'multipart/related' && (r.partType === undefined || r.partType === partType)) || r.type === partType;
    if (!fits) continue;
    const ts = r.transferSyntax;
    if (ts === undefined || ts === '*') {
      if (partType === 'application/octet-stream' && ts === undefined && !stored.every((s) => NATIVE_LE.has(s))) continue;
      return partType === 'application/octet-stream' ? EXPLICIT_LE : stored[0] ?? EXPLICIT_LE;
    }
    if (canServe(ts)) return ts;
  }
  return null;
}

function notAcceptable(req: Request, what: string): HttpError {
  return new HttpError(406, 'not_acceptable', `cannot serve ${what} as ${JSON.stringify(req.get('accept') ?? '')}: the embedded store serves multipart/related application/dicom as stored and frames uncompressed (transfer-syntax=* or ${EXPLICIT_LE})`);
}

function sendMultipart(res: Response, partType: string, transferSyntax: string, parts: { body: Uint8Array; location?: string }[]): void {
  const boundary = newBoundary();
  const contentType = `${partType}; transfer-syntax=${transferSyntax}`;
  const body = buildMultipart(
    parts.map((p) => ({ ...p, contentType })),
    boundary,
  );
  res.status(200).set('Content-Type', `multipart/related; type="${partType}"; boundary=${boundary}`).send(body);
}

function sendJson(res: Response, body: unknown): void {
  res.status(200).type(DICOM_JSON).send(JSON.stringify(body));
}

/** Reads a request body up to `limit` bytes (413 beyond). */
async function readBody(req: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(req.get('content-length') ?? NaN);
  if (declared > limit) throw new HttpError(413, 'body_too_large', `the STOW-RS body is ${declared} bytes; the embedded store takes at most ${limit} more (DICOMWEB_STORE_BYTES)`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new HttpError(413, 'body_too_large', `the STOW-RS body exceeds the ${limit} bytes the embedded store still takes (DICOMWEB_STORE_BYTES)`);
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** Query parameters as single strings (a repeated key's values joined by commas, as QIDO allows). */
function params(req: Request): QueryParams {
  const out: QueryParams = {};
  for (const [k, v] of new URL(req.originalUrl, 'http://x').searchParams) out[k] = out[k] === undefined ? v : `${out[k]},${v}`;
  return out;
}

/** Router for the embedded store, to mount at `store.root` (`/dicomweb`). */
export function embeddedDicomwebRouter(store: DicomStore): Router {
  const r = Router();
  const root = store.root;
  r.use(async (req, res, next) => {
    res.locals.routeBase = req.baseUrl;
    await store.ready();
    next();
  });

  const found = (list: StoredInstance[], what: string): StoredInstance[] => {
    if (!list.length) throw new HttpError(404, 'not_found', `${what} is not in the embedded DICOMweb store`);
    return list;
  };
  const studyWhat = (p: Record<string, string>) => (p.sop ? `instance ${p.sop}` : p.series ? `series ${p.series}` : `study ${p.study}`);

  // QIDO-RS
  r.get('/studies', (req, res) => sendJson(res, store.searchStudies(params(req))));
  r.get('/series', (req, res) => sendJson(res, store.searchSeries(params(req))));
  r.get('/instances', (req, res) => sendJson(res, store.searchInstances(params(req))));
  r.get('/studies/:study/series', (req, res) => sendJson(res, store.searchSeries(params(req), req.params.study)));
  r.get('/studies/:study/instances', (req, res) => sendJson(res, store.searchInstances(params(req), req.params.study)));
  r.get('/studies/:study/series/:series/instances', (req, res) => sendJson(res, store.searchInstances(params(req), req.params.study, req.params.series)));

  // WADO-RS metadata
  const metadata = (req: Request, res: Response) => {
    const p = req.params as Record<string, string>;
    sendJson(res, found(store.instances(p.study, p.series, p.sop), studyWhat(p)).map((i) => i.json));
  };
  r.get('/studies/:study/metadata', metadata);
  r.get('/studies/:study/series/:series/metadata', metadata);
  r.get('/studies/:study/series/:series/instances/:sop/metadata', metadata);

  // WADO-RS retrieve: Part 10 instances
  const retrieve = (req: Request, res: Response) => {
    const p = req.params as Record<string, string>;
    const list = found(store.instances(p.study, p.series, p.sop), studyWhat(p));
    const stored = [...new Set(list.map((i) => i.transferSyntax))];
    const ts = negotiate(req, 'application/dicom', stored, (t) => stored.length === 1 && stored[0] === t);
    if (!ts) throw notAcceptable(req, `${studyWhat(p)} (stored as ${stored.join(', ')})`);
    const boundary = newBoundary();
    const body = buildMultipart(
      list.map((i) => ({ contentType: `application/dicom; transfer-syntax=${i.transferSyntax}`, body: i.file, location: `${root}/studies/${i.studyUid}/series/${i.seriesUid}/instances/${i.sopUid}` })),
      boundary,
    );
    res.status(200).set('Content-Type', `multipart/related; type="application/dicom"; boundary=${boundary}`).send(body);
  };
  r.get('/studies/:study', retrieve);
  r.get('/studies/:study/series/:series', retrieve);
  r.get('/studies/:study/series/:series/instances/:sop', retrieve);

  // WADO-RS frames and bulk data
  r.get('/studies/:study/series/:series/instances/:sop/frames/:frames', (req, res) => {
    const p = req.params as Record<string, string>;
    const [i] = found(store.instances(p.study, p.series, p.sop), studyWhat(p));
    const numbers = p.frames.split(',').map((f) => Number(f.trim()));
    const ts = negotiate(req, 'application/octet-stream', [i.transferSyntax], (t) => t === EXPLICIT_LE && NATIVE_LE.has(i.transferSyntax));
    if (!ts || !NATIVE_LE.has(i.transferSyntax)) throw notAcceptable(req, `frames of ${i.sopUid} (stored as ${i.transferSyntax})`);
    const frames = numbers.map((n) => {
      const f = frameBytes(i, n);
      if (!f) throw new HttpError(404, 'not_found', `instance ${i.sopUid} has no frame ${JSON.stringify(String(n))} (frames are numbered from 1)`);
      return { body: f };
    });
    sendMultipart(res, 'application/octet-stream', ts, frames);
  });
  r.get('/studies/:study/series/:series/instances/:sop/bulk/:tag', (req, res) => {
    const p = req.params as Record<string, string>;
    const [i] = found(store.instances(p.study, p.series, p.sop), studyWhat(p));
    if (p.tag.toUpperCase() !== TAG.PixelData || !i.pixelData) throw new HttpError(404, 'not_found', `instance ${i.sopUid} has no bulk data ${p.tag}`);
    sendMultipart(res, 'application/octet-stream', NATIVE_LE.has(i.transferSyntax) ? EXPLICIT_LE : i.transferSyntax, [{ body: i.pixelData }]);
  });

  // STOW-RS
  const stow = async (req: Request, res: Response) => {
    const contentType = req.get('content-type') ?? '';
    const { type } = mediaTypeParams(contentType);
    if (type !== 'multipart/related') throw new HttpError(415, 'unsupported_media_type', `STOW-RS takes multipart/related; type="application/dicom", not ${JSON.stringify(contentType)}`);
    const body = await readBody(req, Math.max(0, store.maxBytes - store.bytesUsed));
    let parts;
    try {
      parts = parseMultipart(body, contentType);
    } catch (e) {
      throw new HttpError(400, 'malformed_multipart', `the STOW-RS body is not valid multipart/related: ${(e as Error).message}`);
    }
    if (!parts.length) throw new HttpError(400, 'malformed_multipart', 'the STOW-RS body holds no parts');
    const study = (req.params as Record<string, string | undefined>).study;
    const stored: DicomJson[] = [];
    const failed: DicomJson[] = [];
    for (const part of parts) {
      const partType = mediaTypeParams(part.headers['content-type'] ?? 'application/dicom').type;
      try {
        if (partType !== 'application/dicom') throw new StoreError(FAILURE.cannotUnderstand, `part of type ${partType}: only application/dicom is stored`);
        const i = store.add(part.body, { study });
        stored.push({
          [TAG.ReferencedSOPClassUID]: { vr: 'UI', Value: [i.sopClassUid] },
          [TAG.ReferencedSOPInstanceUID]: { vr: 'UI', Value: [i.sopUid] },
          [TAG.RetrieveURL]: { vr: 'UR', Value: [`${root}/studies/${i.studyUid}/series/${i.seriesUid}/instances/${i.sopUid}`] },
        });
      } catch (e) {
        const err = e instanceof StoreError ? e : new StoreError(FAILURE.cannotUnderstand, (e as Error).message);
        failed.push({
          [TAG.ReferencedSOPClassUID]: { vr: 'UI', ...(err.sopClassUid ? { Value: [err.sopClassUid] } : {}) },
          [TAG.ReferencedSOPInstanceUID]: { vr: 'UI', ...(err.sopUid ? { Value: [err.sopUid] } : {}) },
          [TAG.FailureReason]: { vr: 'US', Value: [err.reason] },
        });
      }
    }
    const response: DicomJson = {};
    if (study) response[TAG.RetrieveURL] = { vr: 'UR', Value: [`${root}/studies/${study}`] };
    if (failed.length) response[TAG.FailedSOPSequence] = { vr: 'SQ', Value: failed };
    if (stored.length) response[TAG.ReferencedSOPSequence] = { vr: 'SQ', Value: stored };
    // PS3.18 §10.5.3: 200 all stored, 202 some failed, 409 none stored
    res.status(!failed.length ? 200 : stored.length ? 202 : 409).type(DICOM_JSON).send(JSON.stringify(response));
  };
  r.post('/studies', stow);
  r.post('/studies/:study', stow);

  r.use((req, _res, next) => next(new HttpError(req.method === 'GET' || req.method === 'POST' ? 404 : 405, 'not_found', `no DICOMweb endpoint ${req.method} ${root}${req.path}`)));
  return r;
}
