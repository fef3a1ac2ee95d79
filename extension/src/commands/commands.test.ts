import assert from 'node:assert/strict';
import { referenceMerge } from '../../test/support/referenceMerge.ts';
import { describe, it } from 'node:test';
import { cropToRegion, indexToWorld, regionSubVolume, writeNifti, type LabelRegion, type Mat3, type Vec3, type Volume } from '@vista3d/models';
import { planeFromMeta, sampleOnPlane } from '../geometry/planes.ts';
import { createStore } from '../state/store.ts';
import { Vista3dClient } from '../api/client.ts';
import { getCommandsModule } from './index.ts';
import { COMMANDS } from './names.ts';
import type { CornerstoneLike } from './context.ts';

/**
 * A viewer made of stubs: a series of `dims[2]` images whose geometry comes from `geom` (stored in REVERSE
 * slice order in the display set, as PACS often send them), OHIF's segmentation service keeping labelmap images
 * in a cache, and a server answering from `serverLabels` (a function of the request).
 */
function harness(geom: Omit<Volume, 'data'>, answer: (body: any) => Uint8Array) {
  const [nx, ny, nz] = geom.dims;
  const planeOf = (k: number) => {
    const d = geom.direction;
    return {
      rows: ny,
      columns: nx,
      imagePositionPatient: indexToWorld(geom, [0, 0, k]),
      rowCosines: [d[0], d[3], d[6]],
      columnCosines: [d[1], d[4], d[7]],
      rowPixelSpacing: geom.spacing[1],
      columnPixelSpacing: geom.spacing[0],
    };
  };
  const imageIds = Array.from({ length: nz }, (_, n) => `img:${nz - 1 - n}`); // reversed
  const kOf = (imageId: string) => Number(imageId.split(':')[1]);
  const images = new Map<string, Uint8Array>();
  const segments: Record<number, any> = {};
  const calls: { added: any[]; active: number[]; modified: number; bodies: any[]; regions: LabelRegion[]; reads: Map<string, number>; writes: Map<string, number> } = {
    added: [],
    active: [],
    modified: 0,
    bodies: [],
    regions: [],
    reads: new Map(),
    writes: new Map(),
  };
  const count = (m: Map<string, number>, id: string) => m.set(id, (m.get(id) ?? 0) + 1);
  const segmentation = { representationData: { Labelmap: { imageIds: imageIds.map((id) => `lm:${id}`), referencedImageIds: imageIds } }, segments };
  const ds = { displaySetInstanceUID: 'ds1', StudyInstanceUID: '1.2', SeriesInstanceUID: '1.2.3', Modality: 'CT', imageIds };
  const services = {
    viewportGridService: { getState: () => ({ activeViewportId: 'vp1', viewports: new Map([['vp1', { displaySetInstanceUIDs: ['ds1'] }], ['vp2', { displaySetInstanceUIDs: ['other'] }]]) }) },
    displaySetService: { getDisplaySetByUID: (uid: string) => (uid === 'ds1' ? ds : undefined) },
    segmentationService: {
      created: 0,
      reps: [] as string[],
      async createLabelmapForDisplaySet() {
        this.created++;
        for (const id of imageIds) images.set(`lm:${id}`, new Uint8Array(nx * ny));
        return 'seg1';
      },
      getSegmentation: (id: string) => (id === 'seg1' && images.size ? segmentation : undefined),
      async addSegmentationRepresentation(viewportId: string) {
        this.reps.push(viewportId);
      },
      addSegment: (_id: string, cfg: any) => {
        segments[cfg.segmentIndex] = cfg;
        calls.added.push(cfg);
      },
      setActiveSegment: (_id: string, i: number) => calls.active.push(i),
    },
  };
  const cs: CornerstoneLike = {
    metaData: { get: (type: string, id: string) => (type === 'imagePlaneModule' ? planeOf(kOf(id)) : undefined) },
    cache: {
      getImage: (id: string) =>
        images.has(id)
          ? {
              voxelManager: {
                getScalarData: () => (count(calls.reads, id), images.get(id)!),
                setScalarData: () => void count(calls.writes, id),
              },
            }
          : undefined,
    },
    triggerSegmentationDataModified: () => void calls.modified++,
  };
  const info = {
    model: { name: 'exact-test', version: '0', description: '' },
    labels: { liver: 1, spleen: 3, aorta: 6, 'left kidney': 14, 'right kidney': 5 },
    label_dictionary: { '1': 'liver', '2': 'kidney', '3': 'spleen', '6': 'aorta', '5': 'right kidney', '14': 'left kidney' },
    everything: [1, 3, 6],
    subclasses: { '2': [14, 5] },
    no_point_prompts: [2],
    device: 'cpu',
    version: '0',
    supported_formats: [],
    not_processed_value: 255,
    zero_shot_from: 133,
  };
  let lastBody: any;
  const requests: string[] = [];
  const fetchImpl = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const u = new URL(String(url), 'http://viewer');
    const path = u.pathname;
    requests.push(`${init?.method ?? 'GET'} ${path}${u.search}`);
    const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { 'content-type': 'application/json' } });
    if (path.endsWith('/health/ready')) return json({ status: 'ready' });
    if (path.endsWith('/vista3d/info')) return json(info);
    if (path.endsWith('/vista3d/jobs') && init?.method === 'POST') {
      lastBody = JSON.parse(String(init.body));
      calls.bodies.push(lastBody);
      if (lastBody.prompts?.classes?.includes('splen')) return json({ detail: 'classes: unknown class "splen"; did you mean "spleen"?' }, 422);
      return json({ id: 'j1', state: 'queued', stage: 'queued', done: 0, total: 4 }, 202);
    }
    if (path.endsWith('/vista3d/jobs/j1')) return json({ id: 'j1', state: 'done', stage: 'done', done: 4, total: 4 });
    if (path.endsWith('/vista3d/jobs/j1/events')) {
      const view = (state: string, stage: string, done: number) => JSON.stringify({ id: 'j1', state, stage, done, total: 4 });
      const body = `event: progress\ndata: ${view('running', 'inference', 2)}\n\nevent: end\ndata: ${view('done', 'done', 4)}\n\n`;
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }
    if (path.endsWith('/vista3d/jobs/j1/result') && u.searchParams.get('format') === 'region') {
      const outside = lastBody.prompts?.points ? 255 : 0;
      const r = cropToRegion(answer(lastBody), geom.dims, outside);
      const region = r.hi.every((v, a) => v > r.lo[a]) ? r : { lo: [0, 0, 0] as Vec3, hi: [1, 1, 1] as Vec3, data: new Uint8Array([outside]), outside };
      calls.regions.push(region);
      return new Response(new Uint8Array(writeNifti(regionSubVolume(region, geom), { gzip: false })), { headers: { 'X-VISTA3D-Region': [...region.lo, ...region.hi].join(','), 'X-VISTA3D-Outside': String(outside) } });
    }
    if (path.endsWith('/vista3d/prepare') && init?.method === 'POST') return json({ image: JSON.parse(String(init.body)).image, state: 'loading' }, 202);
    return json({ detail: 'no' }, 404);
  };
  const store = createStore();
  const mod = getCommandsModule({
    servicesManager: { services },
    commandsManager: { runCommand: () => undefined },
    extensionManager: {},
    store,
    context: { api: new Vista3dClient('/v1', fetchImpl as typeof fetch), cs: () => cs, imageUrlFor: () => 'http://viewer/dicomweb/studies/1.2/series/1.2.3', sleep: async () => undefined },
  });
  /** The labelmap as a volume on `geom`'s grid (k = slice index of the geometry, whatever the display order). */
  const labelmapVolume = () => {
    const out = new Uint8Array(nx * ny * nz);
    for (const id of imageIds) out.set(images.get(`lm:${id}`)!, kOf(id) * nx * ny);
    return out;
  };
  return { store, run: (name: string, args?: unknown) => (mod.actions as any)[name](args), services, calls, labelmapVolume, images, imageIds, requests, context: mod.context };
}

