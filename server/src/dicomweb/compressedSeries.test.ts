import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import dicomParser from 'dicom-parser';
import { unzipSync } from 'fflate';
import { readDicomSeriesWithInfo, readNifti, type Volume } from '@vista3d/models';
import { generatePhantom } from '@vista3d/models/phantom';
import { writeDicomSeries } from '../../../models/src/io/dicomWrite.ts';
import { COMPRESSORS, encapsulate, encodeWithCodec, toolsMissing, type Compressor } from '../../../models/test/support/compressDicom.ts';
import { loadConfig } from '../config.ts';
import { DicomwebSeriesLoader } from '../images/dicomwebSeries.ts';
import { parseMultipart } from './multipart.ts';
import { DicomStore } from './store.ts';
import type { RunningServer } from '../server.ts';
import { orthancMissing, startCountingProxy, startOrthanc, storeSeries, type CountingProxy, type RunningOrthanc, type SeenRequest } from '../../test/orthanc.ts';
import { makeTestEnv, startTestServer, type TestEnv } from '../../test/support.ts';

const missing = orthancMissing() ?? toolsMissing();
if (missing && process.env.CI) throw new Error(`${missing} (CI is set: the compressed-series tests need Orthanc, DCMTK, GDCM and OpenJPH)`);

const UNCOMPRESSED = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1';
const AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/**
 * A PACS that does not transcode: Orthanc behind a proxy that answers 406 to every retrieve asking for explicit
 * VR little endian, and passes the rest on. Records what it was asked.
 */
function startNonTranscodingProxy(target: string): Promise<CountingProxy> {
  return startCountingProxy(target, (req, res) => {
    if (!/transfer-syntax=1\.2\.840\.10008\.1\.2\.1(\s*[;,]|$)/.test(String(req.headers.accept ?? ''))) return false;
    res.writeHead(406, { 'content-type': 'text/plain' }).end('this PACS sends instances as stored');
    return true;
  });
}

/** A CT phantom with air around it: edges, flat runs and noise, as the codecs meet them in real series. */
const phantom = generatePhantom({ seed: 11, dims: [40, 32, 6], spacing: [9, 9, 5] }).image;
const plain = writeDicomSeries(phantom, { seed: 'compressed-series/plain', sliceOrder: 'reverse' });
const reference = readDicomSeriesWithInfo(plain).volume;
/** One series per compressor: the same voxels under other UIDs, each instance compressed by the tool. */
const variants = missing
  ? []
  : COMPRESSORS.map((c) => {
      const files = writeDicomSeries(phantom, { seed: `compressed-series/${c.syntax}`, sliceOrder: 'reverse' }).map((f) => c.compress(f));
      const ds = dicomParser.parseDicom(files[0].bytes);
      return { c, files, study: ds.string('x0020000d')!, series: ds.string('x0020000e')! };
    });

function assertVolume(got: Volume, c: Compressor, orthancDecoded?: Volume): void {
  assert.deepEqual(got.dims, reference.dims);
  for (let a = 0; a < 3; a++) assert.ok(Math.abs(got.spacing[a] - reference.spacing[a]) < 1e-6 && Math.abs(got.origin[a] - reference.origin[a]) < 1e-4, `${c.name}: geometry`);
  if (!c.lossy) {
    assert.deepEqual(got.data, reference.data, `${c.name}: voxel for voxel`);
    return;
  }
  // lossy: as Orthanc's own decoder (DCMTK) gives the same codestream where it can, else close to the original
  if (orthancDecoded) assert.deepEqual(got.data, orthancDecoded.data, `${c.name}: as Orthanc decodes it`);
  let max = 0;
  let sum = 0;
  for (let p = 0; p < got.data.length; p++) {
    const d = Math.abs(got.data[p] - reference.data[p]);
    max = Math.max(max, d);
    sum += d;
  }
  if (c.tolerance !== undefined) assert.ok(max <= c.tolerance, `${c.name}: max difference ${max}`);
  assert.ok(sum / got.data.length < 40, `${c.name}: mean difference ${sum / got.data.length} HU`);
}

