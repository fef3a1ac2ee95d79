import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { readDicomSeriesWithInfo, readNifti, type Volume } from '@vista3d/models';
import { writeDicomSeries } from '../../../models/src/io/dicomWrite.ts';
import { generatePhantom } from '@vista3d/models/phantom';
import { loadConfig } from '../config.ts';
import { DicomwebSeriesLoader } from '../images/dicomwebSeries.ts';
import { LruCache } from '../lru.ts';
import { ImageSource } from '../images/imageSource.ts';
import type { RunningServer } from '../server.ts';
import { orthancMissing, startCountingProxy, startOrthanc, storeSeries, type CountingProxy, type RunningOrthanc } from '../../test/orthanc.ts';
import { makeTestEnv, startTestServer, type TestEnv } from '../../test/support.ts';
import { DicomStore } from './store.ts';

const missing = orthancMissing();
if (missing && process.env.CI) throw new Error(`${missing} (CI is set: the series-URL tests need a real Orthanc)`);

/** A small CT phantom; `reverse`: the k axis runs superior → inferior and InstanceNumber 1 is the last k-slice. */
function series(seed: number, reverse: boolean) {
  const image = generatePhantom({ seed, dims: [20, 16, 8], spacing: [2, 2.5, 3], ...(reverse ? { direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] } : {}) }).image;
  const files = writeDicomSeries(image, { seed: `series-test/${seed}/${reverse}`, sliceOrder: reverse ? 'reverse' : 'forward', patientName: `Test^${seed}` });
  const info = readDicomSeriesWithInfo(files);
  return { files, info, url: (root: string) => `${root}/studies/${info.studyInstanceUid}/series/${info.seriesInstanceUid}` };
}

function assertSameGrid(seg: Volume, want: Volume): void {
  assert.deepEqual(seg.dims, want.dims);
  for (let a = 0; a < 3; a++) assert.ok(Math.abs(seg.spacing[a] - want.spacing[a]) < 1e-5, `spacing ${seg.spacing} vs ${want.spacing}`);
  for (let a = 0; a < 3; a++) assert.ok(Math.abs(seg.origin[a] - want.origin[a]) < 1e-3, `origin ${seg.origin} vs ${want.origin}`);
  for (let a = 0; a < 9; a++) assert.ok(Math.abs(seg.direction[a] - want.direction[a]) < 1e-5, `direction ${seg.direction} vs ${want.direction}`);
}

