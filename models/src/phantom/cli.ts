#!/usr/bin/env -S node --import tsx
/**
 * Writes a synthetic CT phantom:
 *   npm run phantom -- --seed 7 --out data/phantoms
 *   npm run phantom -- --seed 7 --out dir --kind head --dims 128,128,64 --spacing 1.5,1.5,3 --format nifti
 * Output under <dir>: phantom-<seed>.nii.gz (HU), _labels (VISTA3D indices), _lesions (lesion ids), the same as
 * .nrrd, a DICOM CT series folder phantom-<seed>-dicom/, and phantom-<seed>.json (geometry, lesions).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Mat3, Vec3 } from '../geometry/volume.ts';
import type { PhantomKind } from './generate.ts';
import { PHANTOM_FILE_FORMATS, writePhantomFiles, type PhantomFileFormat } from './write.ts';
import { runIfMain } from '../node/cli.ts';

export { writePhantomFiles } from './write.ts';

const USAGE = `usage: phantom --seed N --out <dir> [--kind torso|head|empty] [--dims 160,128,96] [--spacing 2.5,2.5,3]
               [--direction r00,r01,…,r22] [--format nifti|nrrd|dicom|all] [--slice-order forward|reverse]
               [--lesions N] [--noise HU] [--blur mm]
  dims in voxels (i, j, k); spacing in mm; direction row-major, columns = LPS unit vectors of the index axes.`;

function numbers(s: string, count: number, flag: string): number[] {
  const v = s.split(',').map((x) => Number(x.trim()));
  if (v.length !== count || !v.every(Number.isFinite)) throw new Error(`${flag}: ${JSON.stringify(s)} is not ${count} comma-separated numbers`);
  return v;
}

function number(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isFinite(v)) throw new Error(`${flag}: ${JSON.stringify(s)} is not a number`);
  return v;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      out: { type: 'string', short: 'o' },
      kind: { type: 'string', default: 'torso' },
      dims: { type: 'string' },
      spacing: { type: 'string' },
      direction: { type: 'string' },
      format: { type: 'string', default: 'all' },
      'slice-order': { type: 'string', default: 'forward' },
      lesions: { type: 'string' },
      noise: { type: 'string' },
      blur: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || values.seed === undefined || !values.out) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const formats = values.format === 'all' ? PHANTOM_FILE_FORMATS : (values.format.split(',') as PhantomFileFormat[]);
  const sliceOrder = values['slice-order'];
  if (sliceOrder !== 'forward' && sliceOrder !== 'reverse') throw new Error(`--slice-order: expected forward or reverse, got ${JSON.stringify(sliceOrder)}`);
  const started = performance.now();
  const { phantom, paths } = await writePhantomFiles(values.out, {
    seed: number(values.seed, '--seed')!,
    kind: values.kind as PhantomKind,
    dims: values.dims ? (numbers(values.dims, 3, '--dims') as Vec3) : undefined,
    spacing: values.spacing ? (numbers(values.spacing, 3, '--spacing') as Vec3) : undefined,
    direction: values.direction ? (numbers(values.direction, 9, '--direction') as Mat3) : undefined,
    lesions: number(values.lesions, '--lesions'),
    noiseHU: number(values.noise, '--noise'),
    blurMm: number(values.blur, '--blur'),
    formats,
    sliceOrder,
  });
  const { dims, spacing } = phantom.image;
  console.error(
    `${phantom.kind} phantom, seed ${phantom.seed}: ${dims.join('×')} voxels at ${spacing.join('×')} mm, ` +
      `${phantom.lesions.length} lesion(s), ${(performance.now() - started).toFixed(0)} ms → ${resolve(values.out)}`,
  );
  for (const p of [paths.nifti?.image, paths.nrrd?.image, paths.dicom, paths.json]) if (p) console.error(`  ${p}`);
  return 0;
}

runIfMain(import.meta.url, main);
