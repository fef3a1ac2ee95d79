#!/usr/bin/env -S node --import tsx
/**
 * Evaluates a model bundle on held-out phantoms through the server's own path (loadBundleFromDir →
 * onnxruntime-node backend → Vista3dPipeline):
 *
 *   npm run eval                      # models/bundles/phantom, the full set (a few minutes on 2 cores)
 *   npm run eval -- --quick           # 2 torso volumes + 1 head
 *   npm run eval -- --bundle <dir> --threads 2 --no-head-ct
 *
 * Prints per-label Dice of class prompts, point-prompt Dice on the phantoms' lesions (which no class covers:
 * 1 positive click; 3 clicks = that click and two corrections, one of them negative, placed either each on the
 * result shown or both on the 1-click result), the change in Dice
 * between the same anatomy stored axial RAS and permuted/flipped, what the model claims in head, empty and the real
 * head CT, the time per volume, and the cost of each graph per window. Targets are shown, never enforced: the
 * exit status is non-zero only on errors.
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../backend/onnxNode.ts';
import { tensor, type Backend, type TensorData } from '../backend/types.ts';
import type { Vec3, Volume } from '../geometry/volume.ts';
import { loadBundleFromDir } from '../node/files.ts';
import { generatePhantom, type Phantom } from '../phantom/generate.ts';
import type { ModelBundle } from '../pipeline/bundle.ts';
import { Vista3dPipeline, type FeatureCache } from '../pipeline/segment.ts';
import { evalCases, phantomOptions } from './cases.ts';
import { correctiveClicks, deepestVoxel, dice, nextClick, type Click } from './metrics.ts';
import { timeIt } from './measure.ts';
import { checkParity, type ParityReference } from './parity.ts';
import { loadHeadCT } from '../../test/support/realData.ts';
import { runIfMain } from '../node/cli.ts';

/** Ground-truth label of a phantom voxel as the demo model names it: lobes → 20 (lung), vertebrae → 21 (bone). */
export function mergedLabel(l: number): number {
  if (l >= 28 && l <= 32) return 20;
  if (l >= 33 && l <= 56) return 21;
  return l;
}

/** Label id of point prompts on lesions: the first "new structure" id (no class covers lesions). */
export const LESION_PROMPT_ID = 133;

const TARGETS = { meanClassDice: 0.8, minClassDice: 0.6, oneClick: 0.75, threeClicks: 0.8, orientationDelta: 0.02, headClaim: 0.05, pointToEncoder: 0.2 };

export interface VolumeResult {
  case: string;
  kind: string;
  seed: number;
  grid: string;
  voxels: number;
  /** Class-prompt segmentation of the supported labels: wall time (ms) and windows. */
  classMs: number;
  windows: number;
  /** Dice per supported label present in the truth. */
  dice: Record<number, number>;
  /** Fraction of body voxels (HU > −300) labelled as any supported class, and per label. */
  claim: number;
  claimByLabel: Record<number, number>;
  /**
   * `three`: 3 clicks, each correction placed on the result shown (2nd: deepest error; 3rd: deepest over-segmentation
   * unless the 2nd was negative); `noNegative`: nothing over-segmented was left for the 3rd click.
   * `threeFromOne`: both corrections (+1 positive, +1 negative) placed on the 1-click result (correctiveClicks).
   */
  lesions: { id: number; voxels: number; one: number; three: number; noNegative: boolean; threeFromOne: number; pointMs: number; cut: boolean; cutOneWindow: boolean; oneWindow: number }[];
  /**
   * Organs segmented by one click (at the organ's deepest voxel, and near its edge: the deepest voxel of its outer
   * 15 mm shell): Dice with neighbouring windows run where the structure reaches an inner window edge (`grown`) and
   * with the click windows only (`oneWindow`); `cut`: the result still touches an inner window edge.
   */
  organClicks: { id: number; where: 'deep' | 'edge'; grown: number; oneWindow: number; cut: boolean; cutOneWindow: boolean }[];
}

class MapCache implements FeatureCache {
  private readonly map = new Map<string, TensorData>();
  get(k: string) {
    return this.map.get(k);
  }
  set(k: string, f: TensorData) {
    this.map.set(k, f);
  }
}

