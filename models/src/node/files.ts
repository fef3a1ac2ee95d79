import { randomBytes } from 'node:crypto';
import { readdir, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, isAbsolute, sep } from 'node:path';
import { InvalidImageError, LimitExceededError } from '../errors.ts';
import type { Volume } from '../geometry/volume.ts';
import { readDicomSeriesWithInfo, type DicomInput, type DicomSeries } from '../io/dicom.ts';
import { detectFormat, readVolumeBytes } from '../io/format.ts';
import { resolveLimits, type ReadLimits } from '../io/limits.ts';
import { loadBundle, type ModelBundle } from '../pipeline/bundle.ts';

/**
 * Node-only file access for the pipeline: volumes from files and DICOM folders, atomic writes, bundles from
 * folders, and the path containment check that every caller-supplied path goes through.
 */

/** True when `path` (already resolved with realpath) is `root` or lies below it. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

/** realpath of `path` if it lies (after symlinks) inside one of `roots` (themselves realpath'd), else null. */
export async function resolveInside(path: string, roots: readonly string[]): Promise<string | null> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return null;
  }
  for (const r of roots) {
    const root = await realpath(r).catch(() => null);
    if (root && isInside(root, real)) return real;
  }
  return null;
}

export interface ReadVolumeFileOptions {
  limits?: Partial<ReadLimits>;
  /** Folders a detached NRRD data file may come from (after symlinks); none = detached data refused. */
  dataFileRoots?: readonly string[];
  signal?: AbortSignal;
}

export interface VolumeFile {
  volume: Volume;
  format: 'nifti' | 'nrrd' | 'dicom';
  /** For a DICOM folder: SOPInstanceUID of each k-slice, and the series UIDs. */
  dicom?: { sopInstanceUids: string[]; seriesInstanceUid: string; studyInstanceUid: string };
}

/**
 * Reads a NIfTI/NRRD file, or a folder of DICOM slices, into a Volume (i fastest, LPS mm). Sizes are checked
 * against `limits` before any file is read whole.
 */
export async function readVolumeFile(path: string, options: ReadVolumeFileOptions = {}): Promise<VolumeFile> {
  const limits = resolveLimits(options.limits);
  const st = await stat(path);
  if (st.isDirectory()) {
    const names = (await readdir(path)).filter((n) => !n.startsWith('.')).sort();
    const files: DicomInput[] = [];
    let total = 0;
    for (const name of names) {
      const p = join(path, name);
      const s = await stat(p);
      if (!s.isFile()) continue;
      total += s.size;
      if (total > limits.maxDecompressedBytes) throw new LimitExceededError('maxDecompressedBytes', total, limits.maxDecompressedBytes, `DICOM folder ${basename(path)} holds more bytes than allowed`);
      files.push({ name, bytes: new Uint8Array(await readFile(p, { signal: options.signal })) });
    }
    if (!files.length) throw new InvalidImageError(`folder ${basename(path)} holds no files`);
    return fromSeries(readDicomSeriesWithInfo(files, { limits }));
  }
  if (st.size > limits.maxDecompressedBytes) throw new LimitExceededError('maxDecompressedBytes', st.size, limits.maxDecompressedBytes, `file ${basename(path)} is larger than allowed`);
  const bytes = new Uint8Array(await readFile(path, { signal: options.signal }));
  const format = detectFormat(path);
  if (format === 'dicom') return fromSeries(readDicomSeriesWithInfo([{ name: basename(path), bytes }], { limits }));
  const roots = options.dataFileRoots ?? [];
  const dataFiles = new Map<string, Uint8Array>();
  // A detached NRRD names its data file; read it (if allowed) before the synchronous parser asks for it.
  const header = new TextDecoder().decode(bytes.subarray(0, Math.min(bytes.length, 65536)));
  const m = /^data ?file:\s*(.+)$/im.exec(header);
  if (m && roots.length) {
    const name = m[1].trim();
    const real = await resolveInside(join(dirname(path), name), roots);
    if (real) {
      const s = await stat(real);
      if (s.size > limits.maxDecompressedBytes) throw new LimitExceededError('maxDecompressedBytes', s.size, limits.maxDecompressedBytes, `NRRD data file ${name} is larger than allowed`);
      dataFiles.set(name, new Uint8Array(await readFile(real, { signal: options.signal })));
    }
  }
  const volume = readVolumeBytes(bytes, basename(path), {
    limits,
    resolveDataFile: roots.length
      ? (name) => {
          const b = dataFiles.get(name.trim());
          if (!b) throw new InvalidImageError(`detached NRRD data file ${JSON.stringify(name)} is missing or lies outside the allowed folders`);
          return b;
        }
      : undefined,
  });
  // readVolumeBytes has refused every other name
  return { volume, format: format === 'nrrd' ? 'nrrd' : 'nifti' };
}

function fromSeries(s: DicomSeries): VolumeFile {
  return { volume: s.volume, format: 'dicom', dicom: { sopInstanceUids: s.sopInstanceUids, seriesInstanceUid: s.seriesInstanceUid, studyInstanceUid: s.studyInstanceUid } };
}

/** Writes `bytes` to `path` atomically: a temporary file beside it, then a rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, bytes, { flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Loads a model bundle from a folder holding `model.json` and its ONNX files. */
export function loadBundleFromDir(dir: string): Promise<ModelBundle> {
  return loadBundle(async (name) => new Uint8Array(await readFile(join(dir, name))), dir);
}
