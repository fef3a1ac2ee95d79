import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { data } from 'dcmjs';
import { generatePhantom, phantomDicomSeries } from '@vista3d/models/phantom';
import { createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { TAG, type DicomJson } from './dicomJson.ts';
import { createDicomweb } from './index.ts';
import { buildMultipart, newBoundary, parseMultipart } from './multipart.ts';
import { DicomStore, FAILURE, SAMPLE_GRID, StoreError } from './store.ts';

const SEG_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';

/** A SEG-like instance: multi-frame, 1 bit per pixel, bit-packed across frame boundaries (4×5 = 20 bits a frame). */
function segLike(studyUid: string, frames: Uint8Array[]): Uint8Array {
  const rows = 4;
  const columns = 5;
  const bits = new Uint8Array(Math.ceil((rows * columns * frames.length) / 8));
  frames.forEach((f, n) => f.forEach((v, p) => v && (bits[(n * 20 + p) >> 3] |= 1 << ((n * 20 + p) & 7))));
  const meta = data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SEG_CLASS,
    MediaStorageSOPInstanceUID: '1.2.826.0.1.3680043.8.498.3',
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '1.2.826.0.1.3680043.8.498.1',
  });
  const dict = new data.DicomDict(meta);
  dict.dict = data.DicomMetaDictionary.denaturalizeDataset({
    SOPClassUID: SEG_CLASS,
    SOPInstanceUID: '1.2.826.0.1.3680043.8.498.3',
    StudyInstanceUID: studyUid,
    SeriesInstanceUID: '1.2.826.0.1.3680043.8.498.2',
    Modality: 'SEG',
    SeriesNumber: '99',
    SeriesDescription: 'VISTA3D segmentation',
    Rows: rows,
    Columns: columns,
    NumberOfFrames: String(frames.length),
    SamplesPerPixel: 1,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    PixelData: [bits.buffer],
    _vrMap: { PixelData: 'OB' },
  });
  return new Uint8Array(dict.write());
}