const rot = (a: number): Mat3 => [Math.cos(a), -Math.sin(a), 0, Math.sin(a) * 0.6, Math.cos(a) * 0.6, -0.8, Math.sin(a) * 0.8, Math.cos(a) * 0.8, 0.6];
const geometries: [string, Omit<Volume, 'data'>][] = [
  ['axial', { dims: [6, 5, 4], spacing: [0.8, 0.9, 2.5], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [-10, 20, 30] }],
  ['sagittal', { dims: [6, 5, 4], spacing: [1, 1.2, 3], direction: [0, 0, 1, 1, 0, 0, 0, -1, 0], origin: [5, -5, 40] }],
  ['oblique', { dims: [6, 5, 4], spacing: [1, 1, 2], direction: rot(0.3), origin: [1, 2, 3] }],
];
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, o) => [0, 1, 3, 6, 0, 14][o % 6]);

describe('VISTA3D commands (stub services, stub server)', () => {
  for (const [name, geom] of geometries) {
    it(`class prompts land on exactly the server's voxels (${name}, slices stored in reverse)`, async () => {
      const n = geom.dims[0] * geom.dims[1] * geom.dims[2];
      const h = harness(geom, () => pattern(n));
      await h.run(COMMANDS.refreshServer);
      assert.equal(h.store.get().server.status, 'ready');
      await h.run(COMMANDS.segmentClasses, { classes: ['liver', 'spleen', 'aorta', 'kidney'] });
      assert.equal(h.store.get().error, null);
      assert.deepEqual([...h.labelmapVolume()], [...pattern(n)]);
      assert.deepEqual(h.calls.added.map((a) => [a.segmentIndex, a.label]), [[1, 'liver'], [3, 'spleen'], [6, 'aorta'], [14, 'left kidney']]);
      assert.deepEqual(h.services.segmentationService.reps, ['vp1']);
      assert.equal(h.store.get().job?.state, 'done');
      assert.ok(h.calls.modified >= 1);
      assert.equal(h.calls.bodies[0].image, 'http://viewer/dicomweb/studies/1.2/series/1.2.3');
    });
  }

  it('a class run replaces only the labels it asked for', async () => {
    const geom = geometries[0][1];
    const n = 120;
    let round = 0;
    // second answer: liver moved from the voxels o % 6 = 1 to o % 6 = 4
    const h = harness(geom, () => (round++ === 0 ? pattern(n) : Uint8Array.from({ length: n }, (_, o) => (o % 6 === 4 ? 1 : 0))));
    await h.run(COMMANDS.refreshServer);
    await h.run(COMMANDS.segmentClasses, { classes: ['liver', 'spleen', 'aorta', 'kidney'] });
    await h.run(COMMANDS.segmentClasses, { classes: ['liver'] });
    const want = pattern(n).map((v, o) => (o % 6 === 4 ? 1 : v === 1 ? 0 : v));
    assert.deepEqual([...h.labelmapVolume()], [...want]);
    assert.equal(h.services.segmentationService.created, 1, 'one segmentation, reused');
  });

  it('clicks become voxel indices of the series as the server reads it; a point result changes only its label', async () => {
    const geom = geometries[1][1];
    const n = 120;
    const h = harness(geom, (body) => {
      if (!body.prompts?.points) return pattern(n);
      // the point result: label 3 at voxel (2, 1, 3), 0 in the rest of slice k = 3, not processed elsewhere
      const out = new Uint8Array(n).fill(255);
      for (let o = 3 * 30; o < 4 * 30; o++) out[o] = 0;
      out[2 + 6 * (1 + 5 * 3)] = 3;
      return out;
    });
    await h.run(COMMANDS.refreshServer);
    await h.run(COMMANDS.segmentClasses, {});
    assert.deepEqual(h.calls.bodies[0].prompts, undefined, 'no prompts = everything');
    await h.run(COMMANDS.setPointTarget, { label: 3 });
    await h.run(COMMANDS.addPoint, { world: indexToWorld(geom, [2.2, 0.9, 3.1]) as Vec3, positive: true });
    await h.run(COMMANDS.addPoint, { world: indexToWorld(geom, [5, 4, 0]) as Vec3, positive: false });
    assert.equal(h.store.get().error, null);
    const last = h.calls.bodies.at(-1);
    // this series' k axis runs against its slice normal (row × column): the server numbers slices along the
    // normal (stackGeometry), so the clicks at k = 3 and k = 0 are sent as k = 0 and k = 3
    assert.deepEqual(last.prompts, { points: { '3': [[2, 1, 0], [5, 4, 3]] }, point_labels: { '3': [1, 0] } });
    const got = h.labelmapVolume();
    const base = pattern(n).map((v) => (v === 14 ? 0 : v)); // left kidney is not in the everything set
    for (let o = 0; o < n; o++) {
      const k = Math.floor(o / 30);
      const want = o === 2 + 6 * (1 + 5 * 3) ? 3 : k === 3 && base[o] === 3 ? 0 : base[o];
      assert.equal(got[o], want, `voxel ${o}`);
    }
    await h.run(COMMANDS.undoPoint);
    assert.equal(h.store.get().points.length, 1);
    assert.deepEqual(h.calls.bodies.at(-1).prompts.points, { '3': [[2, 1, 0]] });
  });

  it('clicking a voxel of the overlay selects its segment', async () => {
    const geom = geometries[2][1];
    const h = harness(geom, () => pattern(120));
    await h.run(COMMANDS.refreshServer);
    await h.run(COMMANDS.segmentClasses, {});
    const o = 3 + 6 * (2 + 5 * 1); // pattern value at o: [0,1,3,6,0,14][o % 6]
    const label = await h.run(COMMANDS.selectSegmentAt, { world: indexToWorld(geom, [3, 2, 1]) });
    assert.equal(label, pattern(120)[o]);
    assert.equal(h.store.get().selectedLabel, label || null);
    if (label) assert.deepEqual(h.calls.active.at(-1), label);
  });

  it('errors reach the panel in plain words; the viewer keeps working', async () => {
    const h = harness(geometries[0][1], () => pattern(120));
    await h.run(COMMANDS.segmentClasses, { classes: ['liver'] });
    assert.match(h.store.get().error ?? '', /not ready/);
    await h.run(COMMANDS.refreshServer);
    await h.run(COMMANDS.segmentClasses, { classes: ['splen'] });
    assert.match(h.store.get().error ?? '', /^Invalid prompt: classes: unknown class "splen"; did you mean "spleen"\?/);
    await h.run(COMMANDS.addPoint, { world: [0, 0, 0], positive: true });
    assert.match(h.store.get().error ?? '', /Pick the structure/);
    await h.run(COMMANDS.setPointTarget, { label: 3 });
    await h.run(COMMANDS.addPoint, { world: [1000, 0, 0], positive: true });
    assert.match(h.store.get().error ?? '', /outside the series/);
    const dead = getCommandsModule({
      servicesManager: { services: {} },
      commandsManager: {},
      extensionManager: {},
      store: createStore(),
      context: { api: new Vista3dClient('/v1', (async () => { throw new TypeError('fetch failed'); }) as typeof fetch) },
    });
    await (dead.actions as any)[COMMANDS.refreshServer]();
    assert.equal(dead.context.store.get().server.status, 'unreachable');
    assert.match(dead.context.store.get().server.error ?? '', /cannot be reached/);
  });
});