function bodyClaim(image: Volume, labels: Uint8Array, supported: Set<number>): { claim: number; claimByLabel: Record<number, number> } {
  let body = 0;
  let claimed = 0;
  const byLabel: Record<number, number> = {};
  for (let o = 0; o < labels.length; o++) {
    if (image.data[o] <= -300) continue;
    body++;
    if (supported.has(labels[o])) {
      claimed++;
      byLabel[labels[o]] = (byLabel[labels[o]] ?? 0) + 1;
    }
  }
  for (const k of Object.keys(byLabel)) byLabel[Number(k)] /= Math.max(1, body);
  return { claim: body ? claimed / body : 0, claimByLabel: byLabel };
}

/** Segments one volume with every supported class, then each lesion with 1 and 3 clicks. */
export async function evaluateVolume(pipeline: Vista3dPipeline, name: string, phantom: Phantom | null, image: Volume): Promise<VolumeResult> {
  const m = pipeline.manifest;
  const supported = new Set(m.supportedLabels ?? []);
  const cache = new MapCache();
  const t0 = performance.now();
  const res = await pipeline.segment(image, { classes: [...supported] }, { featureCache: cache });
  const classMs = performance.now() - t0;
  const pred = res.labels.data;
  const n = pred.length;
  const out: VolumeResult = {
    case: name, kind: phantom?.kind ?? 'real', seed: phantom?.seed ?? -1, grid: `${image.dims.join('×')} @ ${image.spacing.map((s) => +s.toFixed(2)).join('×')}`,
    voxels: n, classMs, windows: res.timings.windows, dice: {}, ...bodyClaim(image, pred, supported), lesions: [], organClicks: [],
  };
  if (!phantom) return out;
  const truth = new Uint8Array(n);
  for (let o = 0; o < n; o++) truth[o] = mergedLabel(phantom.labels.data[o]);
  for (const id of supported) {
    const d = dice(n, (o) => truth[o] === id, (o) => pred[o] === id);
    let present = false;
    for (let o = 0; o < n && !present; o++) present = truth[o] === id;
    if (present) out.dice[id] = d;
  }
  const dims = image.dims as Vec3;
  const spacing = image.spacing as Vec3;
  for (const lesion of phantom.lesions) {
    const mask = new Uint8Array(n);
    for (let o = 0; o < n; o++) if (phantom.lesionMask.data[o] === lesion.id) mask[o] = 1;
    const first = deepestVoxel(mask, dims, spacing);
    if (!first) continue;
    const run = async (clicks: Click[], maxPointWindows?: number) => {
      const r = await pipeline.segment(
        image,
        { points: { [LESION_PROMPT_ID]: clicks.map((c) => c.point) }, pointLabels: { [LESION_PROMPT_ID]: clicks.map((c) => c.label) } },
        { featureCache: cache, maxPointWindows },
      );
      const got = new Uint8Array(n);
      for (let o = 0; o < n; o++) if (r.labels.data[o] === LESION_PROMPT_ID) got[o] = 1;
      return { got, ms: r.timings.inferenceMs, cut: r.timings.pointCut === true };
    };
    const c1: Click = { point: first, label: 1 };
    const one = await run([c1]);
    const oneWindow = await run([c1], 1);
    const fromOne = await run([c1, ...correctiveClicks(mask, one.got, dims, spacing, first)]);
    // the simulated user corrects what is on screen, one click at a time, and at least once with a negative click
    let shown = one.got;
    const clicks: Click[] = [c1];
    let noNegative = false;
    for (let k = 0; k < 2; k++) {
      const needNegative = k === 1 && !clicks.some((c) => c.label === 0);
      const c = nextClick(mask, shown, dims, spacing, needNegative ? 0 : undefined);
      if (!c) {
        noNegative ||= needNegative || k === 0;
        break;
      }
      clicks.push(c);
      shown = (await run(clicks)).got;
    }
    out.lesions.push({
      id: lesion.id,
      voxels: lesion.voxels,
      one: dice(n, (o) => mask[o] === 1, (o) => one.got[o] === 1),
      three: dice(n, (o) => mask[o] === 1, (o) => shown[o] === 1),
      noNegative,
      threeFromOne: dice(n, (o) => mask[o] === 1, (o) => fromOne.got[o] === 1),
      pointMs: one.ms,
      cut: one.cut,
      cutOneWindow: oneWindow.cut,
      oneWindow: dice(n, (o) => mask[o] === 1, (o) => oneWindow.got[o] === 1),
    });
  }
  // organs by one click, deep inside and near the edge: a structure larger than a window must not be cut by it
  for (const id of supported) {
    if (!(id in out.dice) || m.noPointPrompts.includes(id)) continue;
    const organ = new Uint8Array(n);
    for (let o = 0; o < n; o++) if (truth[o] === id) organ[o] = 1;
    const deep = deepestVoxel(organ, dims, spacing);
    if (!deep) continue;
    const shell = outerShell(organ, dims, spacing, 15);
    const edge = deepestVoxel(shell, dims, spacing) ?? deep;
    for (const [where, click] of [['deep', deep], ['edge', edge]] as const) {
      const once = async (maxPointWindows?: number) => {
        const r = await pipeline.segment(image, { points: { [id]: [click] } }, { featureCache: cache, maxPointWindows });
        return { d: dice(n, (o) => organ[o] === 1, (o) => r.labels.data[o] === id), cut: r.timings.pointCut === true };
      };
      const grown = await once();
      const single = await once(1);
      out.organClicks.push({ id, where, grown: grown.d, oneWindow: single.d, cut: grown.cut, cutOneWindow: single.cut });
    }
  }
  return out;
}

