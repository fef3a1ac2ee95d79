import assert from 'node:assert/strict';
import { request as httpRequest, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { generatePhantom, phantomDicomSeries } from '@vista3d/models/phantom';
import { createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { orthancMissing, startCountingProxy, startOrthanc, storeSeries, type CountingProxy, type RunningOrthanc } from '../../test/orthanc.ts';
import { TAG, type DicomJson } from './dicomJson.ts';
import { createDicomweb } from './index.ts';
import { buildMultipart, newBoundary, parseMultipart } from './multipart.ts';

const missing = orthancMissing();
if (missing && process.env.CI) throw new Error(`${missing} (CI is set: the DICOMweb proxy tests need a real Orthanc)`);

/** Raw GET (no URL normalisation by the client) → status and body. */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = httpRequest({ host: u.hostname, port: u.port, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('/dicomweb proxy to a real Orthanc', { skip: missing ?? false }, () => {
  const phantom = generatePhantom({ seed: 7, dims: [24, 20, 6], spacing: [2.5, 2.5, 3] });
  const files = phantomDicomSeries(phantom);
  let orthanc: RunningOrthanc;
  let counting: CountingProxy;
  let server: Server;
  let origin: string;
  let study: string;
  let series: string;

  before(async () => {
    orthanc = await startOrthanc();
    await storeSeries(orthanc.url, files);
    counting = await startCountingProxy(orthanc.url);
    const config = loadConfig({ LOG_LEVEL: 'silent', DICOMWEB_URL: `${counting.url}/dicom-web`, DICOMWEB_AUTH: 'Bearer upstream-token' });
    const log = createLogger('silent');
    const dicomweb = createDicomweb(config, log);
    const app = createApp({ config, log, metrics: createMetrics(), engine: () => undefined, state: { ready: false, shuttingDown: false }, version: '0', extraRoutes: dicomweb.mount });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server?.close(() => r()));
    await counting?.close();
    await orthanc?.stop();
  });

  it('QIDO-RS through the proxy: the PACS answer, with its absolute URLs rewritten to our /dicomweb', async () => {
    const r = await fetch(`${origin}/dicomweb/studies?PatientName=Phantom*`, { headers: { accept: 'application/dicom+json' } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /application\/dicom\+json/);
    const [s] = (await r.json()) as DicomJson[];
    study = String(s[TAG.StudyInstanceUID].Value![0]);
    assert.equal(s[TAG.RetrieveURL].Value![0], `${origin}/dicomweb/studies/${study}`);
    const seriesList = (await (await fetch(`${origin}/dicomweb/studies/${study}/series`)).json()) as DicomJson[];
    series = String(seriesList[0][TAG.SeriesInstanceUID].Value![0]);
    assert.equal(seriesList[0][TAG.Modality].Value![0], 'CT');
    const md = (await (await fetch(`${origin}/dicomweb/studies/${study}/series/${series}/metadata`)).json()) as DicomJson[];
    assert.equal(md.length, 6);
    assert.ok(md[0][TAG.PixelData].BulkDataURI!.startsWith(`${origin}/dicomweb/studies/${study}/series/${series}/instances/`));
    assert.ok(!JSON.stringify(md).includes(counting.url), 'no upstream URL left');
  });

  it('sends DICOMWEB_AUTH upstream, never the client’s credentials or hop-by-hop headers; forwards Accept', async () => {
    counting.requests.length = 0;
    const r = await fetch(`${origin}/dicomweb/studies`, { headers: { authorization: 'Bearer client-key', cookie: 'session=1', 'x-custom': 'no', accept: 'application/dicom+json' } });
    assert.equal(r.status, 200);
    const [seen] = counting.requests;
    assert.equal(seen.url, '/dicom-web/studies');
    assert.equal(seen.headers.authorization, 'Bearer upstream-token');
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers['x-custom'], undefined);
    assert.equal(seen.headers.accept, 'application/dicom+json');
    assert.equal(seen.headers.host, new URL(counting.url).host);
  });

  it('WADO-RS frames stream through: the slice’s pixel data', async () => {
    const md = (await (await fetch(`${origin}/dicomweb/studies/${study}/series/${series}/instances`)).json()) as DicomJson[];
    const third = md.find((i) => Number(i[TAG.InstanceNumber].Value![0]) === 3)!;
    const r = await fetch(`${origin}/dicomweb/studies/${study}/series/${series}/instances/${third[TAG.SOPInstanceUID].Value![0]}/frames/1`, {
      headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
    });
    assert.equal(r.status, 200);
    const [part] = parseMultipart(new Uint8Array(await r.arrayBuffer()), r.headers.get('content-type')!);
    const [nx, ny] = phantom.image.dims;
    assert.deepEqual([...new Int16Array(part.body.slice().buffer)], [...phantom.image.data.subarray(2 * nx * ny, 3 * nx * ny)]);
  });

  it('STOW-RS through the proxy stores in the PACS', async () => {
    const other = phantomDicomSeries(generatePhantom({ seed: 8, dims: [8, 8, 2] }));
    const boundary = newBoundary();
    const body = buildMultipart(other.map((f) => ({ contentType: 'application/dicom', body: f.bytes })), boundary);
    const r = await fetch(`${origin}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' }, body: new Uint8Array(body) });
    assert.equal(r.status, 200, await r.clone().text());
    const studies = (await (await fetch(`${origin}/dicomweb/studies`)).json()) as DicomJson[];
    assert.equal(studies.length, 2);
  });

  it('passes the PACS’s 4xx on; refuses other methods and paths that leave DICOMWEB_URL', async () => {
    const missingSeries = await fetch(`${origin}/dicomweb/studies/${study}/series/1.2.3/metadata`);
    assert.equal(missingSeries.status, 404);
    await missingSeries.arrayBuffer();
    counting.requests.length = 0;
    for (const path of ['/dicomweb/%2e%2e/system', '/dicomweb/../system', '/dicomweb/studies/..%2f..%2fsystem']) {
      const r = await rawGet(origin, path);
      assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`);
    }
    assert.ok(!counting.requests.some((q) => q.url.includes('system')), 'nothing outside /dicom-web reached the PACS');
    const del = await fetch(`${origin}/dicomweb/studies/${study}`, { method: 'DELETE' });
    assert.equal(del.status, 405);
    assert.match(((await del.json()) as { detail: string }).detail, /GET, HEAD, POST only/);
  });

  it('answers 502 "PACS unreachable" once the PACS is down', async () => {
    await orthanc.stop();
    await counting.close();
    const r = await fetch(`${origin}/dicomweb/studies`);
    assert.equal(r.status, 502);
    const { detail } = (await r.json()) as { detail: string };
    assert.equal(detail, `PACS unreachable at ${counting.url}/dicom-web: ECONNREFUSED`);
  });
});