function lcg(seed: number) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('results as regions: only the box is sampled, the labelmap is the full-volume path\'s voxel for voxel', () => {
  const cases: [string, Omit<Volume, 'data'>][] = [
    ...geometries,
    // i and k run against x and z: a flipped grid (proper rotation)
    ['flipped', { dims: [7, 5, 6], spacing: [1.2, 0.8, 2], direction: [-1, 0, 0, 0, 1, 0, 0, 0, -1], origin: [30, -4, 80] }],
    ['oblique, flipped rows', { dims: [6, 7, 5], spacing: [0.7, 1.1, 2.5], direction: rot(-0.7).map((v, i) => (i % 3 === 1 ? -v : i % 3 === 2 ? -v : v)) as Mat3, origin: [-3, 7, 11] }],
  ];
  /** A result with labels only inside [lo, hi) (a random mix of `values` there), `outside` elsewhere. */
  const boxed = (geom: Omit<Volume, 'data'>, lo: Vec3, hi: Vec3, outside: number, values: number[], seed: number) => {
    const [nx, ny, nz] = geom.dims;
    const rnd = lcg(seed);
    const out = new Uint8Array(nx * ny * nz).fill(outside);
    for (let k = lo[2]; k < hi[2]; k++) for (let j = lo[1]; j < hi[1]; j++) for (let i = lo[0]; i < hi[0]; i++) out[i + nx * (j + ny * k)] = values[Math.floor(rnd() * values.length)];
    return out;
  };

  for (const [name, geom] of cases) {
    for (const kind of ['classes', 'point'] as const) {
      it(`${kind} prompt, ${name} grid, slices stored in reverse: equals the old full-volume path on a labelmap holding other labels`, async () => {
        const [nx, ny, nz] = geom.dims;
        const n = nx * ny * nz;
        const lo: Vec3 = [1, 2, 1];
        const hi: Vec3 = [nx - 1, ny - 1, Math.min(nz, 3)];
        const answers = [pattern(n), kind === 'classes' ? boxed(geom, lo, hi, 0, [0, 1, 3, 6], 7) : boxed(geom, lo, hi, 255, [0, 3, 255], 7)];
        let round = 0;
        const h = harness(geom, () => answers[round++]);
        await h.run(COMMANDS.refreshServer);
        await h.run(COMMANDS.segmentClasses, { classes: ['liver', 'spleen', 'aorta', 'kidney'] }); // creates the labelmap
        // what the viewer holds before: a random mix, asked labels and others, everywhere
        const rnd = lcg(11);
        for (const id of h.imageIds) h.images.get(`lm:${id}`)!.forEach((_, p, a) => (a[p] = [0, 1, 3, 6, 14, 200][Math.floor(rnd() * 6)]));
        const before = h.labelmapVolume();
        if (kind === 'classes') await h.run(COMMANDS.segmentClasses, { classes: ['liver', 'spleen'] });
        else {
          await h.run(COMMANDS.setPointTarget, { label: 3 });
          await h.run(COMMANDS.addPoint, { world: indexToWorld(geom, [2, 2, 1]) as Vec3, positive: true });
        }
        assert.equal(h.store.get().error, null);
        // the old path: every image sampled whole from the full-grid result, merged with Set.has
        const full = { ...geom, data: answers[1] } as Volume<Uint8Array>;
        const rule = kind === 'classes' ? { kind, labels: new Set([1, 3]) } : { kind, label: 3 };
        const want = before.slice();
        for (const id of h.imageIds) {
          const k = Number(id.split(':')[1]);
          const d = geom.direction;
          const plane = planeFromMeta(id, { rows: ny, columns: nx, imagePositionPatient: indexToWorld(geom, [0, 0, k]), rowCosines: [d[0], d[3], d[6]], columnCosines: [d[1], d[4], d[7]], rowPixelSpacing: geom.spacing[1], columnPixelSpacing: geom.spacing[0] });
          const slice = want.subarray(k * nx * ny, (k + 1) * nx * ny);
          referenceMerge(slice, sampleOnPlane(full, plane, kind === 'point' ? 255 : 0), rule);
        }
        assert.deepEqual([...h.labelmapVolume()], [...want]);
        assert.ok(want.some((v, o) => v !== before[o]), 'the prompt changed something');
      });
    }
  }

  it('a point result: images whose plane misses the box are not read nor written', async () => {
    const geom = geometries[2][1]; // oblique
    const [nx, ny, nz] = geom.dims;
    const answers = [pattern(nx * ny * nz), boxed(geom, [1, 1, 2], [4, 3, 3], 255, [3], 1)];
    let round = 0;
    const h = harness(geom, () => answers[round++]);
    await h.run(COMMANDS.refreshServer);
    await h.run(COMMANDS.segmentClasses, {});
    h.calls.reads.clear();
    h.calls.writes.clear();
    await h.run(COMMANDS.setPointTarget, { label: 3 });
    await h.run(COMMANDS.addPoint, { world: indexToWorld(geom, [2, 2, 2]) as Vec3, positive: true });
    assert.equal(h.store.get().error, null);
    assert.deepEqual(h.calls.regions.at(-1)!.lo, [1, 1, 2]);
    assert.deepEqual([...h.calls.reads.keys()], ['lm:img:2'], 'only the image of slice 2 is read');
    assert.deepEqual([...h.calls.writes.keys()], ['lm:img:2']);
    assert.equal(nz, 4);
  });

  it('a class result: every image is scanned for the asked labels (one table), written only where something changed', async () => {
    const geom = geometries[0][1];
    const [nx, ny, nz] = geom.dims;
    let round = 0;
    // first: liver only on slice 1; then: spleen only on slice 3 (liver not asked: slice 1 keeps it)
    const answers = [boxed(geom, [0, 0, 1], [nx, ny, 2], 0, [1], 1), boxed(geom, [2, 1, 3], [5, 4, 4], 0, [3], 2)];
    const h = harness(geom, () => answers[round++]);
    await h.run(COMMANDS.refreshServer);
    await h.run(COMMANDS.segmentClasses, { classes: ['liver'] });
    h.calls.reads.clear();
    h.calls.writes.clear();
    await h.run(COMMANDS.segmentClasses, { classes: ['spleen'] });
    assert.equal(h.calls.reads.size, nz, 'asked labels may be anywhere: every image is read');
    assert.deepEqual([...h.calls.writes.keys()], ['lm:img:3'], 'only the image holding the new spleen is written');
    const got = h.labelmapVolume();
    assert.equal(got.filter((v) => v === 1).length, nx * ny, 'the liver stays');
    assert.equal(got.filter((v) => v === 3).length, 9);
    // asking for the liver again with a result that has none clears it everywhere (outside the box too)
    answers.push(boxed(geom, [0, 0, 0], [1, 1, 1], 0, [0], 3));
    await h.run(COMMANDS.segmentClasses, { classes: ['liver'] });
    assert.equal(h.labelmapVolume().filter((v) => v === 1).length, 0);
  });
});