/** The voxels of `mask` within `mm` of its outside (erosion by distance, axis-aligned steps): its outer shell. */
function outerShell(mask: Uint8Array, dims: Vec3, spacing: Vec3, mm: number): Uint8Array {
  const steps = spacing.map((s) => Math.max(1, Math.round(mm / s)));
  const out = new Uint8Array(mask.length);
  const [nx, ny, nz] = dims;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const o = i + nx * (j + ny * k);
        if (!mask[o]) continue;
        const at = (x: number, y: number, z: number) => x >= 0 && y >= 0 && z >= 0 && x < nx && y < ny && z < nz && mask[x + nx * (y + ny * z)] === 1;
        if (!at(i - steps[0], j, k) || !at(i + steps[0], j, k) || !at(i, j - steps[1], k) || !at(i, j + steps[1], k) || !at(i, j, k - steps[2]) || !at(i, j, k + steps[2])) out[o] = 1;
      }
  return out;
}

/**
 * Median ms per window of each graph on one random patch (encoder; class head with every supported class; point head
 * with 1 and 3 clicks), after two warm-up runs each: medians, since a shared 2-core machine adds outliers.
 */
export async function graphCosts(bundle: ModelBundle, backend: Backend, repeats = 15): Promise<{ encoder: number; classHead: number; point1: number; point3: number }> {
  const m = bundle.manifest;
  const g = m.graphs;
  const roi = m.inference.roiSize;
  const size = roi[0] * roi[1] * roi[2];
  const enc = await backend.loadGraph(bundle.graphs.encoder, 'encoder');
  const ch = await backend.loadGraph(bundle.graphs.classHead, 'classHead');
  const ph = await backend.loadGraph(bundle.graphs.pointHead, 'pointHead');
  try {
    const image = tensor('float32', Float32Array.from({ length: size }, (_, i) => (Math.sin(i * 0.37) + 1) / 2), [1, 1, ...roi]);
    const time = async (f: () => Promise<unknown>) => (await timeIt(f, repeats, 2)).median;
    let features = (await enc.run({ [g.encoder.inputs.image]: image }))[g.encoder.outputs.features];
    const encoder = await time(async () => (features = (await enc.run({ [g.encoder.inputs.image]: image }))[g.encoder.outputs.features]));
    const ids = (m.supportedLabels ?? []).slice(0, m.inference.maxClassesPerRun);
    const classHead = await time(() => ch.run({ [g.classHead.inputs.features]: features, [g.classHead.inputs.classVector]: tensor(m.inference.classVectorType, ids, [ids.length, 1]) }));
    const point = (k: number) => () =>
      ph.run({
        [g.pointHead.inputs.features]: features,
        [g.pointHead.inputs.pointCoords]: tensor('float32', Array.from({ length: 3 * k }, (_, i) => (roi[i % 3] * (1 + (i % 5))) / 7), [1, k, 3]),
        [g.pointHead.inputs.pointLabels]: tensor(m.inference.pointLabelsType, Array.from({ length: k }, (_, i) => (i === k - 1 && k > 1 ? 0 : 1)), [1, k]),
        [g.pointHead.inputs.classVector]: tensor(m.inference.classVectorType, [LESION_PROMPT_ID], [1, 1]),
      });
    return { encoder, classHead, point1: await time(point(1)), point3: await time(point(3)) };
  } finally {
    await Promise.all([enc.dispose(), ch.dispose(), ph.dispose()]);
  }
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '  – ');
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '  – ');
const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');

