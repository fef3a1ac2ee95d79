import { UnsupportedFormatError } from '../errors.ts';
import type { Volume } from '../geometry/volume.ts';
import type { ReadLimits } from './limits.ts';
import { readNifti, writeNifti } from './nifti.ts';
import { readNrrd, writeNrrd } from './nrrd.ts';

export type VolumeFormat = 'nifti' | 'nrrd' | 'dicom';

/** File-name endings (lower case, longest first) → format. */
const EXTENSIONS: ReadonlyArray<[string, VolumeFormat]> = [
  ['.nii.gz', 'nifti'],
  ['.nii', 'nifti'],
  ['.nrrd', 'nrrd'],
  ['.nhdr', 'nrrd'],
  ['.dcm', 'dicom'],
  ['.dicom', 'dicom'],
];

function matchExtension(name: string): [string, VolumeFormat] | undefined {
  const lower = name.toLowerCase();
  return EXTENSIONS.find(([ext]) => lower.endsWith(ext));
}

/** The format a file name's extension names (case-insensitive), or null for any other name. */
export function detectFormat(name: string): VolumeFormat | null {
  return matchExtension(name)?.[1] ?? null;
}

/**
 * Reads a NIfTI or NRRD file's bytes into a `Volume` (data i-fastest, geometry LPS mm), choosing the reader
 * by `name`'s extension. DICOM and unknown extensions throw UnsupportedFormatError: DICOM is read by the
 * DICOM reader, not here. `resolveDataFile` serves a `.nhdr`'s detached data file; `onWarning` is told of each
 * geometry fallback the reader takes and of partly NaN/Inf float data (see readNifti, readNrrd).
 */
export function readVolumeBytes(
  bytes: Uint8Array,
  name: string,
  opts: { limits?: Partial<ReadLimits>; resolveDataFile?: (name: string) => Uint8Array; onWarning?: (message: string) => void } = {},
): Volume {
  const format = detectFormat(name);
  if (format === 'nifti') return readNifti(bytes, opts);
  if (format === 'nrrd') return readNrrd(bytes, opts);
  if (format === 'dicom') throw new UnsupportedFormatError(`"${name}" is DICOM: read it with the DICOM reader, not as a volume file`);
  throw new UnsupportedFormatError(`"${name}" has an unsupported extension: expected one of ${EXTENSIONS.map(([e]) => e).join(', ')}`);
}

/** Serialises a `Volume` (data i-fastest, geometry LPS mm) as NIfTI-1 or NRRD, gzipped unless `gzip: false`. */
export function writeVolumeBytes(vol: Volume, format: 'nifti' | 'nrrd', opts: { gzip?: boolean } = {}): Uint8Array {
  return format === 'nifti' ? writeNifti(vol, opts) : writeNrrd(vol, opts);
}

/** Longest file stem `outputNameFor` keeps (bytes of ASCII); longer stems are cut. */
export const MAX_OUTPUT_STEM = 100;

/**
 * A name safe for a file system, a zip entry and an HTTP header: only `[A-Za-z0-9._-]`, every other run of
 * characters (path separators, `..` segments' slashes, quotes, control and non-ASCII characters) becomes one `_`,
 * no leading dot or dash (no hidden file, no option) nor trailing ones, at most `max` characters, `fallback` when nothing is left.
 * Names that come from a request (a URL's last segment, a folder name) are hostile: this is the one place that
 * makes them safe.
 */
export function safeFileName(name: string, max = MAX_OUTPUT_STEM, fallback = 'image'): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/\.{2,}/g, '.').replace(/^[._-]+/, '').slice(0, max).replace(/[._-]+$/, '');
  return s || fallback;
}

/**
 * The file name of the segmentation written for an input: `<stem>_seg.<ext>`, keeping a NIfTI or NRRD input's
 * extension as spelled (`ct.nii.gz` → `ct_seg.nii.gz`; a detached `.nhdr` → `.nrrd`, since the output has
 * attached data). DICOM (a `.dcm` file or a series folder, whose name is kept whole, dots included, as DICOM UIDs
 * have them) → `<stem>_seg.nii.gz`. Only the last path segment counts, and the stem is made safe
 * (`safeFileName`): the result is a bare file name that cannot leave the folder it is written to.
 */
export function outputNameFor(inputName: string): string {
  const name = inputName.replace(/[/\\]+$/, '').split(/[/\\]/).pop() ?? '';
  const match = matchExtension(name);
  if (!match || match[1] === 'dicom') return `${safeFileName(match ? name.slice(0, -match[0].length) : name)}_seg.nii.gz`;
  const ext = match[0] === '.nhdr' ? '.nrrd' : name.slice(-match[0].length);
  return `${safeFileName(name.slice(0, -match[0].length))}_seg${ext}`;
}
