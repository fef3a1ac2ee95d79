/**
 * Writes a phantom to disk (Node only): image, labels and lesion mask as NIfTI and/or NRRD, the image as a DICOM
 * CT series, and a JSON sidecar with the geometry, label volumes and lesions (centres in LPS mm and voxel
 * indices). The server builds its sample study with it; `npm run phantom` is its command line.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IDENTITY3, indexToWorld, type Mat3, type Vec3 } from '../geometry/volume.ts';
import { writeDicomSeries, type DicomFile } from '../io/dicomWrite.ts';
import { writeVolumeBytes } from '../io/format.ts';
import { writeFileAtomic } from '../node/files.ts';
import { generatePhantom, PHANTOM_DEFAULTS, type Phantom, type PhantomOptions } from './generate.ts';

export type PhantomFileFormat = 'nifti' | 'nrrd' | 'dicom';
export const PHANTOM_FILE_FORMATS: readonly PhantomFileFormat[] = ['nifti', 'nrrd', 'dicom'];

export interface WritePhantomOptions extends PhantomOptions {
  /** Default all three. */
  formats?: readonly PhantomFileFormat[];
  /** 'reverse' flips the k axis (slices run superior → inferior in every format); default 'forward'. */
  sliceOrder?: 'forward' | 'reverse';
  /** File stem; default `phantom-<seed>` for a torso, `phantom-<kind>-<seed>` otherwise. */
  name?: string;
}

export interface PhantomPaths {
  json: string;
  nifti?: { image: string; labels: string; lesions: string };
  nrrd?: { image: string; labels: string; lesions: string };
  /** Folder of `slice-NNNN.dcm` files (replaced as a whole). */
  dicom?: string;
}

/** Fixed study date, so the same options give byte-identical DICOM files. */
const STUDY_DATE = new Date(Date.UTC(2024, 0, 1, 12, 0, 0));

/**
 * Generates the phantom of `opts` and writes it under `dir` (created if missing). Volumes are written as they
 * are generated: i-fastest, LPS geometry in mm (NIfTI stores it as RAS, NRRD as its space directions).
 */
export async function writePhantomFiles(dir: string, opts: WritePhantomOptions): Promise<{ phantom: Phantom; paths: PhantomPaths }> {
  const formats = opts.formats ?? PHANTOM_FILE_FORMATS;
  for (const f of formats) if (!PHANTOM_FILE_FORMATS.includes(f)) throw new RangeError(`unknown format ${JSON.stringify(f)}: expected one of ${PHANTOM_FILE_FORMATS.join(', ')}`);
  const phantom = generatePhantom(opts.sliceOrder === 'reverse' ? reverseSlices(opts) : opts);
  const kind = phantom.kind;
  const stem = opts.name ?? (kind === 'torso' ? `phantom-${opts.seed}` : `phantom-${kind}-${opts.seed}`);
  const out = resolve(dir);
  await mkdir(out, { recursive: true });
  const paths: PhantomPaths = { json: join(out, `${stem}.json`) };

  for (const format of ['nifti', 'nrrd'] as const) {
    if (!formats.includes(format)) continue;
    const ext = format === 'nifti' ? '.nii.gz' : '.nrrd';
    const p = { image: join(out, `${stem}${ext}`), labels: join(out, `${stem}_labels${ext}`), lesions: join(out, `${stem}_lesions${ext}`) };
    await writeFileAtomic(p.image, writeVolumeBytes(phantom.image, format));
    await writeFileAtomic(p.labels, writeVolumeBytes(phantom.labels, format));
    await writeFileAtomic(p.lesions, writeVolumeBytes(phantom.lesionMask, format));
    paths[format] = p;
  }
  if (formats.includes('dicom')) {
    const folder = join(out, `${stem}-dicom`);
    const files = phantomDicomSeries(phantom);
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder);
    for (const f of files) await writeFile(join(folder, f.name), f.bytes);
    paths.dicom = folder;
  }
  await writeFileAtomic(paths.json, new TextEncoder().encode(`${JSON.stringify(describePhantom(phantom), null, 1)}\n`));
  return { phantom, paths };
}

/**
 * The phantom's image as a DICOM CT series (one file per k-slice, InstanceNumber in k order; see
 * writeDicomSeries for the geometry tags). UIDs derive from the seed, kind and grid, the date is fixed: the same
 * phantom gives byte-identical files. PatientName `Phantom^<seed>`, PatientID `PHANTOM-<seed>`.
 */
export function phantomDicomSeries(phantom: Phantom): DicomFile[] {
  const { image, kind, seed } = phantom;
  return writeDicomSeries(image, {
    seed: `phantom/${kind}/${seed}/${image.dims}/${image.spacing}/${image.direction}/${image.origin}`,
    patientName: `Phantom^${seed}`,
    patientId: `PHANTOM-${seed}`,
    seriesDescription: `Synthetic ${kind} phantom, seed ${seed}`,
    date: STUDY_DATE,
    window: kind === 'head' ? { center: 40, width: 80 } : { center: 40, width: 400 },
  });
}

/** The JSON sidecar: geometry (LPS mm), voxels per label, lesions (centres in LPS mm and [i, j, k]). */
export function describePhantom(phantom: Phantom) {
  const { dims, spacing, direction, origin } = phantom.image;
  const voxelsPerLabel: Record<string, number> = {};
  for (const l of phantom.labels.data) if (l) voxelsPerLabel[l] = (voxelsPerLabel[l] ?? 0) + 1;
  return { seed: phantom.seed, kind: phantom.kind, world: 'LPS', units: 'mm', dims, spacing, direction, origin, voxelsPerLabel, lesions: phantom.lesions };
}

/** The same field of view with the k axis reversed: direction column 2 negated, origin on the old last slice. */
function reverseSlices(opts: PhantomOptions): PhantomOptions {
  const d: Mat3 = [...(opts.direction ?? IDENTITY3)] as Mat3;
  for (const r of [2, 5, 8]) d[r] = -d[r];
  if (!opts.origin) return { ...opts, direction: d };
  const nz = (opts.dims ?? PHANTOM_DEFAULTS.dims)[2];
  const origin: Vec3 = indexToWorld({ spacing: opts.spacing ?? PHANTOM_DEFAULTS.spacing, direction: opts.direction ?? IDENTITY3, origin: opts.origin }, [0, 0, nz - 1]);
  return { ...opts, direction: d, origin };
}
