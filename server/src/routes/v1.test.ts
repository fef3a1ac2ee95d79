import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { unzipSync } from 'fflate';
import { readNifti, readNrrd, writeNifti, writeNrrd, type Volume } from '@vista3d/models';
import { writeDicomSeries } from '../../../models/src/io/dicomWrite.ts';
import { makeTestEnv, startFileServer, startTestServer, type FileServer, type TestEnv } from '../../test/support.ts';
import type { RunningServer } from '../server.ts';

/** Intensity = label / 10 with the exact test model: the expected output is the label pattern itself. */
function testVolume(): Volume<Float32Array> {
  const dims: [number, number, number] = [14, 12, 10];
  const data = new Float32Array(14 * 12 * 10);
  for (let o = 0; o < data.length; o++) {
    const [i, j, k] = [o % 14, Math.floor(o / 14) % 12, Math.floor(o / 168)];
    data[o] = (i - 7) ** 2 + (j - 6) ** 2 + (k - 5) ** 2 < 12 ? 0.3 : i < 3 ? 0.1 : 0;
  }
  return { data, dims, spacing: [1, 1, 1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [-20, 10, 5] };
}

async function post(s: RunningServer, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${s.url}/v1/vista3d/inference`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function expectError(r: Response, status: number, detail: RegExp): Promise<void> {
  const text = await r.text();
  assert.equal(r.status, status, `status ${r.status}: ${text}`);
  const json = JSON.parse(text) as { detail: string };
  assert.match(json.detail, detail);
  assert.doesNotMatch(text, /\n\s+at /, 'no stack trace in the body');
}

function unzipOne(buf: ArrayBuffer): [string, Uint8Array] {
  const files = Object.entries(unzipSync(new Uint8Array(buf)));
  assert.equal(files.length, 1, 'the zip holds exactly one file');
  return files[0];
}

describe('/v1 API (NIM compatible)', () => {
  let t: TestEnv;
  let s: RunningServer;
  let host: FileServer;
  const vol = testVolume();
  const expected = Uint8Array.from(vol.data, (v) => Math.round(v * 10));

  before(async () => {
    t = await makeTestEnv({ roi: [8, 8, 8] });
    await writeFile(join(t.served, 'example-1.nii.gz'), writeNifti(vol));
    await writeFile(join(t.served, 'ct.nrrd'), writeNrrd(vol));
    await writeFile(join(t.served, 'broken.nii.gz'), new Uint8Array([1, 2, 3, 4]));
    await writeFile(join(t.served, 'photo.png'), new Uint8Array([1]));
    await writeFile(join(t.images, 'ct.nii.gz'), writeNifti(vol));
    await mkdir(join(t.images, 'series'));
    for (const f of writeDicomSeries(vol, { seed: 3, sliceOrder: 'reverse' })) {
      await writeFile(join(t.images, 'series', f.name), f.bytes);
    }
    await writeFile(join(t.dir, 'secret.nii.gz'), writeNifti(vol));
    await symlink(join(t.dir, 'secret.nii.gz'), join(t.images, 'link.nii.gz'));
    host = await startFileServer(t.served);
    s = await startTestServer(t);
  });
  after(async () => {
    await s?.close();
    await host?.close();
    await t?.cleanup();
  });

  it('health, license, info', async () => {
    assert.deepEqual(await (await fetch(`${s.url}/v1/health/live`)).json(), { status: 'live' });
    const ready = await fetch(`${s.url}/v1/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' });
    assert.match(await (await fetch(`${s.url}/v1/license`)).text(), /Apache License/);
    const info = (await (await fetch(`${s.url}/v1/vista3d/info`)).json()) as Record<string, unknown>;
    assert.equal((info.model as { name: string }).name, 'exact-test');
    assert.equal((info.labels as Record<string, number>).spleen, 3);
    assert.deepEqual(info.everything, [1, 3, 6]);
    assert.equal(info.device, 'cpu');
    assert.deepEqual(info.supported_formats, ['.nii', '.nii.gz', '.nrrd', '.dcm']);
    // the contract's InfoSchema is what the viewer parses: the server's answer fits it
    const { InfoSchema } = await import('@vista3d/models');
    const parsed = InfoSchema.parse(info);
    assert.deepEqual([parsed.not_processed_value, parsed.zero_shot_from], [255, 133]);
  });

  it("answers NVIDIA's documented request with a zip of one NIfTI on the input's grid", async () => {
    // the NIM docs' example: classes plus points for spleen (given as tuples → JSON lists)
    const r = await post(s, { image: `${host.url}/example-1.nii.gz`, prompts: { classes: ['spleen'], points: { spleen: [[7, 6, 5], [7, 6, 6]] } } });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('content-type'), 'application/zip');
    const [name, bytes] = unzipOne(await r.arrayBuffer());
    assert.equal(name, 'example-1_seg.nii.gz');
    const seg = readNifti(bytes);
    assert.deepEqual(seg.dims, vol.dims);
    assert.deepEqual(seg.spacing, vol.spacing);
    assert.deepEqual(seg.origin, vol.origin);
    assert.deepEqual(seg.direction, vol.direction);
    // the spleen ball around the clicks, 255 outside the point window
    for (let o = 0; o < expected.length; o++) assert.ok(seg.data[o] === (expected[o] === 3 ? 3 : seg.data[o] === 255 ? 255 : 0), `voxel ${o}: ${seg.data[o]}`);
    assert.equal(seg.data[7 + 14 * (6 + 12 * 5)], 3);
  });

  it('class prompts on NRRD, NIfTI paths, file:// URLs and DICOM folders', async () => {
    const cases: [string, string, (b: Uint8Array) => Volume][] = [
      [`${host.url}/ct.nrrd`, 'ct_seg.nrrd', readNrrd],
      [join(t.images, 'ct.nii.gz'), 'ct_seg.nii.gz', readNifti],
      ['ct.nii.gz', 'ct_seg.nii.gz', readNifti],
      [pathToFileURL(join(t.images, 'ct.nii.gz')).href, 'ct_seg.nii.gz', readNifti],
      [join(t.images, 'series'), 'series_seg.nii.gz', readNifti],
    ];
    for (const [image, wantName, read] of cases) {
      const r = await post(s, { image, prompts: { classes: ['liver', 'spleen'] } });
      assert.equal(r.status, 200, `${image}: ${await r.clone().text()}`);
      const [name, bytes] = unzipOne(await r.arrayBuffer());
      assert.equal(name, wantName);
      const seg = read(bytes);
      assert.deepEqual(seg.dims, vol.dims, image);
      seg.origin.forEach((v, i) => assert.ok(Math.abs(v - vol.origin[i]) < 1e-4, image));
      assert.deepEqual([...seg.data], [...expected], image);
    }
  });

  it('negative clicks through point_labels, the backward-compatible extension', async () => {
    const r = await post(s, { image: `${host.url}/example-1.nii.gz`, prompts: { points: { spleen: [[7, 6, 5], [1, 1, 1]] }, point_labels: { spleen: [1, 0] } } });
    assert.equal(r.status, 200);
    const seg = readNifti(unzipOne(await r.arrayBuffer())[1]);
    assert.equal(seg.data[7 + 14 * (6 + 12 * 5)], 3);
  });

  it('clicks on the same image reuse its encoder features; a file changed under the same name is read afresh', async () => {
    const hits = async () => Number(/inference_feature_cache_total\{result="hit"\} (\d+)/.exec(await (await fetch(`${s.url}/v1/metrics`)).text())?.[1] ?? 0);
    await writeFile(join(t.images, 'again.nii.gz'), writeNifti(vol));
    const click = { image: 'again.nii.gz', prompts: { points: { spleen: [[7, 6, 5]] } } };
    const first = readNifti(unzipOne(await (await post(s, click)).arrayBuffer())[1]);
    const before = await hits();
    const second = readNifti(unzipOne(await (await post(s, click)).arrayBuffer())[1]);
    assert.ok((await hits()) > before, 'the second click found the features');
    assert.deepEqual([...second.data], [...first.data]);
    // the same name, other voxels: the liver ball replaces the spleen ball
    const changed = { ...vol, data: Float32Array.from(vol.data, (v) => (Math.abs(v - 0.3) < 1e-6 ? 0.1 : v)) };
    await writeFile(join(t.images, 'again.nii.gz'), writeNifti(changed));
    const third = readNifti(unzipOne(await (await post(s, { image: 'again.nii.gz', prompts: { classes: ['liver'] } })).arrayBuffer())[1]);
    assert.equal(third.data[7 + 14 * (6 + 12 * 5)], 1);
  });

  it('per-image state: a second class prompt reuses the prepared model-space image; evictions are counted', async () => {
    const metric = async (re: RegExp) => Number(re.exec(await (await fetch(`${s.url}/v1/metrics`)).text())?.[1] ?? 0);
    const preparedHits = () => metric(/cache_lookups_total\{cache="prepared",result="hit"\} (\d+)/);
    await writeFile(join(t.images, 'prep.nii.gz'), writeNifti(vol));
    const body = { image: 'prep.nii.gz', prompts: { classes: ['liver'] } };
    const first = readNifti(unzipOne(await (await post(s, body)).arrayBuffer())[1]);
    const before = await preparedHits();
    const second = readNifti(unzipOne(await (await post(s, { ...body, prompts: { classes: ['liver', 'spleen'] } })).arrayBuffer())[1]);
    assert.equal((await preparedHits()) - before, 1, 'the second class prompt found the prepared image');
    assert.deepEqual([...first.data].map((v) => (v === 1 ? 1 : 0)), [...second.data].map((v) => (v === 1 ? 1 : 0)));
    // a budget of one prepared image: the second image evicts the first, and the eviction is counted
    const small = await startTestServer(t, { PREPARED_CACHE_BYTES: String(14 * 12 * 10 * 4 + 100), FEATURE_CACHE_BYTES: '0' });
    try {
      await writeFile(join(t.images, 'prep2.nii.gz'), writeNifti({ ...vol, data: vol.data.map((v) => v * 0.5) }));
      const postTo = (b: unknown) => fetch(`${small.url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
      assert.equal((await postTo(body)).status, 200);
      assert.equal((await postTo({ ...body, image: 'prep2.nii.gz' })).status, 200);
      const evictions = Number(/cache_evictions_total\{cache="prepared"\} (\d+)/.exec(await (await fetch(`${small.url}/v1/metrics`)).text())?.[1] ?? 0);
      assert.equal(evictions, 1);
    } finally {
      await small.close();
    }
  });

  it('writes the result into local_working_dir atomically', async () => {
    const r = await post(s, { image: 'ct.nii.gz', prompts: { classes: [1] }, local_working_dir: t.outputs });
    assert.equal(r.status, 200);
    const files = await readdir(t.outputs);
    assert.deepEqual(files, ['ct_seg.nii.gz']);
    const seg = readNifti(new Uint8Array(await readFile(join(t.outputs, 'ct_seg.nii.gz'))));
    assert.deepEqual([...seg.data], [...expected].map((v) => (v === 1 ? 1 : 0)));
  });

  it('malformed requests: 400', async () => {
    await expectError(await post(s, '{"image": '), 400, /not valid JSON/);
    await expectError(await post(s, {}), 400, /image: .*expected string/i);
    await expectError(await post(s, '[1,2]'), 400, /JSON object with an "image"/);
    await expectError(await post(s, { image: 'ftp://example.org/ct.nii.gz' }), 400, /scheme .* not supported/);
    await expectError(await fetch(`${s.url}/v1/nope`), 404, /no endpoint GET \/v1\/nope/);
  });

  it('invalid prompts: 422 naming the offending value', async () => {
    const image = `${host.url}/example-1.nii.gz`;
    await expectError(await post(s, { image, prompts: { classes: ['splen'] } }), 422, /unknown class "splen"; did you mean "spleen"/);
    await expectError(await post(s, { image, prompts: { points: { spleen: [[7, 6, 50]] } } }), 422, /\[7,6,50\].*outside the image \(dims 14×12×10/);
    await expectError(await post(s, { image, prompts: { points: { kidney: [[1, 1, 1]] } } }), 422, /cannot target 2 \(kidney\)/);
    await expectError(await post(s, { image, prompts: { points: { spleen: [[1, 1]] } } }), 422, /prompts\.points\.spleen\.0/);
    await expectError(await post(s, { image, prompts: { classes: 'liver' } }), 422, /prompts\.classes/);
  });

  it('images: 404, 415, 413, 502, 504', async () => {
    await expectError(await post(s, { image: `${host.url}/missing.nii.gz` }), 404, /HTTP 404/);
    await expectError(await post(s, { image: 'nope.nii.gz' }), 404, /does not exist/);
    await expectError(await post(s, { image: `${host.url}/photo.png` }), 415, /unsupported extension; supported: \.nii/);
    await expectError(await post(s, { image: `${host.url}/broken.nii.gz` }), 415, /./);
    await expectError(await post(s, { image: `${host.url}/huge.nii.gz` }), 413, /MAX_DOWNLOAD_BYTES/);
    await expectError(await post(s, { image: `${host.url}/status/500/ct.nii.gz` }), 502, /HTTP 500/);
    await expectError(await post(s, { image: 'http://127.0.0.1:1/ct.nii.gz' }), 502, /cannot fetch the image from 127\.0\.0\.1:1: ECONNREFUSED/);
  });

  it('paths: confined to IMAGE_ROOTS and OUTPUT_ROOTS after symlinks (403)', async () => {
    await expectError(await post(s, { image: join(t.dir, 'secret.nii.gz') }), 403, /outside the allowed image folders/);
    await expectError(await post(s, { image: '../secret.nii.gz' }), 403, /outside the allowed image folders/);
    await expectError(await post(s, { image: 'link.nii.gz' }), 403, /through a link/);
    await expectError(await post(s, { image: 'ct.nii.gz', local_working_dir: t.dir }), 403, /outside the allowed output folders/);
    await expectError(await post(s, { image: 'ct.nii.gz', local_working_dir: join(t.outputs, '..', 'images') }), 403, /outside the allowed output folders/);
  });

  it('still serves after all those errors', async () => {
    const r = await post(s, { image: 'ct.nii.gz', prompts: { classes: ['aorta'] } });
    assert.equal(r.status, 200);
  });

  it('openapi.json describes the API from the validating schemas; metrics count requests and stages', async () => {
    const doc = (await (await fetch(`${s.url}/v1/openapi.json`)).json()) as any;
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/v1/vista3d/inference'].post.responses['422']);
    const req = doc.components.schemas.InferenceRequest;
    assert.deepEqual(req.required, ['image']);
    assert.ok(req.properties.prompts.properties.point_labels, 'the negative-click extension is documented');
    const metrics = await (await fetch(`${s.url}/v1/metrics`)).text();
    assert.match(metrics, /http_requests_total\{method="POST",route="\/v1\/vista3d\/inference",status="200"\} \d+/);
    assert.match(metrics, /http_requests_total\{method="POST",route="\/v1\/vista3d\/inference",status="422"\} [1-9]/);
    assert.match(metrics, /inference_stage_seconds_count\{stage="runtime"\} [1-9]/);
    assert.match(metrics, /inference_queue_waiting 0/);
  });
});

describe('/v1 security settings', () => {
  let t: TestEnv;
  let host: FileServer;
  before(async () => {
    t = await makeTestEnv();
    await writeFile(join(t.served, 'ct.nii.gz'), writeNifti(testVolume()));
    host = await startFileServer(t.served);
  });
  after(async () => {
    await host?.close();
    await t?.cleanup();
  });

  it('refuses internal addresses by default, at the first hop and at redirects', async () => {
    const s = await startTestServer(t, { IMAGE_URI_ALLOWED_NETWORKS: '' });
    try {
      await expectError(await post(s, { image: `${host.url}/ct.nii.gz` }), 403, /127\.0\.0\.1, a loopback address/);
      await expectError(await post(s, { image: `http://localhost:${new URL(host.url).port}/ct.nii.gz` }), 403, /localhost resolves to .*loopback/);
      await expectError(await post(s, { image: 'http://169.254.169.254/latest/meta-data.nii.gz' }), 403, /linkLocal/);
      await expectError(await post(s, { image: 'http://10.1.2.3/ct.nii.gz' }), 403, /private/);
      await expectError(await post(s, { image: 'http://[::1]/ct.nii.gz' }), 403, /loopback/);
      await expectError(await post(s, { image: 'http://[::ffff:127.0.0.1]/ct.nii.gz' }), 403, /loopback/);
      assert.equal(host.hits.length, 0, 'no request reached the internal host');
    } finally {
      await s.close();
    }
    const s2 = await startTestServer(t);
    try {
      await expectError(await post(s2, { image: `${host.url}/redirect/ct.nii.gz?to=${encodeURIComponent('http://169.254.169.254/x.nii.gz')}` }), 403, /linkLocal/);
    } finally {
      await s2.close();
    }
  });

  it('honours IMAGE_URI_HTTPS_ONLY, DOMAIN_WHITELIST and IMAGE_URI_ALLOW_REDIRECTS', async () => {
    const s = await startTestServer(t, { DOMAIN_WHITELIST: '["https://images\\\\.example\\\\.org/.*"]', IMAGE_URI_ALLOW_REDIRECTS: 'false' });
    try {
      await expectError(await post(s, { image: `${host.url}/ct.nii.gz` }), 403, /not in DOMAIN_WHITELIST/);
    } finally {
      await s.close();
    }
    const s2 = await startTestServer(t, { IMAGE_URI_HTTPS_ONLY: 'true' });
    try {
      await expectError(await post(s2, { image: `${host.url}/ct.nii.gz` }), 400, /must use https/);
    } finally {
      await s2.close();
    }
    const s3 = await startTestServer(t, { IMAGE_URI_ALLOW_REDIRECTS: 'false' });
    try {
      await expectError(await post(s3, { image: `${host.url}/redirect/ct.nii.gz?to=/ct.nii.gz` }), 400, /redirects .* IMAGE_URI_ALLOW_REDIRECTS is off/);
    } finally {
      await s3.close();
    }
  });

  it('limits: voxels, decompressed bytes, body size, download time', async () => {
    const s = await startTestServer(t, { MAX_VOXELS: '1000', MAX_BODY_BYTES: '200', DOWNLOAD_TIMEOUT_MS: '300' });
    try {
      await expectError(await post(s, { image: `${host.url}/ct.nii.gz` }), 413, /14×12×10 voxels: 1680 exceeds the maxVoxels limit of 1000/);
      await expectError(await post(s, { image: `${host.url}/ct.nii.gz`, prompts: { classes: Array(100).fill('liver') } }), 413, /over the 200-byte limit \(MAX_BODY_BYTES\)/);
      await expectError(await post(s, { image: `${host.url}/slow/ct.nii.gz` }), 504, /longer than 300 ms/);
    } finally {
      await s.close();
    }
    const s2 = await startTestServer(t, { MAX_DECOMPRESSED_BYTES: '2000' });
    try {
      await expectError(await post(s2, { image: `${host.url}/ct.nii.gz` }), 413, /maxDecompressedBytes/);
    } finally {
      await s2.close();
    }
  });

  it('API key: 401 without or with a wrong key, 200 with it; health stays open', async () => {
    const key = 'k'.repeat(32);
    const s = await startTestServer(t, { API_KEY: key });
    try {
      await expectError(await post(s, { image: `${host.url}/ct.nii.gz` }), 401, /requires authentication/);
      await expectError(await post(s, { image: `${host.url}/ct.nii.gz` }, { authorization: 'Bearer wrong' }), 401, /wrong/);
      assert.equal((await post(s, { image: `${host.url}/ct.nii.gz`, prompts: { classes: [1] } }, { authorization: `Bearer ${key}` })).status, 200);
      assert.equal((await fetch(`${s.url}/v1/health/ready`)).status, 200);
    } finally {
      await s.close();
    }
  });

  it('CORS: closed by default, open to configured origins only', async () => {
    const s = await startTestServer(t);
    const s2 = await startTestServer(t, { CORS_ORIGINS: 'https://viewer.example.org' });
    try {
      const pre = (srv: RunningServer, origin: string) =>
        fetch(`${srv.url}/v1/vista3d/inference`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
      assert.equal((await pre(s, 'https://viewer.example.org')).headers.get('access-control-allow-origin'), null);
      assert.equal((await pre(s2, 'https://viewer.example.org')).headers.get('access-control-allow-origin'), 'https://viewer.example.org');
      assert.equal((await pre(s2, 'https://evil.example.com')).headers.get('access-control-allow-origin'), null);
    } finally {
      await s.close();
      await s2.close();
    }
  });
});
