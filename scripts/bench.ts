/**
 * `npm run bench`: speed and memory, each figure a ratio against a baseline measured in the same run, printed
 * with the machine it ran on. Needs the real test data (`bash scripts/fetch-test-data.sh`).
 *   1. reading the real head CT: ours vs @itk-wasm/image-io (NIfTI .nii.gz and NRRD gzip);
 *   2. pipeline overhead on the head CT with a Conv3d-heavy model: total time / time inside ONNX Runtime;
 *   3. peak memory (max RSS) of one segmentation of the head CT vs a process that only reads it.
 * Extra sections come from bench files of the other packages (server/bench.ts) when present, and the browser vs
 * server section (scripts/bench-browser.ts: headless Chromium, Orthanc).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImageNode } from '@itk-wasm/image-io';
import { createBackend } from '../models/src/backend/onnxNode.ts';
import { readVolumeFile } from '../models/src/node/files.ts';
import { writeNifti } from '../models/src/io/nifti.ts';
import { writeNrrd } from '../models/src/io/nrrd.ts';
import { Vista3dPipeline } from '../models/src/pipeline/segment.ts';
import { convBundle } from '../models/test/support/convBundle.ts';
import { loadHeadCT } from '../models/test/support/realData.ts';
import { machine, timeIt } from '../models/src/eval/measure.ts';

const ROOT = new URL('..', import.meta.url).pathname;


const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function benchRead(dir: string): Promise<void> {
  const ct = loadHeadCT();
  console.log(`\n## 1. Reading the real head CT (${ct.dims.join('×')} int16), median of 7 — baseline: @itk-wasm/image-io`);
  const files = { 'NIfTI .nii.gz': join(dir, 'ct.nii.gz'), 'NRRD gzip': join(dir, 'ct.nrrd') };
  await writeFile(files['NIfTI .nii.gz'], writeNifti(ct));
  await writeFile(files['NRRD gzip'], writeNrrd(ct));
  for (const [label, path] of Object.entries(files)) {
    const ours = await timeIt(() => readVolumeFile(path), 7);
    const itk = await timeIt(() => readImageNode(path), 7);
    console.log(`${label.padEnd(14)} ours ${fmt(ours.median).padStart(9)}   itk-wasm ${fmt(itk.median).padStart(9)}   ours/itk = ${(ours.median / itk.median).toFixed(2)}`);
  }
}

async function benchOverhead(): Promise<void> {
  const ct = loadHeadCT();
  console.log('\n## 2. Pipeline overhead on the head CT (1.5 mm, ROI 64³, cpu) — baseline: time inside ONNX Runtime (goal ≤ 1.2 with a Conv3d-heavy model)');
  // heavy: 4 layers of 16-channel 3×3×3 convolutions (the goal's case); light: 3 layers of 8 (overhead shows most)
  for (const [label, o] of [['Conv3d-heavy 16×4', { channels: 16, layers: 4 }], ['light 8×3', { channels: 8, layers: 3 }]] as const) {
    const bundle = convBundle({ roi: 64, ...o });
    const p = await Vista3dPipeline.create(bundle, createBackend({ device: 'cpu' }));
    await p.segment(ct, { classes: [1, 3, 6] }); // warm-up
    const t0 = performance.now();
    const r = await p.segment(ct, { classes: [1, 3, 6] });
    const total = performance.now() - t0;
    const t = r.timings;
    console.log(`${label.padEnd(18)} class prompts (3 classes, ${t.windows} windows): total ${fmt(total)}, in ONNX Runtime ${fmt(t.runtimeMs)}, overhead ratio ${(total / t.runtimeMs).toFixed(3)}`);
    console.log(`${''.padEnd(18)} stages: preprocess ${fmt(t.preprocessMs)}, inference ${fmt(t.inferenceMs)}, postprocess ${fmt(t.postprocessMs)}`);
    const t1 = performance.now();
    const rp = await p.segment(ct, { points: { spleen: [[128, 128, 54]] } });
    const totalP = performance.now() - t1;
    console.log(`${''.padEnd(18)} point prompt (1 click, ${rp.timings.windows} window): total ${fmt(totalP)}, in ONNX Runtime ${fmt(rp.timings.runtimeMs)}, ratio ${(totalP / rp.timings.runtimeMs).toFixed(3)} (pre- and post-processing of the window's box)`);
    await p.dispose();
  }
}

function benchMemory(): void {
  console.log('\n## 3. Peak memory (max RSS of a child process) — baseline: a process that only reads the head CT');
  const run = (mode: string) => Number(execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench-memory.ts'), mode], { cwd: ROOT, encoding: 'utf8' }).trim());
  const base = run('read');
  const seg = run('segment');
  console.log(`read only ${(base / 1024).toFixed(0)} MiB   read + segment (3 classes) ${(seg / 1024).toFixed(0)} MiB   ratio ${(seg / base).toFixed(2)}   segmentation adds ${((seg - base) / 1024).toFixed(0)} MiB`);
}

async function main(): Promise<void> {
  console.log(`# vista3d-ohif bench — ${new Date().toISOString()}\nmachine: ${machine()}`);
  const dir = await mkdtemp(join(tmpdir(), 'vista3d-bench-'));
  try {
    await benchRead(dir);
    await benchOverhead();
    benchMemory();
    for (const extra of ['server/bench.ts', 'scripts/bench-browser.ts']) {
      if (!existsSync(join(ROOT, extra))) continue;
      const mod = (await import(join(ROOT, extra))) as { bench: () => Promise<void>; benchInteractive?: () => Promise<void>; benchScheduling?: () => Promise<void> };
      await mod.bench();
      await mod.benchInteractive?.();
      await mod.benchScheduling?.();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
