import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBackend } from '../backend/onnxNode.ts';
import type { Backend, GraphSession, TensorData } from '../backend/types.ts';
import { CancelledError, PromptError } from '../errors.ts';
import { indexToWorld, worldToIndex, type Mat3, type Vec3, type Volume } from '../geometry/volume.ts';
import { exactBundle, type ExactBundleOptions } from '../../test/support/testBundles.ts';
import { Vista3dPipeline, type Progress } from './segment.ts';

/** A labelled test image: label L at voxel (i, j, k) and intensity L/10 there. */
function labelledVolume(dims: Vec3, label: (i: number, j: number, k: number) => number, geom?: Partial<Omit<Volume, 'data'>>): { vol: Volume<Float32Array>; truth: Uint8Array } {
  const n = dims[0] * dims[1] * dims[2];
  const data = new Float32Array(n);
  const truth = new Uint8Array(n);
  let o = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++, o++) {
        truth[o] = label(i, j, k);
        data[o] = truth[o] / 10;
      }
  return {
    vol: { data, dims, spacing: [1, 1, 1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [-3, 4, 10], ...geom },
    truth,
  };
}

const pattern = (i: number, j: number, k: number) => {
  if ((i - 6) ** 2 + (j - 5) ** 2 + (k - 4) ** 2 < 10) return 3;
  if (i < 3 && j > 6) return 6;
  if (k > 6 && i > 8) return 1;
  return 0;
};

async function pipelineFor(o: ExactBundleOptions = {}) {
  return Vista3dPipeline.create(exactBundle(o), createBackend({ device: 'cpu', threads: 1 }));
}