function stowBody(files: Uint8Array[]): { body: Buffer; contentType: string } {
  const boundary = newBoundary();
  return { body: buildMultipart(files.map((f) => ({ contentType: 'application/dicom', body: f })), boundary), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

const first = (json: DicomJson, tag: string) => json[tag]?.Value?.[0];

describe('multipart/related', () => {
  it('parses what it builds, with CRLF and boundary-like bytes inside bodies', () => {
    const bodies = [new Uint8Array([0x0d, 0x0a, 0x2d, 0x2d, 0x41]), new Uint8Array(0), new TextEncoder().encode('--not-the-boundary\r\n\r\n')];
    const boundary = newBoundary();
    const parts = parseMultipart(buildMultipart(bodies.map((b) => ({ contentType: 'application/octet-stream', body: b })), boundary), `multipart/related; type="application/octet-stream"; boundary="${boundary}"`);
    assert.deepEqual(parts.map((p) => [...p.body]), bodies.map((b) => [...b]));
    assert.equal(parts[0].headers['content-type'], 'application/octet-stream');
  });
  it('refuses a body without its boundary or without an end', () => {
    assert.throws(() => parseMultipart(new Uint8Array(10), 'multipart/related; boundary=x'), /no boundary line/);
    assert.throws(() => parseMultipart(new TextEncoder().encode('--x\r\n\r\nabc'), 'multipart/related; boundary=x'), /truncated/);
    assert.throws(() => parseMultipart(new Uint8Array(1), 'application/dicom'), /expected a multipart/);
  });
});

describe('embedded DICOMweb store (QIDO-RS, WADO-RS, STOW-RS)', () => {
  const phantom = generatePhantom({ seed: 7, dims: [24, 20, 6], spacing: [2.5, 2.5, 3] });
  const files = phantomDicomSeries(phantom);
  let server: Server;
  let base: string;
  let study: string;
  let series: string;
  const get = (path: string, accept?: string) => fetch(`${base}${path}`, { headers: accept ? { accept } : {} });
  const json = async (path: string) => {
    const r = await get(path);
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    assert.equal(r.headers.get('content-type'), 'application/dicom+json; charset=utf-8');
    return (await r.json()) as DicomJson[];
  };

  before(async () => {
    const config = loadConfig({ LOG_LEVEL: 'silent', SAMPLE_STUDY: 'false' });
    const log = createLogger('silent');
    const dicomweb = createDicomweb(config, log);
    const app = createApp({ config, log, metrics: createMetrics(), engine: () => undefined, state: { ready: false, shuttingDown: false }, version: '0', extraRoutes: dicomweb.mount });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/dicomweb`;
    const { body, contentType } = stowBody(files.map((f) => f.bytes));
    const r = await fetch(`${base}/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) });
    assert.equal(r.status, 200);
    const response = (await r.json()) as DicomJson;
    assert.equal(response[TAG.ReferencedSOPSequence].Value!.length, files.length);
    assert.equal(response[TAG.FailedSOPSequence], undefined);
    const ds = data.DicomMessage.readFile(files[0].bytes.slice().buffer as ArrayBuffer).dict;
    study = String(ds[TAG.StudyInstanceUID].Value[0]);
    series = String(ds[TAG.SeriesInstanceUID].Value[0]);
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('QIDO-RS studies: study attributes, counts, modalities; matching, limit, offset, includefield', async () => {
    const [s] = await json('/studies');
    assert.equal(first(s, TAG.StudyInstanceUID), study);
    assert.deepEqual(s[TAG.PatientName], { vr: 'PN', Value: [{ Alphabetic: 'Phantom^7' }] });
    assert.deepEqual(s[TAG.ModalitiesInStudy].Value, ['CT']);
    assert.equal(first(s, TAG.NumberOfStudyRelatedSeries), 1);
    assert.equal(first(s, TAG.NumberOfStudyRelatedInstances), 6);
    assert.equal(first(s, TAG.StudyDate), '20240101');
    assert.equal(s[TAG.PixelData], undefined);
    assert.equal((await json(`/studies?PatientName=phan*`)).length, 1);
    assert.equal((await json(`/studies?PatientName=Phantom&fuzzymatching=true`)).length, 1);
    assert.equal((await json(`/studies?PatientName=Other*`)).length, 0);
    assert.equal((await json(`/studies?StudyInstanceUID=1.2.3,${study}`)).length, 1);
    assert.equal((await json(`/studies?0020000D=1.2.3`)).length, 0);
    assert.equal((await json(`/studies?ModalitiesInStudy=MR`)).length, 0);
    assert.equal((await json(`/studies?ModalitiesInStudy=CT&StudyDate=20231201-20240131`)).length, 1);
    assert.equal((await json(`/studies?StudyDate=20250101-`)).length, 0);
    assert.equal((await json(`/studies?offset=1`)).length, 0);
    assert.equal((await json(`/studies?limit=1`)).length, 1);
    const [withField] = await json(`/studies?includefield=00081030,SeriesDescription`);
    assert.equal(first(withField, TAG.SeriesDescription), 'Synthetic torso phantom, seed 7');
  });

  it('QIDO-RS series and instances', async () => {
    const [r] = await json(`/studies/${study}/series`);
    assert.equal(first(r, TAG.SeriesInstanceUID), series);
    assert.equal(first(r, TAG.Modality), 'CT');
    assert.equal(first(r, TAG.SeriesNumber), 1);
    assert.equal(first(r, TAG.SeriesDescription), 'Synthetic torso phantom, seed 7');
    assert.equal(first(r, TAG.NumberOfSeriesRelatedInstances), 6);
    assert.equal((await json(`/series?Modality=CT`)).length, 1);
    assert.deepEqual(await json(`/studies/1.2.3/series`), []);
    const instances = await json(`/studies/${study}/series/${series}/instances`);
    assert.equal(instances.length, 6);
    assert.deepEqual(instances.map((i) => first(i, TAG.InstanceNumber)), [1, 2, 3, 4, 5, 6]);
    assert.equal(first(instances[0], TAG.Rows), 20);
    assert.equal((await json(`/studies/${study}/instances?InstanceNumber=3`)).length, 1);
  });

  it('WADO-RS metadata: each instance in DICOM JSON with its geometry, PixelData as a BulkDataURI', async () => {
    const md = await json(`/studies/${study}/series/${series}/metadata`);
    assert.equal(md.length, 6);
    const m = md[2];
    const sop = first(m, TAG.SOPInstanceUID);
    assert.deepEqual(m['00200037'].Value, [1, 0, 0, 0, 1, 0]);
    assert.deepEqual(m['00280030'].Value, [2.5, 2.5]);
    assert.equal(m['00200032'].Value!.length, 3);
    assert.ok(Math.abs((m['00200032'].Value![2] as number) - (md[1]['00200032'].Value![2] as number) - 3) < 1e-9);
    assert.deepEqual(m['00281053'].Value, [1]);
    assert.deepEqual(m[TAG.PixelData], { vr: 'OW', BulkDataURI: `/dicomweb/studies/${study}/series/${series}/instances/${sop}/bulk/7FE00010` });
    assert.equal((await json(`/studies/${study}/metadata`)).length, 6);
    const r = await get(`/studies/${study}/series/1.2.3/metadata`);
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { detail: string }).detail, /series 1\.2\.3 is not in the embedded DICOMweb store/);
  });

  it('WADO-RS frames: the raw pixel data of the slice, multipart/related octet-stream; 406 for a compressed syntax', async () => {
    const md = await json(`/studies/${study}/series/${series}/instances`);
    const [nx, ny] = phantom.image.dims;
    for (const k of [0, 5]) {
      const sop = first(md[k], TAG.SOPInstanceUID);
      const r = await get(`/studies/${study}/series/${series}/instances/${sop}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
      assert.equal(r.status, 200);
      const ct = r.headers.get('content-type')!;
      assert.match(ct, /^multipart\/related; type="application\/octet-stream"; boundary=/);
      const [part] = parseMultipart(new Uint8Array(await r.arrayBuffer()), ct);
      assert.equal(part.headers['content-type'], 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1');
      const got = new Int16Array(part.body.slice().buffer);
      assert.deepEqual([...got], [...phantom.image.data.subarray(k * nx * ny, (k + 1) * nx * ny)]);
      const bulk = await get(`/studies/${study}/series/${series}/instances/${sop}/bulk/7fe00010`);
      assert.deepEqual([...parseMultipart(new Uint8Array(await bulk.arrayBuffer()), bulk.headers.get('content-type')!)[0].body], [...part.body]);
    }
    const sop = first(md[0], TAG.SOPInstanceUID);
    assert.equal((await get(`/studies/${study}/series/${series}/instances/${sop}/frames/1`)).status, 200, 'no Accept: uncompressed');
    assert.equal((await get(`/studies/${study}/series/${series}/instances/${sop}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1')).status, 200);
    const jpeg = await get(`/studies/${study}/series/${series}/instances/${sop}/frames/1`, 'multipart/related; type="image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.50');
    assert.equal(jpeg.status, 406);
    assert.match(((await jpeg.json()) as { detail: string }).detail, /cannot serve frames/);
    assert.equal((await get(`/studies/${study}/series/${series}/instances/${sop}/frames/2`)).status, 404);
  });

  it('WADO-RS retrieve: instances and series as multipart/related application/dicom, the stored Part 10 bytes', async () => {
    const accept = 'multipart/related; type="application/dicom"; transfer-syntax=*';
    const r = await get(`/studies/${study}/series/${series}`, accept);
    assert.equal(r.status, 200);
    const parts = parseMultipart(new Uint8Array(await r.arrayBuffer()), r.headers.get('content-type')!);
    assert.equal(parts.length, 6);
    assert.deepEqual([...parts[3].body], [...files[3].bytes]);
    assert.equal(parts[0].headers['content-type'], 'application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
    const md = await json(`/studies/${study}/series/${series}/instances`);
    const one = await get(`/studies/${study}/series/${series}/instances/${first(md[1], TAG.SOPInstanceUID)}`, accept);
    assert.deepEqual([...parseMultipart(new Uint8Array(await one.arrayBuffer()), one.headers.get('content-type')!)[0].body], [...files[1].bytes]);
    assert.equal((await get(`/studies/${study}/series/${series}`, 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90')).status, 406);
  });

  it('STOW-RS: a stored SEG appears in QIDO; its 1-bit frames come back byte-aligned; garbage is refused', async () => {
    const frames = [0, 1, 2].map((n) => Uint8Array.from({ length: 20 }, (_, p) => Number((p + n) % 3 === 0)));
    const { body, contentType } = stowBody([segLike(study, frames)]);
    const r = await fetch(`${base}/studies/${study}`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) });
    assert.equal(r.status, 200);
    const [s] = await json('/studies');
    assert.deepEqual(s[TAG.ModalitiesInStudy].Value, ['CT', 'SEG']);
    assert.equal(first(s, TAG.NumberOfStudyRelatedSeries), 2);
    const seg = (await json(`/studies/${study}/series?Modality=SEG`))[0];
    assert.equal(first(seg, TAG.SeriesDescription), 'VISTA3D segmentation');
    assert.equal(first(seg, TAG.NumberOfSeriesRelatedInstances), 1);
    const fr = await get(`/studies/${study}/series/1.2.826.0.1.3680043.8.498.2/instances/1.2.826.0.1.3680043.8.498.3/frames/2,3`);
    const parts = parseMultipart(new Uint8Array(await fr.arrayBuffer()), fr.headers.get('content-type')!);
    const unpack = (b: Uint8Array) => Array.from({ length: 20 }, (_, p) => (b[p >> 3] >> (p & 7)) & 1);
    assert.deepEqual(parts.map((p) => unpack(p.body)), [[...frames[1]], [...frames[2]]]);

    const bad = stowBody([new Uint8Array([1, 2, 3])]);
    const refused = await fetch(`${base}/studies`, { method: 'POST', headers: { 'content-type': bad.contentType }, body: new Uint8Array(bad.body) });
    assert.equal(refused.status, 409);
    const response = (await refused.json()) as DicomJson;
    assert.equal(first(response[TAG.FailedSOPSequence].Value![0] as DicomJson, TAG.FailureReason), FAILURE.cannotUnderstand);
    const wrongStudy = stowBody([segLike(study, frames)]);
    assert.equal((await fetch(`${base}/studies/1.2.3`, { method: 'POST', headers: { 'content-type': wrongStudy.contentType }, body: new Uint8Array(wrongStudy.body) })).status, 409);
    assert.equal((await fetch(`${base}/studies`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: 'x' })).status, 415);
    assert.equal((await fetch(`${base}/studies/${study}`, { method: 'DELETE' })).status, 405);
  });
});

describe('DicomStore', () => {
  it('refuses STOW-RS instances beyond its byte budget (out of resources) and replaces an instance stored again', () => {
    const files = phantomDicomSeries(generatePhantom({ seed: 1, dims: [8, 8, 3] }));
    const store = new DicomStore('/dicomweb', files[0].bytes.byteLength * 2.5);
    store.add(files[0].bytes);
    store.add(files[0].bytes);
    assert.equal(store.bytesUsed, files[0].bytes.byteLength + 128);
    store.add(files[1].bytes);
    assert.throws(() => store.add(files[2].bytes), (e: StoreError) => e.reason === FAILURE.outOfResources && /DICOMWEB_STORE_BYTES/.test(e.message));
  });

  it('builds the sample study on first use: one CT series on the documented grid', async () => {
    const store = new DicomStore('/dicomweb', 0, { kind: 'torso', seed: 7 });
    await store.ready();
    const [s] = store.searchStudies({});
    assert.equal(first(s, TAG.NumberOfStudyRelatedInstances), SAMPLE_GRID.dims[2]);
    const [series] = store.searchSeries({});
    const instances = store.instances(String(first(s, TAG.StudyInstanceUID)), String(first(series, TAG.SeriesInstanceUID)));
    assert.equal(first(instances[0].json, TAG.Columns), SAMPLE_GRID.dims[0]);
    assert.equal(first(instances[0].json, TAG.Rows), SAMPLE_GRID.dims[1]);
    assert.equal(store.bytesUsed, 0, 'the sample does not use the STOW-RS budget');
  });
});
