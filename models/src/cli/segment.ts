#!/usr/bin/env -S node --import tsx
/**
 * Segments an image file to a label-map file, without a viewer:
 *   npm run segment -- ct.nii.gz --classes liver,spleen -o seg.nii.gz
 *   npm run segment -- ct.nii.gz --label spleen --points "120,200,60;118,190,61" --negative "90,200,60" -o seg.nii.gz
 * Input: .nii/.nii.gz, .nrrd/.nhdr or a folder of DICOM slices. Output: NIfTI or NRRD (by extension) on exactly
 * the input's grid, values = global VISTA3D label indices, 255 where nothing was processed.
 */
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../backend/onnxNode.ts';
import { detectFormat, writeVolumeBytes } from '../io/format.ts';
import type { Prompts } from '../pipeline/prompts.ts';
import { Vista3dPipeline, type Progress } from '../pipeline/segment.ts';
import { loadBundleFromDir, readVolumeFile, writeFileAtomic } from '../node/files.ts';
import { runIfMain } from '../node/cli.ts';

const USAGE = `usage: segment <image> -o <output> [--model <bundle folder>] [--classes a,b,…]
               [--label <name|index> --points "x,y,z;x,y,z" [--negative "x,y,z;…"]]
               [--device auto|cpu|cuda|webgpu] [--threads N]
  Points are voxel indices [i, j, k] of the input image. No prompts = the model's "everything" set.`;

export const DEFAULT_MODEL_DIR = resolve(dirname(new URL(import.meta.url).pathname), '../../bundles/phantom');

function parsePoints(s: string | undefined, flag: string): number[][] {
  if (!s) return [];
  return s.split(';').map((p) => {
    const v = p.split(',').map((x) => Number(x.trim()));
    if (v.length !== 3 || !v.every(Number.isInteger)) throw new Error(`${flag}: ${JSON.stringify(p)} is not "x,y,z" with integer voxel indices`);
    return v;
  });
}

export function promptsFromArgs(values: { classes?: string; label?: string; points?: string; negative?: string }): Prompts | undefined {
  const prompts: Prompts = {};
  if (values.classes !== undefined) prompts.classes = values.classes.split(',').map((c) => c.trim()).filter(Boolean);
  const pos = parsePoints(values.points, '--points');
  const neg = parsePoints(values.negative, '--negative');
  if (pos.length || neg.length) {
    const label = values.label ?? (prompts.classes?.length === 1 ? String(prompts.classes[0]) : undefined);
    if (!label) throw new Error('--points needs --label (the structure the clicks are on)');
    prompts.points = { [label]: [...pos, ...neg] };
    prompts.pointLabels = { [label]: [...pos.map(() => 1), ...neg.map(() => 0)] };
  }
  return Object.keys(prompts).length ? prompts : undefined;
}

function progressBar(p: Progress): void {
  if (!process.stderr.isTTY && p.stage === 'inference' && p.done !== p.total && p.done % 10 !== 0) return;
  const width = 30;
  const frac = p.total ? p.done / p.total : 1;
  const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
  const line = `${p.stage.padEnd(11)} ${bar} ${p.done}/${p.total}`;
  process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
  if (p.stage === 'done' && process.stderr.isTTY) process.stderr.write('\n');
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      model: { type: 'string', short: 'm' },
      classes: { type: 'string', short: 'c' },
      label: { type: 'string', short: 'l' },
      points: { type: 'string', short: 'p' },
      negative: { type: 'string', short: 'n' },
      device: { type: 'string', default: 'auto' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1 || !values.output) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const input = positionals[0];
  const output = values.output;
  const format = detectFormat(output);
  if (format !== 'nifti' && format !== 'nrrd') throw new Error(`-o ${output}: the output must end in .nii, .nii.gz or .nrrd`);
  const prompts = promptsFromArgs(values);
  const backend = createBackend({ device: values.device, threads: values.threads ? Number(values.threads) : undefined, onWarning: (m) => console.error(`warning: ${m}`) });
  const modelDir = values.model ?? DEFAULT_MODEL_DIR;
  const pipeline = await Vista3dPipeline.create(await loadBundleFromDir(modelDir), backend);
  try {
    const { volume } = await readVolumeFile(input, { dataFileRoots: [dirname(resolve(input))] });
    console.error(`${basename(input)}: ${volume.dims.join('×')} voxels, spacing ${volume.spacing.map((s) => s.toFixed(3)).join('×')} mm; model ${pipeline.manifest.name} ${pipeline.manifest.version} on ${pipeline.device}`);
    const r = await pipeline.segment(volume, prompts, { onProgress: progressBar });
    await writeFileAtomic(output, writeVolumeBytes(r.labels, format, { gzip: !/\.nii$/i.test(output) }));
    const counts = new Map<number, number>();
    for (const v of r.labels.data) if (v !== 0) counts.set(v, (counts.get(v) ?? 0) + 1);
    const summary = [...counts].sort((a, b) => a[0] - b[0]).map(([l, c]) => `${pipeline.labels.describe(l)}: ${c}`).join(', ');
    const t = r.timings;
    console.error(`wrote ${output} (${summary || 'nothing found'}) in ${(t.preprocessMs + t.inferenceMs + t.postprocessMs).toFixed(0)} ms (${t.windows} windows, ${t.runtimeMs.toFixed(0)} ms in ONNX Runtime)`);
    return 0;
  } finally {
    await pipeline.dispose();
  }
}

runIfMain(import.meta.url, main);
