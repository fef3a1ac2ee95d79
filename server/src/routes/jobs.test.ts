/**
 * The viewer's jobs API, in-process over real HTTP: results as regions (headers, affine, gzip, the full file
 * rebuilt from the stored region), results in the round trip that ends the job (?wait), progress as server-sent
 * events, and prepares (background loads shared with jobs, bounded, cancellable, behind the same checks).
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { unzipSync } from 'fflate';
import { cropToRegion, indexToWorld, parseRegionHeader, readNifti, regionDims, regionToVolume, writeNifti, type Vec3, type Volume } from '@vista3d/models';
import { makeTestEnv, startFileServer, startTestServer, type FileServer, type TestEnv } from '../../test/support.ts';
import type { RunningServer } from '../server.ts';
import { loadConfig } from '../config.ts';

/** MAX_OPEN_STREAMS_PER_CLIENT's default: event streams and waiting result requests one client may hold open. */
const MAX_HELD_PER_CLIENT = loadConfig({}).streams.perClient;

const json = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const detail = async (r: Response) => ((await r.json()) as { detail: string }).detail;

/** Intensity = label / 10 with the exact test model: a sphere of spleen (3) and a slab of liver (1), on an oblique grid. */
function testVolume(): Volume<Float32Array> {
  const dims: Vec3 = [14, 12, 10];
  const data = new Float32Array(14 * 12 * 10);
  for (let o = 0; o < data.length; o++) {
    const [i, j, k] = [o % 14, Math.floor(o / 14) % 12, Math.floor(o / 168)];
    data[o] = (i - 7) ** 2 + (j - 6) ** 2 + (k - 5) ** 2 < 12 ? 0.3 : i < 3 ? 0.1 : 0;
  }
  // oblique, anisotropic: the region's own affine must carry both
  const c = Math.cos(0.4);
  const s = Math.sin(0.4);
  return { data, dims, spacing: [0.9, 1.1, 2], direction: [c, -s, 0, s, c, 0, 0, 0, 1], origin: [-20, 10, 5] };
}

/** A GET that shows the bytes as they came over the wire (Node's fetch would decompress them). */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

interface SseEvent {
  event: string;
  data: any;
}

/** Reads a text/event-stream response to its end: its events, and the comment lines seen. */
async function readEvents(r: Response): Promise<{ events: SseEvent[]; comments: number }> {
  const text = await r.text();
  const events: SseEvent[] = [];
  let comments = 0;
  for (const block of text.split('\n\n')) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments++;
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length) events.push({ event, data: JSON.parse(data.join('\n')) });
  }
  return { events, comments };
}