describe('prepareSeries: the server loads the displayed series before the first prompt', () => {
  function viewer(answers: number[]) {
    const posts: string[] = [];
    const logs: string[] = [];
    const ds = { displaySetInstanceUID: 'ds1', StudyInstanceUID: '1.2', SeriesInstanceUID: '1.2.3', Modality: 'CT', imageIds: ['img:0'] };
    const services = {
      viewportGridService: { getState: () => ({ activeViewportId: 'vp1', viewports: new Map([['vp1', { displaySetInstanceUIDs: ['ds1'] }]]) }) },
      displaySetService: { getDisplaySetByUID: () => ds },
    };
    const fetchImpl = (async (url: string, init?: RequestInit) => {
      if (String(url).endsWith('/vista3d/prepare')) {
        posts.push(JSON.parse(String(init?.body)).image);
        const status = answers.shift() ?? 202;
        return new Response(JSON.stringify(status === 202 ? { image: 'x', state: 'loading' } : { detail: status === 503 ? 'the server is busy' : 'series URL … is not on this server' }), { status });
      }
      return new Response('{}', { status: 404 });
    }) as unknown as typeof fetch;
    const store = createStore();
    store.set({ server: { status: 'ready' } });
    const mod = getCommandsModule({
      servicesManager: { services },
      commandsManager: { runCommand: () => undefined },
      extensionManager: {},
      store,
      context: { api: new Vista3dClient('/v1', fetchImpl), imageUrlFor: () => '/dicomweb/studies/1.2/series/1.2.3', log: (m) => void logs.push(m) },
    });
    return { run: () => (mod.actions as any)[COMMANDS.prepareSeries](), posts, logs, store };
  }

  it('once per series; a busy server is asked again at the next change, a refusal is not; never an error in the panel', async () => {
    const v = viewer([503, 202]);
    await v.run();
    assert.deepEqual(v.posts, ['/dicomweb/studies/1.2/series/1.2.3']);
    assert.match(v.logs[0], /could not prepare \/dicomweb\/studies\/1\.2\/series\/1\.2\.3: The VISTA3D server is busy/);
    await v.run();
    await v.run();
    assert.equal(v.posts.length, 2, 'asked again after the 503, then not again');
    assert.equal(v.store.get().error, null);

    const refused = viewer([403]);
    await refused.run();
    await refused.run();
    assert.equal(refused.posts.length, 1);
    assert.equal(refused.store.get().error, null);
  });

  it('nothing while the server is not ready, nor without an image series in the active viewport', async () => {
    const v = viewer([]);
    v.store.set({ server: { status: 'loading' } });
    await v.run();
    assert.equal(v.posts.length, 0);
  });
});
