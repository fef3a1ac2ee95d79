/**
 * What the viewer does with a result, at clinical scale, before and after results came as regions: a 512×512×300
 * CT (stack labelmap, slices stored in reverse), a click's result (a 64×64×24 box, 255 outside) and a class
 * prompt's (a liver-sized 260×200×120 box, 0 outside).
 *   before: gunzip the full-grid .nii.gz in JavaScript (fflate, as the browser did), sample every pixel of every
 *           labelmap image from the full volume, merge with Set.has, scan every image for the labels it holds;
 *   after:  read the region's uncompressed NIfTI (the browser has undone the HTTP gzip natively), applyResult.
 * Both must leave the same labelmap (checked). Run: node --import tsx extension/test/apply.bench.ts
 */
import assert from 'node:assert/strict';
import { referenceMerge } from './support/referenceMerge.ts';
import { gunzipSync } from 'fflate';
import { cropToRegion, indexToWorld, readNifti, regionSubVolume, regionToVolume, writeNifti, type Vec3, type Volume } from '@vista3d/models';
import { gzipSync } from 'node:zlib';
import type { RegionResult } from '../src/api/client.ts';
import { applyResult } from '../src/commands/applyResult.ts';
import type { CommandContext, CornerstoneLike, DisplaySetLike } from '../src/commands/context.ts';
import type { MergeRule } from '../src/geometry/merge.ts';
import { planeFromMeta, sampleOnPlane } from '../src/geometry/planes.ts';
import { createStore } from '../src/state/store.ts';

const geom: Omit<Volume, 'data'> = { dims: [512, 512, 300], spacing: [0.7, 0.7, 1.5], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [-180, -180, -300] };
const [nx, ny, nz] = geom.dims;
const imageIds = Array.from({ length: nz }, (_, n) => `img:${nz - 1 - n}`);
const kOf = (id: string) => Number(id.split(':')[1]);
const meta = (id: string) => ({ rows: ny, columns: nx, imagePositionPatient: indexToWorld(geom, [0, 0, kOf(id)]), rowCosines: [1, 0, 0], columnCosines: [0, 1, 0], rowPixelSpacing: geom.spacing[1], columnPixelSpacing: geom.spacing[0] });

/** A labelmap holding a previous result (liver, 1) in a box, as a Map of image id → pixels. */
function labelmap(): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const id of imageIds) {
    const a = new Uint8Array(nx * ny);
    const k = kOf(id);
    if (k >= 100 && k < 200) for (let j = 150; j < 330; j++) a.fill(1, j * nx + 120, j * nx + 360);
    m.set(`lm:${id}`, a);
  }
  return m;
}

/** A full-grid result with `label` in an ellipsoid inside [lo, hi), `outside` elsewhere; 0 elsewhere in the box. */
function result(lo: Vec3, hi: Vec3, label: number, outside: number): Uint8Array {
  const out = new Uint8Array(nx * ny * nz).fill(outside);
  const c = [0, 1, 2].map((a) => (lo[a] + hi[a]) / 2);
  const r = [0, 1, 2].map((a) => (hi[a] - lo[a]) / 2);
  for (let k = lo[2]; k < hi[2]; k++)
    for (let j = lo[1]; j < hi[1]; j++)
      for (let i = lo[0]; i < hi[0]; i++) out[i + nx * (j + ny * k)] = ((i - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((k - c[2]) / r[2]) ** 2 < 1 ? label : 0;
  return out;
}

function before(images: Map<string, Uint8Array>, gz: Uint8Array, rule: MergeRule): void {
  const v = readNifti(gunzipSync(gz)) as Volume<Uint8Array>;
  const notProcessed = 255;
  const held = new Set<number>();
  for (const id of imageIds) {
    const incoming = sampleOnPlane(v, planeFromMeta(id, meta(id)), rule.kind === 'point' ? notProcessed : 0);
    const current = images.get(`lm:${id}`)!;
    referenceMerge(current, incoming, rule, notProcessed);
    for (let p = 0; p < current.length; p++) if (current[p]) held.add(current[p]);
  }
}

async function after(images: Map<string, Uint8Array>, nii: Uint8Array, lo: Vec3, hi: Vec3, outside: number, rule: MergeRule): Promise<number> {
  let reads = 0;
  const v = readNifti(nii);
  const region: RegionResult = { labels: { ...v, data: v.data as Uint8Array }, lo, hi, outside };
  const cs: CornerstoneLike = {
    metaData: { get: (_t: string, id: string) => meta(id) },
    cache: { getImage: (id: string) => ({ voxelManager: { getScalarData: () => (reads++, images.get(id)!), setScalarData: () => undefined } }) },
    triggerSegmentationDataModified: () => undefined,
  };
  const segmentation = { representationData: { Labelmap: { imageIds: imageIds.map((id) => `lm:${id}`), referencedImageIds: imageIds } }, segments: {} as Record<number, unknown> };
  const ctx = {
    store: createStore(),
    services: {
      segmentationService: { getSegmentation: () => segmentation, addSegment: (_s: string, c: { segmentIndex: number }) => void (segmentation.segments[c.segmentIndex] = c) },
      viewportGridService: { getState: () => ({ viewports: new Map() }) },
    },
    cs: () => cs,
  } as unknown as CommandContext;
  ctx.store.set({ segmentationId: 'seg' });
  const ds = { displaySetInstanceUID: 'ds', StudyInstanceUID: '1', SeriesInstanceUID: '2', imageIds } as DisplaySetLike;
  await applyResult(ctx, ds, region, rule);
  return reads;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const c of [
  { what: 'a click (64×64×24 box, 255 outside)', lo: [200, 220, 140] as Vec3, hi: [264, 284, 164] as Vec3, label: 3, outside: 255, rule: { kind: 'point', label: 3 } as MergeRule },
  { what: 'a class prompt (liver, 260×200×120 box, 0 outside)', lo: [100, 140, 90] as Vec3, hi: [360, 340, 210] as Vec3, label: 1, outside: 0, rule: { kind: 'classes', labels: new Set([1]) } as MergeRule },
]) {
  const full = result(c.lo, c.hi, c.label, c.outside);
  const gz = new Uint8Array(gzipSync(writeNifti({ ...geom, data: full }, { gzip: false }), { level: 6 }));
  const region = cropToRegion(full, geom.dims as Vec3, c.outside);
  const nii = writeNifti(regionSubVolume(region, geom), { gzip: false });
  const wire = gzipSync(nii, { level: 1 }).length;
  assert.deepEqual(regionToVolume(region, geom).data, full);
  const tb: number[] = [];
  const ta: number[] = [];
  let reads = 0;
  for (let run = 0; run < 3; run++) {
    const a = labelmap();
    let t0 = performance.now();
    before(a, gz, c.rule);
    tb.push(performance.now() - t0);
    const b = labelmap();
    t0 = performance.now();
    reads = await after(b, nii, region.lo, region.hi, c.outside, c.rule);
    ta.push(performance.now() - t0);
    for (const id of a.keys()) assert.deepEqual(b.get(id), a.get(id), `${c.what}: ${id} differs`);
  }
  console.log(
    `${c.what}: before ${median(tb).toFixed(0)} ms (full .nii.gz ${gz.length} bytes, ${nz} images sampled), after ${median(ta).toFixed(0)} ms (region ${nii.length} bytes, ${wire} with HTTP gzip level 1; ${reads} of ${nz} images read)`,
  );
}