describe('jobs API for the viewer: regions, waits, events, prepares', () => {
  let t: TestEnv;
  let s: RunningServer;
  let host: FileServer;
  const vol = testVolume();
  const start = (body: unknown, server = s, headers: Record<string, string> = {}) => fetch(`${server.url}/v1/vista3d/jobs`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
  /** A job on an image no job has seen (other voxels): no cached features, so it runs every window, for seconds. */
  let fresh = 0;
  const startFresh = async (n = 36) => {
    const image = `big-${++fresh}.nii.gz`;
    await writeFile(join(t.images, image), writeNifti({ data: new Float32Array(n ** 3).fill(0.1 + fresh / 1000), dims: [n, n, n], spacing: [1, 1, 1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] }));
    return startId({ ...big, image });
  };
  const startId = async (body: unknown) => {
    const r = await start(body);
    assert.equal(r.status, 202, await r.clone().text());
    return ((await r.json()) as { id: string }).id;
  };
  const prepare = (image: unknown, server = s, headers: Record<string, string> = {}) => fetch(`${server.url}/v1/vista3d/prepare`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify({ image }) });
  const state = async (id: string) => ((await (await fetch(`${s.url}/v1/vista3d/jobs/${id}`)).json()) as { state: string }).state;
  /** The prepare's view once it is in state `want` (or the last one seen, after 4 s). */
  const until = async (image: string, want: string) => {
    let v: any;
    for (let n = 0; n < 200; n++) {
      v = await (await fetch(`${s.url}/v1/vista3d/prepare?image=${encodeURIComponent(image)}`)).json();
      if (v.state === want) break;
      await sleep(20);
    }
    return v;
  };
  // a job of a second or so: thousands of 4³ windows
  const big = { image: 'big.nii.gz', prompts: { classes: ['liver'] } };

  before(async () => {
    t = await makeTestEnv({ roi: [4, 4, 4], overlap: 0.5 });
    await writeFile(join(t.images, 'ct.nii.gz'), writeNifti(vol));
    await writeFile(join(t.served, 'ct.nii.gz'), writeNifti(vol));
    await writeFile(join(t.images, 'big.nii.gz'), writeNifti({ data: new Float32Array(36 ** 3).fill(0.1), dims: [36, 36, 36], spacing: [1, 1, 1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] }));
    host = await startFileServer(t.served);
    s = await startTestServer(t, { RESULT_DIR: join(t.dir, 'results'), MAX_JOBS: '64', MAX_JOBS_PER_CLIENT: '64' });
  });
  after(async () => {
    await s?.close();
    await host?.close();
    await t?.cleanup();
  });

  it('format=region: the box on the input grid, its own affine, the outside value; stored as such, the full file rebuilt from it', async () => {
    const id = await startId({ image: 'ct.nii.gz', prompts: { classes: ['spleen'] } });
    const r = await rawGet(`${s.url}/v1/vista3d/jobs/${id}/result?format=region&wait=30`);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['content-encoding'], undefined, 'no Accept-Encoding: sent as it is');
    assert.equal(r.headers['x-vista3d-outside'], '0');
    assert.match(String(r.headers['content-disposition']), /ct_seg_region\.nii/);
    const box = parseRegionHeader(String(r.headers['x-vista3d-region']));
    assert.ok(box);
    // what the NIM endpoint answers for the same request, on the full grid
    const nim = unzipSync(new Uint8Array(await (await fetch(`${s.url}/v1/vista3d/inference`, { method: 'POST', headers: json, body: JSON.stringify({ image: 'ct.nii.gz', prompts: { classes: ['spleen'] } }) })).arrayBuffer()));
    const expected = readNifti(nim['ct_seg.nii.gz']).data as Uint8Array;
    assert.ok(expected.includes(3));
    // the box is the smallest holding every labelled voxel
    const crop = cropToRegion(expected, vol.dims, 0);
    assert.deepEqual(box, { lo: crop.lo, hi: crop.hi });
    const sub = readNifti(new Uint8Array(r.body));
    assert.deepEqual(sub.dims, regionDims(box));
    assert.ok(sub.spacing.every((v, a) => Math.abs(v - vol.spacing[a]) < 1e-5));
    assert.ok(sub.direction.every((v, a) => Math.abs(v - vol.direction[a]) < 1e-5));
    const origin = indexToWorld(vol, box.lo);
    assert.ok(sub.origin.every((v, a) => Math.abs(v - origin[a]) < 1e-4), `origin ${sub.origin} vs ${origin}`);
    assert.deepEqual([...sub.data], [...crop.data]);
    assert.deepEqual([...regionToVolume({ ...box, data: sub.data as Uint8Array, outside: 0 }, vol).data], [...expected]);

    // stored as the region: the file in RESULT_DIR is this NIfTI, not the full grid
    const stored = readdirSync(join(t.dir, 'results')).filter((f) => f.startsWith(id));
    assert.equal(stored.length, 1);
    assert.equal(statSync(join(t.dir, 'results', stored[0])).size, r.body.length);

    // the full file and the zip, rebuilt on demand, equal the NIM endpoint's answer
    const file = readNifti(new Uint8Array(await (await fetch(`${s.url}/v1/vista3d/jobs/${id}/result?format=file`)).arrayBuffer()));
    assert.deepEqual([...file.data], [...expected]);
    assert.deepEqual(file.dims, vol.dims);
    const zip = unzipSync(new Uint8Array(await (await fetch(`${s.url}/v1/vista3d/jobs/${id}/result`)).arrayBuffer()));
    assert.deepEqual(Object.keys(zip), ['ct_seg.nii.gz']);
    assert.deepEqual(zip['ct_seg.nii.gz'], nim['ct_seg.nii.gz'], 'byte for byte');

    // HTTP compression when asked for (level 1), the same bytes once decompressed; not when gzip is refused
    const gz = await rawGet(`${s.url}/v1/vista3d/jobs/${id}/result?format=region`, { 'accept-encoding': 'br, gzip;q=0.8' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'Accept-Encoding');
    assert.ok(gz.body.length < r.body.length);
    assert.deepEqual(gunzipSync(gz.body), r.body);
    const refused = await rawGet(`${s.url}/v1/vista3d/jobs/${id}/result?format=region`, { 'accept-encoding': 'gzip;q=0, identity' });
    assert.equal(refused.headers['content-encoding'], undefined);
    // fetch decompresses natively, as the browser does
    assert.deepEqual(Buffer.from(await (await fetch(`${s.url}/v1/vista3d/jobs/${id}/result?format=region`, { headers: { 'accept-encoding': 'gzip' } })).arrayBuffer()), r.body);
  });

  it('format=region: a point result is 255 outside; an empty result is one voxel holding the outside value', async () => {
    const point = await startId({ image: 'ct.nii.gz', prompts: { points: { spleen: [[7, 6, 5]] } } });
    const p = await rawGet(`${s.url}/v1/vista3d/jobs/${point}/result?format=region&wait=30`);
    assert.equal(p.status, 200, p.body.toString());
    assert.equal(p.headers['x-vista3d-outside'], '255');
    const pbox = parseRegionHeader(String(p.headers['x-vista3d-region']))!;
    const full = readNifti(new Uint8Array(await (await fetch(`${s.url}/v1/vista3d/jobs/${point}/result?format=file`)).arrayBuffer())).data as Uint8Array;
    assert.deepEqual([...regionToVolume({ ...pbox, data: readNifti(new Uint8Array(p.body)).data as Uint8Array, outside: 255 }, vol).data], [...full]);
    assert.ok(full.includes(3) && full.includes(255));

    const none = await startId({ image: 'ct.nii.gz', prompts: { classes: ['aorta'] } });
    const e = await rawGet(`${s.url}/v1/vista3d/jobs/${none}/result?format=region&wait=30`);
    assert.equal(e.status, 200);
    assert.equal(e.headers['x-vista3d-region'], '0,0,0,1,1,1');
    assert.equal(e.headers['x-vista3d-outside'], '0');
    assert.deepEqual([...readNifti(new Uint8Array(e.body)).data], [0]);
  });

  it('?wait: the result comes in the round trip that ends the job; 409 when the wait runs out; bad values are 400s', async () => {
    const id = await startId(big);
    const t0 = performance.now();
    const r = await fetch(`${s.url}/v1/vista3d/jobs/${id}/result?format=region&wait=30`);
    assert.equal(r.status, 200, await r.clone().text());
    assert.ok(performance.now() - t0 > 100, 'it waited for the job');
    assert.equal(await state(id), 'done');

    // seconds of work, also on a fast machine: the cancel below must find it running
    const slow = await startFresh(60);
    const timedOut = await fetch(`${s.url}/v1/vista3d/jobs/${slow}/result?format=region&wait=0.2`);
    assert.equal(timedOut.status, 409);
    assert.match(await detail(timedOut), /after waiting 0\.2 s/);
    // cancel while a request waits: it answers at once with the job's end
    const waiting = fetch(`${s.url}/v1/vista3d/jobs/${slow}/result?format=region&wait=30`);
    await sleep(100);
    const t1 = performance.now();
    assert.equal((await fetch(`${s.url}/v1/vista3d/jobs/${slow}`, { method: 'DELETE' })).status, 200);
    const w = await waiting;
    assert.equal(w.status, 409);
    assert.ok(performance.now() - t1 < 10_000);
    assert.equal(await state(slow), 'cancelled');

    for (const [q, re] of [
      ['wait=31', /wait "31" is not a number of seconds from 0 to 30/],
      ['wait=-1', /wait "-1"/],
      ['wait=soon', /wait "soon"/],
      ['format=tiff', /format "tiff" is not one of zip, file, region/],
    ] as const) {
      const bad = await fetch(`${s.url}/v1/vista3d/jobs/${id}/result?${q}`);
      assert.equal(bad.status, 400, q);
      assert.match(await detail(bad), re);
    }
  });

  it('events: the view now, each change as it happens, the final view last; then the stream closes', async () => {
    const id = await startFresh();
    const r = await fetch(`${s.url}/v1/vista3d/jobs/${id}/events`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(r.headers.get('cache-control') ?? '', /no-store/);
    const { events } = await readEvents(r);
    assert.ok(events.length >= 3, `${events.length} events`);
    assert.deepEqual(events.slice(0, -1).map((e) => e.event), events.slice(0, -1).map(() => 'progress'));
    const last = events.at(-1)!;
    assert.equal(last.event, 'end');
    assert.equal(last.data.state, 'done');
    assert.match(last.data.file_name, /^big-\d+_seg\.nii\.gz$/);
    const inference = events.filter((e) => e.data.stage === 'inference');
    assert.ok(inference.some((e) => e.data.done > 0 && e.data.done < e.data.total), 'intermediate progress');
    for (let n = 1; n < inference.length; n++) assert.ok(inference[n].data.done >= inference[n - 1].data.done, 'progress only grows');

    // an ended job: its view and the end at once
    const again = await readEvents(await fetch(`${s.url}/v1/vista3d/jobs/${id}/events`));
    assert.deepEqual(again.events.map((e) => e.event), ['progress', 'end']);
    assert.equal((await fetch(`${s.url}/v1/vista3d/jobs/nope/events`)).status, 404);
  });

  it('events: a waiting job\'s place in the queue is pushed as it moves up, with nothing else changing', async () => {
    const ids = [await startFresh(), await startFresh(), await startFresh()];
    const { events } = await readEvents(await fetch(`${s.url}/v1/vista3d/jobs/${ids[2]}/events`));
    const places = events.map((e) => e.data.queue_position).filter((p) => p !== undefined);
    // behind two jobs, then behind one (the first ended, the second runs): no progress of its own in between
    assert.deepEqual([...new Set(places)], [2, 1], JSON.stringify(events.map((e) => [e.data.stage, e.data.queue_position])));
    assert.equal(events.at(-1)!.data.state, 'done');
  });

  it(`events and waits are bounded per client (${MAX_HELD_PER_CLIENT} open at once: 429 beyond), freed when the client leaves`, async () => {
    const id = await startFresh();
    const streams = Array.from({ length: MAX_HELD_PER_CLIENT }, () => new AbortController());
    const open = await Promise.all(streams.map((ac) => fetch(`${s.url}/v1/vista3d/jobs/${id}/events`, { signal: ac.signal })));
    assert.ok(open.every((r) => r.status === 200));
    const over = await fetch(`${s.url}/v1/vista3d/jobs/${id}/events`);
    assert.equal(over.status, 429);
    assert.match(await detail(over), /event streams and waiting result requests open, the limit per client/);
    const overWait = await fetch(`${s.url}/v1/vista3d/jobs/${id}/result?wait=5`);
    assert.equal(overWait.status, 429);
    streams[0].abort();
    await sleep(100);
    const freed = await fetch(`${s.url}/v1/vista3d/jobs/${id}/result?format=region&wait=30`);
    assert.equal(freed.status, 200);
    for (const ac of streams) ac.abort();
  });

  it('prepare: 202 at once, loads in the background, shared with a job asking for the same image meanwhile; the job then finds the prepared image', async () => {
    const image = `${host.url}/delay/400/ct.nii.gz`;
    const hits0 = host.hits.length;
    const p = await prepare(image);
    assert.equal(p.status, 202);
    assert.deepEqual(await p.json(), { image, state: 'loading' });
    assert.deepEqual(await (await prepare(image)).json(), { image, state: 'loading' }, 'one prepare per image at a time');
    const job = await startId({ image, prompts: { classes: ['spleen'] } });
    const r = await fetch(`${s.url}/v1/vista3d/jobs/${job}/result?format=region&wait=30`);
    assert.equal(r.status, 200);
    assert.deepEqual(host.hits.slice(hits0), ['/delay/400/ct.nii.gz'], 'one download for the prepare and the job');
    assert.equal((await until(image, 'ready')).state, 'ready');
  });

  it('prepare: builds the image\'s model-space state (service.prepare), so that the first class prompt finds it', async () => {
    // an image of its own (content-keyed caches): the spleen a little brighter
    await writeFile(join(t.images, 'fresh.nii.gz'), writeNifti({ ...vol, data: vol.data.map((v) => (v > 0.2 ? 0.31 : v)) }));
    const lookups = async (result: 'hit' | 'miss') => Number((await (await fetch(`${s.url}/v1/metrics`)).text()).match(new RegExp(`cache_lookups_total\\{cache="prepared",result="${result}"\\} (\\d+)`))?.[1] ?? 0);
    const [hits0, misses0] = [await lookups('hit'), await lookups('miss')];
    assert.equal((await prepare('fresh.nii.gz')).status, 202);
    assert.equal((await until('fresh.nii.gz', 'ready')).state, 'ready');
    assert.equal(await lookups('miss'), misses0 + 1, 'the prepare built it');
    const job = await startId({ image: 'fresh.nii.gz', prompts: { classes: ['liver'] } });
    assert.equal((await fetch(`${s.url}/v1/vista3d/jobs/${job}/result?format=region&wait=30`)).status, 200);
    assert.equal(await lookups('hit'), hits0 + 1, 'the job found it');
    assert.equal(await lookups('miss'), misses0 + 1);
  });

  it('prepare: the same checks as jobs (400, 415, 403 cross-origin, SSRF, 404 later as the state), bounded, cancellable', async () => {
    const post = (body: string, headers: Record<string, string>) => fetch(`${s.url}/v1/vista3d/prepare`, { method: 'POST', headers, body });
    assert.equal((await post('', json)).status, 400);
    const noImage = await post('{"images": "x"}', json);
    assert.equal(noImage.status, 400);
    assert.match(await detail(noImage), /image/);
    assert.equal((await prepare(5)).status, 400);
    assert.equal((await post('{"image": "ct.nii.gz"}', { 'content-type': 'text/plain' })).status, 415);
    assert.equal((await prepare('ct.nii.gz', s, { origin: 'https://evil.example' })).status, 403);
    assert.equal((await fetch(`${s.url}/v1/vista3d/prepare`)).status, 400, 'GET needs ?image=');

    // failures found while loading become the prepare's state, as a job's
    assert.equal((await prepare('missing.nii.gz')).status, 202);
    assert.deepEqual((await until('missing.nii.gz', 'failed')).error, { status: 404, detail: 'image "missing.nii.gz" does not exist' });
    assert.equal((await prepare('http://10.1.2.3/ct.nii.gz')).status, 202);
    const ssrf = await until('http://10.1.2.3/ct.nii.gz', 'failed');
    assert.equal(ssrf.error.status, 403, JSON.stringify(ssrf));

    // at most 4 loading per client (the loads themselves are bounded by MAX_CONCURRENT_LOADS)
    const slow = [1, 2, 3, 4].map((n) => `${host.url}/slow/${n}.nii.gz`);
    for (const image of slow) assert.equal((await prepare(image)).status, 202);
    const fifth = await prepare(`${host.url}/slow/5.nii.gz`);
    assert.equal(fifth.status, 429);
    assert.match(await detail(fifth), /4 images being prepared, the limit per client/);
    const del = await fetch(`${s.url}/v1/vista3d/prepare?image=${encodeURIComponent(slow[0])}`, { method: 'DELETE' });
    assert.deepEqual(await del.json(), { image: slow[0], state: 'cancelled' });
    assert.equal((await prepare(`${host.url}/slow/5.nii.gz`)).status, 202, 'a cancelled prepare frees its place');
    assert.equal((await fetch(`${s.url}/v1/vista3d/prepare?image=nope`, { method: 'DELETE' })).status, 404);
    for (const image of [...slow.slice(1), `${host.url}/slow/5.nii.gz`]) await fetch(`${s.url}/v1/vista3d/prepare?image=${encodeURIComponent(image)}`, { method: 'DELETE' });
  });

  it('authentication: events, waits and prepares go through /v1\'s (401 without credentials; the bearer works)', async () => {
    const key = 'k'.repeat(32);
    const s2 = await startTestServer(t, { API_KEY: key });
    const bearer = { authorization: `Bearer ${key}` };
    try {
      const r = await start({ image: 'ct.nii.gz', prompts: { classes: ['spleen'] } }, s2, bearer);
      assert.equal(r.status, 202);
      const { id } = (await r.json()) as { id: string };
      assert.equal((await fetch(`${s2.url}/v1/vista3d/jobs/${id}/events`)).status, 401);
      assert.equal((await fetch(`${s2.url}/v1/vista3d/jobs/${id}/result?format=region&wait=30`)).status, 401);
      assert.equal((await prepare('ct.nii.gz', s2)).status, 401);
      const events = await fetch(`${s2.url}/v1/vista3d/jobs/${id}/events`, { headers: bearer });
      assert.equal(events.status, 200);
      assert.equal((await readEvents(events)).events.at(-1)?.event, 'end');
      assert.equal((await fetch(`${s2.url}/v1/vista3d/jobs/${id}/result?format=region&wait=30`, { headers: bearer })).status, 200);
      assert.equal((await prepare('ct.nii.gz', s2, bearer)).status, 202);
    } finally {
      await s2.close();
    }
  });
});