describe('Vista3dPipeline with the exact test model', () => {
  const windowTable: ExactBundleOptions[] = [
    { roi: [8, 8, 8], overlap: 0.25, blending: 'gaussian' },
    { roi: [5, 7, 3], overlap: 0.5, blending: 'constant' },
    { roi: [4, 4, 4], overlap: 0, blending: 'gaussian' },
    { roi: [16, 16, 16], overlap: 0.3, blending: 'gaussian' }, // larger than the image: replicate padding
  ];
  for (const o of windowTable) {
    it(`class prompts give the exact labels (roi ${o.roi}, overlap ${o.overlap}, ${o.blending})`, async () => {
      const p = await pipelineFor(o);
      const { vol, truth } = labelledVolume([13, 11, 9], pattern);
      const r = await p.segment(vol, { classes: ['liver', 'Spleen', 6] });
      assert.deepEqual(r.labels.data, truth);
      assert.deepEqual(r.labels.dims, vol.dims);
      assert.deepEqual(r.labels.origin, vol.origin);
      assert.ok(r.timings.windows >= 1);
      await p.dispose();
    });
  }

  it('asks only for the classes requested', async () => {
    const p = await pipelineFor();
    const { vol, truth } = labelledVolume([13, 11, 9], pattern);
    const r = await p.segment(vol, { classes: ['spleen'] });
    assert.deepEqual(r.labels.data, truth.map((l) => (l === 3 ? 3 : 0)));
  });

  it('segments the everything set when there are no prompts, and expands subclasses', async () => {
    const p = await pipelineFor();
    const { vol, truth } = labelledVolume([13, 11, 9], pattern);
    assert.deepEqual((await p.segment(vol, undefined)).labels.data, truth);
    const kidneys = labelledVolume([9, 9, 9], (i) => (i < 3 ? 14 : i > 5 ? 5 : 0));
    const r = await p.segment(kidneys.vol, { classes: ['kidney'] });
    assert.deepEqual(r.prompts.classIds, [14, 5]);
    assert.deepEqual(r.labels.data, kidneys.truth);
  });

  it('gives the same labels at the same world positions for flipped, permuted and oblique storage', async () => {
    const p = await pipelineFor({ roi: [6, 6, 6] });
    const dims: Vec3 = [13, 11, 9];
    const { vol, truth } = labelledVolume(dims, pattern);
    const cases: { perm: Vec3; flip: Vec3; rotate?: boolean }[] = [
      { perm: [0, 1, 2], flip: [1, 0, 0] },
      { perm: [0, 1, 2], flip: [0, 1, 1] },
      { perm: [2, 0, 1], flip: [0, 0, 0] },
      { perm: [1, 2, 0], flip: [1, 0, 1] },
      { perm: [2, 1, 0], flip: [1, 1, 1], rotate: true },
    ];
    for (const c of cases) {
      const base = c.rotate ? { ...vol, direction: rotation(0.35, 0.2) } : vol;
      const moved = reorder(base, c.perm, c.flip);
      const r = await p.segment(moved, { classes: ['liver', 'spleen', 'aorta'] });
      // every voxel of the stored copy must carry the label of the same world position in the original
      for (let o = 0; o < r.labels.data.length; o++) {
        const ijk = [o % moved.dims[0], Math.floor(o / moved.dims[0]) % moved.dims[1], Math.floor(o / (moved.dims[0] * moved.dims[1]))];
        const src = worldToIndex(base, indexToWorld(moved, ijk)).map(Math.round);
        const want = truth[src[0] + dims[0] * (src[1] + dims[1] * src[2])];
        if (r.labels.data[o] !== want) assert.fail(`case ${JSON.stringify(c)}: voxel ${ijk} is ${r.labels.data[o]}, want ${want}`);
      }
    }
  });

  it('keeps the labels of resampled images consistent across storage orders', async () => {
    const p = await pipelineFor({ roi: [8, 8, 8], spacing: [1.5, 1.5, 1.5] });
    const { vol } = labelledVolume([14, 12, 10], pattern, { spacing: [1, 1.25, 2] });
    const a = await p.segment(vol, { classes: [1, 3, 6] });
    const moved = reorder(vol, [2, 0, 1], [1, 0, 1]);
    const b = await p.segment(moved, { classes: [1, 3, 6] });
    let same = 0;
    for (let o = 0; o < b.labels.data.length; o++) {
      const ijk = [o % moved.dims[0], Math.floor(o / moved.dims[0]) % moved.dims[1], Math.floor(o / (moved.dims[0] * moved.dims[1]))];
      const src = worldToIndex(vol, indexToWorld(moved, ijk)).map(Math.round);
      if (a.labels.data[src[0] + vol.dims[0] * (src[1] + vol.dims[1] * src[2])] === b.labels.data[o]) same++;
    }
    assert.equal(same, b.labels.data.length);
  });

  it('point prompts: only the clicked bright component, only in the window around the click, 255 elsewhere', async () => {
    const p = await pipelineFor({ roi: [8, 8, 8] });
    const dims: Vec3 = [24, 10, 10];
    const blob = (i: number, j: number, k: number) => (i >= 2 && i <= 5 && j >= 3 && j <= 6 && k >= 3 && k <= 6) || (i >= 8 && i <= 9 && j >= 2 && k <= 3);
    const { vol } = labelledVolume(dims, (i, j, k) => (blob(i, j, k) ? 9 : 0));
    const r = await p.segment(vol, { points: { spleen: [[3, 4, 5]] } });
    for (let o = 0; o < r.labels.data.length; o++) {
      const [i, j, k] = [o % 24, Math.floor(o / 24) % 10, Math.floor(o / 240)];
      // RAS model space runs along −i and −j. Click (3, 4, 5) → model (20, 5, 5); centred starts, clamped to
      // the image: 16 (u0 16…23 ↔ i 0…7), 1 (u1 1…8 ↔ j 1…8), 1 (u2 1…8 ↔ k 1…8).
      const inWindow = i <= 7 && j >= 1 && j <= 8 && k >= 1 && k <= 8;
      const want = !inWindow ? 255 : i >= 2 && i <= 5 && j >= 3 && j <= 6 && k >= 3 && k <= 6 ? 3 : 0;
      if (r.labels.data[o] !== want) assert.fail(`voxel ${[i, j, k]}: ${r.labels.data[o]} want ${want}`);
    }
    assert.equal(r.timings.windows, 1);
  });

  it('point prompts: the head sees the click at the right patch coordinates', async () => {
    const p = await pipelineFor({ roi: [8, 8, 8], radius: 2.5 });
    const dims: Vec3 = [12, 12, 12];
    const { vol } = labelledVolume(dims, () => 9, { direction: [0, 1, 0, 0, 0, -1, 1, 0, 0] as Mat3 });
    const click: Vec3 = [7, 3, 9];
    const r = await p.segment(vol, { points: { '3': [click] } });
    for (let o = 0; o < r.labels.data.length; o++) {
      const ijk = [o % 12, Math.floor(o / 12) % 12, Math.floor(o / 144)];
      const d2 = ijk.reduce((s, v, a) => s + (v - click[a]) ** 2, 0);
      if (d2 < 6.25) assert.equal(r.labels.data[o], 3, `voxel ${ijk} at distance² ${d2} is in the sphere`);
      else assert.notEqual(r.labels.data[o], 3, `voxel ${ijk} at distance² ${d2} is outside the sphere`);
    }
  });

  it('a negative click removes the component it touches; classes and points combine', async () => {
    const p = await pipelineFor({ roi: [8, 8, 8] });
    const dims: Vec3 = [20, 8, 8];
    const { vol } = labelledVolume(dims, (i) => (i >= 2 && i <= 4 ? 9 : i >= 14 && i <= 16 ? 9 : i === 10 ? 1 : 0));
    const r = await p.segment(vol, { classes: ['liver'], points: { spleen: [[3, 4, 4], [15, 4, 4]] }, pointLabels: { spleen: [1, 0] } });
    for (let o = 0; o < r.labels.data.length; o++) {
      const i = o % 20;
      const want = i >= 2 && i <= 4 ? 3 : i === 10 ? 1 : 0;
      assert.equal(r.labels.data[o], want, `i=${i}`);
    }
    assert.deepEqual(r.prompts.classIds, [1]);
  });

  it('each point window gets every click in patch coordinates, those outside it as padding (−1)', async () => {
    const feeds: Record<string, TensorData>[] = [];
    const backend: Backend = {
      device: 'recording',
      stats: { runMs: 0, runs: 0 },
      async loadGraph(_bytes, name) {
        const outputs = name === 'encoder' ? ['features'] : ['logits'];
        const inputs = name === 'encoder' ? ['image'] : name === 'classHead' ? ['features', 'class_vector'] : ['features', 'point_coords', 'point_labels', 'class_vector'];
        return {
          inputNames: inputs,
          outputNames: outputs,
          async run(f) {
            if (name === 'pointHead') feeds.push(f);
            const dims = name === 'encoder' ? f.image.dims : [1, 1, 8, 8, 8];
            return { [outputs[0]]: { type: 'float32', data: new Float32Array(dims.reduce((a, b) => a * b)), dims } };
          },
          async dispose() {},
        } satisfies GraphSession;
      },
    };
    const p = await Vista3dPipeline.create(exactBundle({ roi: [8, 8, 8], orientation: 'LPS' }), backend);
    const { vol } = labelledVolume([30, 10, 10], () => 0);
    await p.segment(vol, { points: { spleen: [[3, 4, 5], [25, 4, 5]] }, pointLabels: { spleen: [1, 0] } });
    assert.equal(feeds.length, 2);
    // LPS model space = the image's own axes: windows start at (0, 0, 1) and (21, 0, 1): centred, clamped
    assert.deepEqual([...(feeds[0].point_coords.data as Float32Array)], [3, 4, 4, 25, 4, 4]);
    assert.deepEqual([...(feeds[0].point_labels.data as BigInt64Array)], [1n, -1n]);
    assert.deepEqual([...(feeds[1].point_coords.data as Float32Array)], [3 - 21, 4, 4, 4, 4, 4]);
    assert.deepEqual([...(feeds[1].point_labels.data as BigInt64Array)], [-1n, 0n]);
    assert.deepEqual([...(feeds[1].class_vector.data as BigInt64Array)], [3n]);
  });

  it('crops the foreground: voxels outside the box are background', async () => {
    const p = await pipelineFor({ roi: [4, 4, 4], foregroundCrop: { threshold: 0.05, margin: 1 } });
    const { vol, truth } = labelledVolume([13, 11, 9], pattern);
    const r = await p.segment(vol, { classes: [1, 3, 6] });
    assert.deepEqual(r.labels.data, truth);
  });

  it('reports progress window by window and stops when cancelled', async () => {
    const p = await pipelineFor({ roi: [4, 4, 4], overlap: 0 });
    const { vol } = labelledVolume([8, 8, 8], pattern);
    const seen: Progress[] = [];
    await p.segment(vol, { classes: ['liver'] }, { onProgress: (e) => seen.push({ ...e }) });
    const inference = seen.filter((e) => e.stage === 'inference');
    assert.deepEqual(inference.map((e) => e.done), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.ok(inference.every((e) => e.total === 8));
    assert.equal(seen.at(-1)?.stage, 'done');
    const ac = new AbortController();
    await assert.rejects(
      p.segment(vol, { classes: ['liver'] }, { signal: ac.signal, onProgress: (e) => e.stage === 'inference' && e.done === 2 && ac.abort() }),
      CancelledError,
    );
  });

  it('awaits `between` before pre-processing, every window (class and point alike) and post-processing, and holds the next step until it resolves', async () => {
    const p = await pipelineFor({ roi: [4, 4, 4], overlap: 0 });
    const { vol } = labelledVolume([8, 8, 8], pattern);
    const log: string[] = [];
    let hold: Promise<void> = Promise.resolve();
    let release!: () => void;
    const run = p.segment(vol, { classes: ['liver'], points: { spleen: [[6, 5, 4]] } }, {
      between: () => {
        log.push('between');
        if (log.filter((e) => e === 'between').length === 4) hold = new Promise((r) => (release = r));
        return hold;
      },
      onProgress: (e) => e.stage === 'inference' && e.done > 0 && log.push(`window ${e.done}`),
    });
    await new Promise((r) => setTimeout(r, 50));
    // before pre-processing, then two windows ran; the third waits for `between`
    assert.deepEqual(log, ['between', 'between', 'window 1', 'between', 'window 2', 'between']);
    release();
    await run;
    const windows = log.filter((e) => e.startsWith('window')).length;
    assert.equal(log.filter((e) => e === 'between').length, windows + 2);
    assert.ok(windows > 8, `8 class windows and the point windows: ${windows}`);
  });

  it('rejects invalid prompts with the offending value named', async () => {
    const p = await pipelineFor({ supportedLabels: [1, 3, 5, 6, 14, 28, 29] });
    const { vol } = labelledVolume([8, 8, 8], pattern);
    const cases: [object, RegExp][] = [
      [{ classes: ['splen'] }, /unknown class "splen"; did you mean "spleen"/],
      [{ classes: [300] }, /300.*out of range/],
      [{ classes: ['lung tumor'] }, /cannot segment 23 \(lung tumor\)/],
      [{ points: { kidney: [[1, 1, 1]] } }, /cannot target 2 \(kidney\)/],
      [{ points: { spleen: [[1, 1, 8]] } }, /\[1,1,8\].*outside the image \(dims 8×8×8/],
      [{ points: { spleen: [[1, 1]] } }, /point 0 .* expected \[x, y, z\]/],
      [{ points: { spleen: [[1, 1, 1]], liver: [[2, 2, 2]] } }, /one object per request/],
      [{ points: { spleen: [[1, 1, 1]] }, pointLabels: { spleen: [5] } }, /point_labels\[0\].*5/],
      [{ points: { spleen: [[1, 1, 1]] }, pointLabels: { spleen: [0] } }, /at least one positive/],
    ];
    for (const [prompts, re] of cases) await assert.rejects(p.segment(vol, prompts), (e: Error) => e instanceof PromptError && re.test(e.message), JSON.stringify(prompts));
  });
});

/** A copy of `v` stored with index axes permuted (new axis t = old axis perm[t]) and flipped, same world. */
function reorder(v: Volume, perm: Vec3, flip: Vec3): Volume<Float32Array> {
  const nd = perm.map((a) => v.dims[a]) as Vec3;
  const data = new Float32Array(v.data.length);
  const dirCol = (a: number) => [v.direction[a], v.direction[3 + a], v.direction[6 + a]];
  const cols = perm.map((a, t) => dirCol(a).map((x) => (flip[t] ? -x : x)));
  const origin = indexToWorld(v, perm.map((a, t) => (flip[t] ? v.dims[a] - 1 : 0)).reduce((acc, x, t) => ((acc[perm[t]] = x), acc), [0, 0, 0]));
  let o = 0;
  for (let k = 0; k < nd[2]; k++)
    for (let j = 0; j < nd[1]; j++)
      for (let i = 0; i < nd[0]; i++, o++) {
        const src = [0, 0, 0];
        [i, j, k].forEach((x, t) => (src[perm[t]] = flip[t] ? nd[t] - 1 - x : x));
        data[o] = v.data[src[0] + v.dims[0] * (src[1] + v.dims[1] * src[2])];
      }
  return {
    data,
    dims: nd,
    spacing: perm.map((a) => v.spacing[a]) as Vec3,
    direction: [cols[0][0], cols[1][0], cols[2][0], cols[0][1], cols[1][1], cols[2][1], cols[0][2], cols[1][2], cols[2][2]],
    origin,
  };
}

/** Rotation by a about x then b about z (row-major). */
function rotation(a: number, b: number): Mat3 {
  const [ca, sa, cb, sb] = [Math.cos(a), Math.sin(a), Math.cos(b), Math.sin(b)];
  const rx = [1, 0, 0, 0, ca, -sa, 0, sa, ca];
  const rz = [cb, -sb, 0, sb, cb, 0, 0, 0, 1];
  const m: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) m.push(rz[3 * r] * rx[c] + rz[3 * r + 1] * rx[3 + c] + rz[3 * r + 2] * rx[6 + c]);
  return m as Mat3;
}