export interface EvalOptions {
  bundleDir: string;
  quick: boolean;
  threads?: number;
  headCT: boolean;
  log: (s: string) => void;
}

export async function runEval(o: EvalOptions): Promise<void> {
  const { log } = o;
  const bundle = await loadBundleFromDir(o.bundleDir);
  const backend = createBackend({ device: 'cpu', threads: o.threads });
  const m = bundle.manifest;
  const names = (id: number) => m.labels[String(id)] ?? String(id);
  log(`model "${m.name}" ${m.version} from ${relative(process.cwd(), o.bundleDir) || '.'}: spacing ${m.preprocessing.spacing.join('×')} mm, ROI ${m.inference.roiSize.join('×')}, overlap ${m.inference.overlap}`);
  try {
    const ref = JSON.parse(readFileSync(resolve(o.bundleDir, 'parity.json'), 'utf8')) as ParityReference;
    const p = await checkParity(bundle, ref, backend);
    log(`onnxruntime vs torch (parity.json), max |Δ|: features ${p.features.toExponential(1)}, class logits ${p.classLogits.toExponential(1)}, point logits ${p.pointLogits.toExponential(1)}`);
  } catch (e) {
    log(`parity check skipped: ${(e as Error).message}`);
  }
  const pipeline = await Vista3dPipeline.create(bundle, backend);
  const results: VolumeResult[] = [];
  try {
    for (const c of evalCases(o.quick)) {
      const name = `${c.kind}-${c.seed} ${c.grid.name}`;
      const phantom = generatePhantom(phantomOptions(c));
      const r = await evaluateVolume(pipeline, name, phantom, phantom.image);
      results.push(r);
      const d = Object.values(r.dice);
      log(`  ${name.padEnd(52)} ${r.grid.padEnd(24)} ${(r.classMs / 1000).toFixed(1).padStart(5)} s, ${r.windows} windows` +
        (d.length ? `, mean Dice ${f3(mean(d))}` : `, claims ${(100 * r.claim).toFixed(2)}% of the body`) +
        (r.lesions.length ? `, lesions 1 click ${f2(mean(r.lesions.map((l) => l.one)))} / 3 clicks ${f2(mean(r.lesions.map((l) => l.three)))}` : ''));
    }
    if (o.headCT) {
      try {
        const ct = loadHeadCT();
        const r = await evaluateVolume(pipeline, 'real head CT (InVesalius Cranium)', null, ct);
        results.push(r);
        log(`  ${r.case.padEnd(52)} ${r.grid.padEnd(24)} ${(r.classMs / 1000).toFixed(1).padStart(5)} s, ${r.windows} windows, claims ${(100 * r.claim).toFixed(2)}% of the body`);
      } catch (e) {
        log(`  real head CT skipped: ${(e as Error).message}`);
      }
    }
  } finally {
    await pipeline.dispose();
  }
  const costs = await graphCosts(bundle, backend);

  const torso = results.filter((r) => r.kind === 'torso');
  const ids = (m.supportedLabels ?? []).filter((id) => torso.some((r) => id in r.dice));
  log('\nclass prompts, Dice per label (held-out torso phantoms, all grids):');
  log(`  ${'label'.padEnd(24)} ${'mean'.padStart(6)} ${'min'.padStart(6)}  n`);
  const perLabel = ids.map((id) => {
    const v = torso.filter((r) => id in r.dice).map((r) => r.dice[id]);
    return { id, mean: mean(v), min: Math.min(...v), n: v.length };
  });
  for (const l of perLabel) log(`  ${`${l.id} ${names(l.id)}`.padEnd(24)} ${f3(l.mean).padStart(6)} ${f3(l.min).padStart(6)}  ${l.n}`);
  const meanDice = mean(perLabel.map((l) => l.mean));
  const worst = perLabel.reduce((a, b) => (b.mean < a.mean ? b : a), perLabel[0]);

  const lesions = torso.flatMap((r) => r.lesions);
  const one = mean(lesions.map((l) => l.one));
  const three = mean(lesions.map((l) => l.three));
  const threeFromOne = mean(lesions.map((l) => l.threeFromOne));
  const worse = lesions.filter((l) => l.three < l.one - 1e-9).length;
  const worseFromOne = lesions.filter((l) => l.threeFromOne < l.one - 1e-9).length;
  log(`\npoint prompts on lesions (id ${LESION_PROMPT_ID}, "new structure"), ${lesions.length} lesions, ${Math.round(mean(lesions.map((l) => l.voxels)))} voxels on average:`);
  log(`  1 positive click                                         Dice ${f3(one)}`);
  log(`  3 clicks, each on the result shown (one negative)        Dice ${f3(three)}   (worse than 1 click on ${worse} of ${lesions.length}; nothing over-segmented left for a negative on ${lesions.filter((l) => l.noNegative).length})`);
  log(`  3 clicks, both on the 1-click result (+1 pos, +1 neg)    Dice ${f3(threeFromOne)}   (worse than 1 click on ${worseFromOne} of ${lesions.length})`);
  for (const [lo, hi] of [[0, 100], [100, 1000], [1000, Infinity]]) {
    const s = lesions.filter((l) => l.voxels >= lo && l.voxels < hi);
    if (s.length) log(`    lesions of ${lo}–${hi === Infinity ? '∞' : hi} voxels: n ${s.length}, 1 click ${f3(mean(s.map((l) => l.one)))}, 3 clicks ${f3(mean(s.map((l) => l.three)))} / ${f3(mean(s.map((l) => l.threeFromOne)))}`);
  }

  // box cuts: results that still reach an inner window edge, with neighbouring windows (goal 0) and without
  const organs = torso.flatMap((r) => r.organClicks);
  log(`\npoint prompts cut by a window edge (a result touching an inner window edge; goal 0), neighbouring windows run vs the click windows only:`);
  log(`  lesions, 1 click: ${lesions.filter((l) => l.cut).length} of ${lesions.length} cut (Dice ${f3(one)}) vs ${lesions.filter((l) => l.cutOneWindow).length} (Dice ${f3(mean(lesions.map((l) => l.oneWindow)))})`);
  for (const where of ['deep', 'edge'] as const) {
    const o = organs.filter((x) => x.where === where);
    log(`  organs, 1 click ${where === 'deep' ? 'at the deepest voxel' : 'near the edge (outer 15 mm)'}: ${o.filter((x) => x.cut).length} of ${o.length} cut (Dice ${f3(mean(o.map((x) => x.grown)))}) vs ${o.filter((x) => x.cutOneWindow).length} (Dice ${f3(mean(o.map((x) => x.oneWindow)))})`);
  }

  const deltas: number[] = [];
  const perSeed = new Map<number, VolumeResult[]>();
  for (const r of torso) perSeed.set(r.seed, [...(perSeed.get(r.seed) ?? []), r]);
  const deltaPerLabel = new Map<number, number[]>();
  for (const rs of perSeed.values()) {
    if (rs.length < 2) continue;
    const [a, b] = rs;
    for (const id of ids) {
      if (!(id in a.dice) || !(id in b.dice)) continue;
      const d = Math.abs(a.dice[id] - b.dice[id]);
      deltas.push(d);
      deltaPerLabel.set(id, [...(deltaPerLabel.get(id) ?? []), a.dice[id] - b.dice[id]]);
    }
  }
  const meanDelta = mean([...deltaPerLabel.values()].map((v) => Math.abs(mean(v))));
  log(`\norientation: same seeds stored axial RAS vs permuted+flipped (${[...perSeed.values()].filter((v) => v.length > 1).length} pairs):`);
  log(`  |ΔDice| per label and volume: mean ${f3(mean(deltas))}, max ${f3(Math.max(...deltas))};  |mean ΔDice| per label: mean ${f3(meanDelta)}`);
  const meanClassDelta = (() => {
    const v: number[] = [];
    for (const rs of perSeed.values()) if (rs.length > 1) v.push(Math.abs(mean(Object.values(rs[0].dice)) - mean(Object.values(rs[1].dice))));
    return mean(v);
  })();
  log(`  |Δ mean class Dice| per volume pair: ${f3(meanClassDelta)}`);

  const claims = results.filter((r) => r.kind !== 'torso');
  log('\nclaims outside a torso (fraction of body voxels, HU > −300, labelled as any supported class):');
  for (const r of claims) {
    const top = Object.entries(r.claimByLabel).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([id, f]) => `${names(Number(id))} ${(100 * f).toFixed(1)}%`);
    log(`  ${r.case.padEnd(52)} ${(100 * r.claim).toFixed(2)}%${top.length ? ` (${top.join(', ')})` : ''}`);
  }

  const windowsMs = mean(results.map((r) => r.classMs / r.windows));
  log('\ntime:');
  log(`  class prompts (all ${m.supportedLabels?.length} labels), per volume: mean ${(mean(results.map((r) => r.classMs)) / 1000).toFixed(2)} s, ${Math.round(windowsMs)} ms per window`);
  log(`  point prompt after the class run (encoder features cached), per prompt: ${Math.round(mean(lesions.map((l) => l.pointMs)))} ms`);
  log(`  per window: encoder ${costs.encoder.toFixed(1)} ms, class head (${Math.min(m.supportedLabels?.length ?? 0, m.inference.maxClassesPerRun)} classes) ${costs.classHead.toFixed(1)} ms, point head ${costs.point1.toFixed(1)} ms (1 click) / ${costs.point3.toFixed(1)} ms (3 clicks)`);

  const ratio = costs.point3 / costs.encoder;
  const realHead = claims.find((r) => r.kind === 'real');
  log('\ntargets:');
  log(`  mean class Dice ≥ ${TARGETS.meanClassDice}: ${f3(meanDice)} ${mark(meanDice >= TARGETS.meanClassDice)}`);
  if (worst) log(`  every label ≥ ${TARGETS.minClassDice}: lowest ${names(worst.id)} ${f3(worst.mean)} ${mark(worst.mean >= TARGETS.minClassDice)}`);
  log(`  lesions 1 click ≥ ${TARGETS.oneClick}: ${f3(one)} ${mark(one >= TARGETS.oneClick)}`);
  log(`  lesions 3 clicks ≥ ${TARGETS.threeClicks} and ≥ 1 click on average, clicks on the result shown: ${f3(three)} ${mark(three >= TARGETS.threeClicks && three >= one)}`);
  log(`  the same, both corrections on the 1-click result: ${f3(threeFromOne)} ${mark(threeFromOne >= TARGETS.threeClicks && threeFromOne >= one)}`);
  log(`  point head ≤ ${TARGETS.pointToEncoder} × encoder per window: ${ratio.toFixed(2)} (3 clicks) ${mark(ratio <= TARGETS.pointToEncoder)}`);
  log(`  orientation |Δ mean class Dice| < ${TARGETS.orientationDelta}: ${f3(meanClassDelta)} ${mark(meanClassDelta < TARGETS.orientationDelta)}`);
  if (realHead) log(`  real head CT claims < ${100 * TARGETS.headClaim}% of the body: ${(100 * realHead.claim).toFixed(2)}% ${mark(realHead.claim < TARGETS.headClaim)}`);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      bundle: { type: 'string', default: 'models/bundles/phantom' },
      quick: { type: 'boolean', default: false },
      threads: { type: 'string' },
      'no-head-ct': { type: 'boolean', default: false },
    },
  });
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) throw new Error(`--threads must be a positive integer, got ${values.threads}`);
  await runEval({ bundleDir: resolve(values.bundle), quick: values.quick, threads, headCT: !values['no-head-ct'], log: (s) => console.log(s) });
  return 0;
}

runIfMain(import.meta.url, main);