describe('compressed series from a real Orthanc, read through the server’s series loader', { skip: missing ?? false }, () => {
  let orthanc: RunningOrthanc;
  let transcoding: CountingProxy;
  let asStored: CountingProxy;
  const seriesUrl = (root: string, v: { study: string; series: string }) => `${root}/studies/${v.study}/series/${v.series}`;
  const plainUids = { study: readDicomSeriesWithInfo(plain).studyInstanceUid, series: readDicomSeriesWithInfo(plain).seriesInstanceUid };
  const loader = (pacs: string) => new DicomwebSeriesLoader(loadConfig({ LOG_LEVEL: 'silent', SAMPLE_STUDY: 'false', DICOMWEB_URL: pacs }), null);
  const load = async (l: DicomwebSeriesLoader, url: string) => {
    const ref = l.parse(url);
    assert.ok(ref, url);
    return l.load(ref);
  };
  const accepts = (proxy: CountingProxy, v: { series: string }) => proxy.requests.filter((q) => q.url.includes(`/series/${v.series}`)).map((q) => String(q.headers.accept));

  before(async () => {
    orthanc = await startOrthanc();
    await storeSeries(orthanc.url, plain);
    for (const v of variants) await storeSeries(orthanc.url, v.files);
    transcoding = await startCountingProxy(orthanc.url);
    asStored = await startNonTranscodingProxy(orthanc.url);
  });
  after(async () => {
    await transcoding?.close();
    await asStored?.close();
    await orthanc?.stop();
  });

  it('Orthanc keeps the instances compressed as the tools made them', async () => {
    for (const v of variants) {
      const r = await fetch(seriesUrl(orthanc.dicomweb, v), { headers: { accept: AS_STORED } });
      assert.equal(r.status, 200, v.c.name);
      const parts = parseMultipart(new Uint8Array(await r.arrayBuffer()), r.headers.get('content-type') ?? '');
      assert.equal(parts.length, phantom.dims[2]);
      assert.deepEqual([...new Set(parts.map((p) => dicomParser.readPart10Header(p.body).string('x00020010')))], [v.c.syntax], v.c.name);
    }
  });

  it('a PACS that does not transcode: each series asked uncompressed, then as stored, and decoded here, equal to the uncompressed series', async () => {
    const l = loader(`${asStored.url}/dicom-web`);
    for (const v of variants) {
      const got = await load(l, seriesUrl(`${asStored.url}/dicom-web`, v));
      assert.deepEqual(accepts(asStored, v), [UNCOMPRESSED, AS_STORED], v.c.name);
      // lossy: Orthanc's own decoding where its transcoder reads the syntax (JPEG-LS: CharLS in DCMTK), else none
      const orthancDecoded = v.c.lossy ? await load(loader(orthanc.dicomweb), seriesUrl(orthanc.dicomweb, v)).then((x) => x.volume) : undefined;
      assertVolume(got.volume, v.c, orthancDecoded);
      if (v.c.lossy) assert.ok(got.warnings.some((w) => /lossy compressed/.test(w)), `${v.c.name}: ${JSON.stringify(got.warnings)}`);
      else assert.deepEqual(got.warnings, [], v.c.name);
    }
  });

  it('Orthanc as it is: what it can transcode comes uncompressed in one request; JPEG 2000 and HTJ2K (500 from Orthanc) as stored', async () => {
    const l = loader(`${transcoding.url}/dicom-web`);
    for (const v of variants) {
      const got = await load(l, seriesUrl(`${transcoding.url}/dicom-web`, v));
      assertVolume(got.volume, v.c);
      const asked = accepts(transcoding, v).filter((a) => a !== 'application/dicom+json');
      assert.equal(asked[0], UNCOMPRESSED, v.c.name);
      assert.ok(asked.length === 1 || (asked.length === 2 && asked[1] === AS_STORED), `${v.c.name}: ${JSON.stringify(asked)}`);
    }
  });

  describe('a VISTA3D job on a compressed series gives the labels of the uncompressed one', () => {
    let t: TestEnv;
    let s: RunningServer;
    before(async () => {
      t = await makeTestEnv({ roi: [8, 8, 8], spacing: [...phantom.spacing] });
      s = await startTestServer(t, { DICOMWEB_URL: `${asStored.url}/dicom-web` });
    });
    after(async () => {
      await s?.close();
      await t?.cleanup();
    });
    // a click on a bright voxel of the middle slice: the test model labels the bright voxels around it
    const [nx, ny] = phantom.dims;
    const bright = reference.data.findIndex((v, n) => v > 100 && Math.floor(n / (nx * ny)) === 3);
    const click = [bright % nx, Math.floor(bright / nx) % ny, 3];
    const segment = async (url: string): Promise<Volume> => {
      const r = await fetch(`${s.url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: url, prompts: { points: { spleen: [click] } } }) });
      assert.equal(r.status, 200, await r.clone().text());
      const [[, bytes]] = Object.entries(unzipSync(new Uint8Array(await r.arrayBuffer())));
      return readNifti(bytes);
    };
    it('every lossless syntax, through /dicomweb series URLs', async () => {
      const want = await segment(seriesUrl('/dicomweb', plainUids));
      assert.ok(want.data.filter((v) => v === 3).length > 10, 'the uncompressed series has a spleen around the click');
      for (const v of variants.filter((x) => !x.c.lossy)) assert.deepEqual((await segment(seriesUrl('/dicomweb', v))).data, want.data, v.c.name);
    });
  });
});

describe('compressed series in the embedded store (no PACS)', () => {
  it('a JPEG-LS and an HTJ2K series stored there are decoded by the series loader, voxel for voxel', async () => {
    const store = new DicomStore('/dicomweb', 1e8);
    const loader = new DicomwebSeriesLoader(loadConfig({ LOG_LEVEL: 'silent', SAMPLE_STUDY: 'false' }), store);
    for (const [codec, syntax] of [['jpeg-ls', '1.2.840.10008.1.2.4.80'], ['htj2k', '1.2.840.10008.1.2.4.202']] as const) {
      const files = writeDicomSeries(phantom, { seed: `embedded/${syntax}` });
      for (const f of files) store.add(encapsulate(f, syntax, await encodeWithCodec(f, codec)).bytes);
      const { studyInstanceUid, seriesInstanceUid } = readDicomSeriesWithInfo(files);
      const ref = loader.parse(`/dicomweb/studies/${studyInstanceUid}/series/${seriesInstanceUid}`);
      const got = await loader.load(ref!);
      assert.deepEqual(got.volume.data, reference.data, syntax);
      assert.deepEqual(got.warnings, []);
    }
  });
});
