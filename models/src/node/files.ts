import { randomBytes } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, open, readdir, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, isAbsolute, sep } from 'node:path';
import { InvalidImageError, LimitExceededError } from '../errors.ts';
import type { Volume } from '../geometry/volume.ts';
import { readDicomSeriesWithInfoAsync, type DicomInput, type DicomSeries } from '../io/dicom.ts';
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
  /**
   * The caller's allowed folders (the server's IMAGE_ROOTS). Every other file read on behalf of `path` must lie
   * inside one of them after symlinks: a detached NRRD data file (none given: detached data refused) and each
   * member of a DICOM folder (none given: members are not confined).
   */
  dataFileRoots?: readonly string[];
  signal?: AbortSignal;
  /** Hears each geometry fallback the reader took (NIfTI qform for sform, …) and partial NaN data. */
  onWarning?: (message: string) => void;
}

export interface VolumeFile {
  volume: Volume;
  format: 'nifti' | 'nrrd' | 'dicom';
  /** For a DICOM folder: SOPInstanceUID of each k-slice, and the series UIDs. */
  dicom?: { sopInstanceUids: string[]; seriesInstanceUid: string; studyInstanceUid: string };
}

/**
 * Reads a NIfTI/NRRD file, or a folder of DICOM slices, into a Volume (i fastest, LPS mm). Sizes are checked
 * against `limits` before any file is read whole. Only regular files and folders are read: a FIFO, socket or
 * device is refused (InvalidImageError) before it is opened, since reading one would block a thread of the pool
 * for good (or never end); DICOM folder members that are not regular files are skipped without being opened.
 */
export async function readVolumeFile(path: string, options: ReadVolumeFileOptions = {}): Promise<VolumeFile> {
  const limits = resolveLimits(options.limits);
  const st = await stat(path);
  if (st.isDirectory()) return readDicomFolder(path, limits, options);
  refuseSpecial(st, `image ${basename(path)}`);
  if (st.size > limits.maxDecompressedBytes) throw new LimitExceededError('maxDecompressedBytes', st.size, limits.maxDecompressedBytes, `file ${basename(path)} is larger than allowed`);
  const bytes = await readRegularFile(path, `image ${basename(path)}`, limits.maxDecompressedBytes, options.signal);
  const format = detectFormat(path);
  if (format === 'dicom') return fromSeries(await readDicomSeriesWithInfoAsync([{ name: basename(path), bytes }], { limits, onWarning: options.onWarning }));
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
      refuseSpecial(s, `NRRD data file ${name}`);
      if (s.size > limits.maxDecompressedBytes) throw new LimitExceededError('maxDecompressedBytes', s.size, limits.maxDecompressedBytes, `NRRD data file ${name} is larger than allowed`);
      dataFiles.set(name, await readRegularFile(real, `NRRD data file ${name}`, limits.maxDecompressedBytes, options.signal));
    }
  }
  const volume = readVolumeBytes(bytes, basename(path), {
    limits,
    onWarning: options.onWarning,
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

/**
 * The slices of a DICOM folder (hidden names and anything but regular files skipped, never opened). With
 * `dataFileRoots`, a member that is a symlink must lead inside a root or inside the folder itself, else the folder
 * is refused naming the member. Dangling links are skipped.
 */
async function readDicomFolder(path: string, limits: ReadLimits, options: ReadVolumeFileOptions): Promise<VolumeFile> {
  const allowed = options.dataFileRoots?.length ? [...(await realRoots(options.dataFileRoots)), await realpath(path)] : null;
  const names = (await readdir(path)).filter((n) => !n.startsWith('.')).sort();
  const files: DicomInput[] = [];
  let total = 0;
  for (const name of names) {
    const member = join(path, name);
    let target = member;
    if (allowed && (await lstat(member)).isSymbolicLink()) {
      const real = await realpath(member).catch(() => null);
      if (real === null) continue;
      if (!allowed.some((r) => isInside(r, real))) {
        throw new InvalidImageError(`DICOM folder ${basename(path)}: member ${JSON.stringify(name)} leads (through a link) outside the allowed image folders`);
      }
      target = real;
    }
    const s = await stat(target).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null; // a dangling link, or gone since readdir
      throw e;
    });
    if (!s?.isFile()) continue; // subfolders, FIFOs, sockets, devices
    total += s.size;
    if (total > limits.maxDecompressedBytes) throw new LimitExceededError('maxDecompressedBytes', total, limits.maxDecompressedBytes, `DICOM folder ${basename(path)} holds more bytes than allowed`);
    // confined: the checked path is opened without following a link swapped in since
    files.push({ name, bytes: await readRegularFile(target, `DICOM folder member ${JSON.stringify(name)}`, limits.maxDecompressedBytes, options.signal, allowed !== null) });
  }
  if (!files.length) throw new InvalidImageError(`folder ${basename(path)} holds no files`);
  return fromSeries(await readDicomSeriesWithInfoAsync(files, { limits, onWarning: options.onWarning }));
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const real = await Promise.all(roots.map((r) => realpath(r).catch(() => null)));
  return real.filter((r): r is string => r !== null);
}

function kindOf(s: Stats): string {
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isDirectory()) return 'a folder';
  return 'not a regular file';
}

function refuseSpecial(s: Stats, what: string): void {
  if (!s.isFile()) throw new InvalidImageError(`${what} is ${kindOf(s)}; only regular files and DICOM folders are read`);
}

// Opening never waits (a FIFO swapped in after the stat opens at once and is then refused), and a terminal never
// becomes the process's controlling one. Windows has neither flag, nor O_NOFOLLOW.
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0) | (fsConstants.O_NOCTTY ?? 0);

/**
 * The bytes of a regular file, checked again on the open handle (the path may have changed since its stat).
 * `noFollow`: a symlink in place of the file's name is refused rather than followed.
 */
async function readRegularFile(path: string, what: string, maxBytes: number, signal?: AbortSignal, noFollow = false): Promise<Uint8Array> {
  const fh = await open(path, OPEN_FLAGS | (noFollow ? (fsConstants.O_NOFOLLOW ?? 0) : 0)).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ELOOP' ? new InvalidImageError(`${what} became a link while it was being read`) : e;
  });
  try {
    const s = await fh.stat();
    refuseSpecial(s, what);
    if (s.size > maxBytes) throw new LimitExceededError('maxDecompressedBytes', s.size, maxBytes, `${what} is larger than allowed`);
    return new Uint8Array(await fh.readFile({ signal }));
  } finally {
    await fh.close();
  }
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
export { runIfMain } from './cli.ts';
