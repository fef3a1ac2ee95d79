#!/usr/bin/env -S node --import tsx
/**
 * `npm run device-check -- --devices cpu,webgpu`: runs the bundled model (or `--model <dir>`) through the
 * server's pipeline on each device, on a held-out torso phantom, and prints which device really ran (a device
 * that cannot start falls back to the CPU), the time per segmentation (median of `--repeats` after a warm-up)
 * and how far each device's labels are from the first device's (voxels that differ, Dice per label).
 * For checking a GPU machine: the labels must agree with the CPU's, and the figures say what the GPU buys.
 */
import { parseArgs } from 'node:util';
import { createBackend } from '../models/src/backend/onnxNode.ts';
import { AXIAL_RAS, EVAL_SEED0, phantomOptions } from '../models/src/eval/cases.ts';
import { dice } from '../models/src/eval/metrics.ts';
import { loadBundleFromDir } from '../models/src/node/files.ts';
import { runIfMain } from '../models/src/node/cli.ts';
import { generatePhantom } from '../models/src/phantom/generate.ts';
import { Vista3dPipeline } from '../models/src/pipeline/segment.ts';
import { machine, timeIt } from '../models/src/eval/measure.ts';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { devices: { type: 'string', default: 'cpu,webgpu' }, model: { type: 'string', default: 'models/bundles/phantom' }, repeats: { type: 'string', default: '3' } },
  });
  const devices = values.devices.split(',').filter(Boolean);
  const repeats = Math.max(1, Number(values.repeats) || 3);
  console.log(`machine: ${machine()}`);
  const phantom = generatePhantom(phantomOptions({ seed: EVAL_SEED0, kind: 'torso', grid: AXIAL_RAS }));
  const image = phantom.image;
  const lesion = phantom.lesions[0];
  let reference: Uint8Array | null = null;
  for (const device of devices) {
    const warnings: string[] = [];
    const pipeline = await Vista3dPipeline.create(await loadBundleFromDir(values.model), createBackend({ device: device as never, onWarning: (w) => warnings.push(w) }));
    const classes = pipeline.manifest.supportedLabels ?? pipeline.manifest.everything;
    let labels: Uint8Array = new Uint8Array(0);
    const whole = await timeIt(async () => {
      labels = (await pipeline.segment(image, { classes })).labels.data;
    }, repeats);
    const click = await timeIt(() => pipeline.segment(image, { points: { 133: [lesion.centreIndex] } }), repeats);
    const ran = pipeline.device;
    let agreement = '';
    if (!reference) reference = labels;
    else {
      let differ = 0;
      for (let o = 0; o < labels.length; o++) if (labels[o] !== reference[o]) differ++;
      const ref = reference;
      const per = classes.map((id) => dice(labels.length, (o) => ref[o] === id, (o) => labels[o] === id)).filter((d) => !Number.isNaN(d));
      agreement = `; vs ${devices[0]}: ${differ} of ${labels.length} voxels differ, Dice per label min ${Math.min(...per).toFixed(4)}`;
    }
    console.log(
      `${device} → ran on ${ran}${warnings.length ? ` (${warnings.join('; ')})` : ''}: ${classes.length} classes ${whole.median.toFixed(0)} ms (min ${whole.min.toFixed(0)}), ` +
        `1 click ${click.median.toFixed(0)} ms${agreement}`,
    );
    await pipeline.dispose();
  }
  return 0;
}

runIfMain(import.meta.url, main);