async function inference(s: RunningServer, image: string): Promise<Response> {
  return fetch(`${s.url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image, prompts: { classes: ['liver'] } }) });
}

async function segOf(r: Response): Promise<[string, Volume]> {
  assert.equal(r.status, 200, await r.clone().text());
  const [[name, bytes]] = Object.entries(unzipSync(new Uint8Array(await r.arrayBuffer())));
  return [name, readNifti(bytes)];
}

describe('a DICOMweb series URL as the inference image (real Orthanc)', { skip: missing ?? false }, () => {
  const forward = series(11, false);
  const reverse = series(12, true);
  let t: TestEnv;
  let orthanc: RunningOrthanc;
  let counting: CountingProxy;
  let s: RunningServer;
  let pacs: string;
  const retrieves = (url: string) => counting.requests.filter((q) => q.method === 'GET' && `${counting.url}${q.url}` === url).length;

  before(async () => {
    t = await makeTestEnv({ roi: [8, 8, 8] });
    orthanc = await startOrthanc();
    await storeSeries(orthanc.url, forward.files);
    await storeSeries(orthanc.url, reverse.files);
    counting = await startCountingProxy(orthanc.url);
    pacs = `${counting.url}/dicom-web`;
    s = await startTestServer(t, { DICOMWEB_URL: pacs });
  });
  after(async () => {
    await s?.close();
    await counting?.close();
    await orthanc?.stop();
    await t?.cleanup();
  });

  it('DICOMWEB_URL series: a zip of <SeriesInstanceUID>_seg.nii.gz on the series grid', async () => {
    const [name, seg] = await segOf(await inference(s, forward.url(pacs)));
    assert.equal(name, `${forward.info.seriesInstanceUid}_seg.nii.gz`);
    assertSameGrid(seg, forward.info.volume);
    assert.equal(retrieves(forward.url(pacs)), 1);
  });

  it('a series stored in reverse slice order: the grid readDicomSeriesWithInfo gives; concurrent requests share one download', async () => {
    const [a, b] = await Promise.all([inference(s, reverse.url(pacs)), inference(s, reverse.url('/dicomweb'))]);
    const [, segA] = await segOf(a);
    const [, segB] = await segOf(b);
    assertSameGrid(segA, reverse.info.volume);
    assert.deepEqual(segA.data, segB.data);
    assert.ok(reverse.info.volume.direction[8] === 1, 'the reader sorts slices along the normal');
    assert.equal(retrieves(reverse.url(pacs)), 1);
  });

  it('the same series again, in any accepted form, comes from the cache: Orthanc is not asked again', async () => {
    const before = counting.requests.length;
    for (const image of [forward.url(pacs), forward.url('/dicomweb'), forward.url(`${s.url}/dicomweb`), forward.url(`${s.url.replace('127.0.0.1', 'localhost')}/dicomweb`)]) {
      const [, seg] = await segOf(await inference(s, image));
      assertSameGrid(seg, forward.info.volume);
    }
    assert.equal(counting.requests.length, before);
  });

  it('refuses series URLs on other hosts with 403 naming DICOMWEB_URL', async () => {
    for (const image of [forward.url('http://pacs.example.org/dicom-web'), forward.url(`${orthanc.url}/dicom-web`), forward.url('http://127.0.0.1:1/dicomweb')]) {
      const r = await inference(s, image);
      assert.equal(r.status, 403);
      const { detail } = (await r.json()) as { detail: string };
      assert.match(detail, /nor under DICOMWEB_URL \(http:\/\/127\.0\.0\.1:\d+\/dicom-web\)/);
    }
  });

  it('a series missing on the PACS is 404; with Orthanc stopped: 502 "PACS unreachable", cached series still work', async () => {
    const r404 = await inference(s, `${pacs}/studies/1.2.3/series/4.5.6`);
    assert.equal(r404.status, 404);
    assert.match(((await r404.json()) as { detail: string }).detail, /not on the PACS/);
    await orthanc.stop();
    await counting.close();
    const r = await inference(s, `/dicomweb/studies/1.2.3/series/4.5.7`);
    assert.equal(r.status, 502);
    assert.equal(((await r.json()) as { detail: string }).detail, `PACS unreachable at ${pacs}: ECONNREFUSED`);
    const [, seg] = await segOf(await inference(s, forward.url(pacs)));
    assertSameGrid(seg, forward.info.volume);
  });
});

describe('DicomwebSeriesLoader without a PACS', () => {
  it('reads /dicomweb series paths from the embedded store, in memory; refuses other hosts', async () => {
    const config = loadConfig({ LOG_LEVEL: 'silent', SAMPLE_STUDY: 'false' });
    const store = new DicomStore('/dicomweb', 1e8);
    const reverse = series(13, true);
    for (const f of reverse.files) store.add(f.bytes);
    const loader = new DicomwebSeriesLoader(config, store);
    loader.listeningOn('http://127.0.0.1:8123');
    const images = new ImageSource(config, loader);
    for (const image of [reverse.url('/dicomweb'), reverse.url('http://localhost:8123/dicomweb')]) {
      const got = await images.load(image);
      assert.equal(got.name, reverse.info.seriesInstanceUid);
      assert.equal(got.format, 'dicom');
      assert.deepEqual(got.volume, reverse.info.volume);
    }
    await assert.rejects(images.load(reverse.url('http://localhost:9999/dicomweb')), { status: 403, message: /DICOMWEB_URL \(not set\)/ });
    await assert.rejects(images.load('/dicomweb/studies/1.2/series/3.4'), { status: 404, message: /not in the embedded DICOMweb store/ });
    // not a series reference: the other loaders decide (here: local paths are disabled)
    await assert.rejects(images.load('/dicomweb/studies/1.2'), { status: 403, message: /local image paths are disabled/ });
  });

  it('LruCache: bounded by bytes, least recently used out first, oversized entries not kept', () => {
    const c = new LruCache<string>(10);
    c.set('a', 'A', 4);
    c.set('b', 'B', 4);
    assert.equal(c.get('a'), 'A'); // a is now the most recent
    c.set('c', 'C', 4);
    assert.deepEqual([c.get('a'), c.get('b'), c.get('c')], ['A', undefined, 'C']);
    assert.equal(c.bytes, 8);
    c.set('d', 'D', 11);
    assert.equal(c.get('d'), undefined);
    assert.equal(c.size, 2);
  });
});
