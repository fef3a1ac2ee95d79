/**
 * The DICOM validators and parsers the SEG tests run a file through: dciodvfy (dicom3tools: IOD, modules,
 * attribute values), dcmdump (DCMTK) and pydicom (Debian's python3-pydicom with /usr/bin/python3). All from Debian,
 * installed by scripts/install-system-deps.sh; a test skips (naming what is missing) without them, fails in CI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** dciodvfy to use: DCIODVFY if set (e.g. a newer dicom3tools build), else Debian's. */
export const DCIODVFY = process.env.DCIODVFY ?? '/usr/bin/dciodvfy';
export const DCMDUMP = '/usr/bin/dcmdump';
export const PYTHON = '/usr/bin/python3';

/** Why the validators cannot run here, or null. */
export function validatorsMissing(): string | null {
  const missing = [
    !existsSync(DCIODVFY) && `${DCIODVFY} (Debian package dicom3tools)`,
    !existsSync(DCMDUMP) && `${DCMDUMP} (Debian package dcmtk)`,
    (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import pydicom, numpy']).status !== 0) && 'pydicom and numpy for /usr/bin/python3 (Debian packages python3-pydicom, python3-numpy)',
  ].filter(Boolean);
  return missing.length ? `missing ${missing.join(', ')}: run sudo scripts/install-system-deps.sh` : null;
}

export interface DciodvfyReport {
  errors: string[];
  warnings: string[];
  /** What the validator took the object for (its first non-message line, e.g. "Segmentation"). */
  iod: string;
  /** False when this dciodvfy predates the file's SOP class (then it checks generic attributes only). */
  knowsSopClass: boolean;
  output: string;
}

/**
 * Runs dciodvfy on a file. Its messages are lines "Error - …" and "Warning - …"; continuation lines (an element
 * path under a message) are appended to the message they follow.
 */
export function dciodvfy(file: string): DciodvfyReport {
  const r = spawnSync(DCIODVFY, [file], { encoding: 'utf8' });
  if (r.error) throw r.error;
  const output = `${r.stdout}${r.stderr}`;
  const errors: string[] = [];
  const warnings: string[] = [];
  let iod = '';
  let last: string[] | null = null;
  for (const line of output.split('\n')) {
    if (!line.trim()) continue;
    if (line.startsWith('Error - ')) (last = errors).push(line.slice(8));
    else if (line.startsWith('Warning - ')) (last = warnings).push(line.slice(10));
    else if (/^\s/.test(line) && last?.length) last[last.length - 1] += ` ${line.trim()}`;
    else if (!iod) iod = line.trim();
  }
  return { errors, warnings, iod, knowsSopClass: !errors.includes('Information Object Not found'), output };
}

/**
 * The messages a dciodvfy older than DICOM 2024 (Debian 12's 2022 build) gives for a Label Map Segmentation, which
 * it does not know: no IOD to check against, and the binary rule "segment numbers 1, 2, 3 …" applied to the label
 * map's background segment 0, which Supplement 243 requires (every pixel value, 0 included, is a described segment).
 */
export const PRE_2024_LABELMAP_ERRORS = [
  'Information Object Not found',
  'SegmentNumber not monotonically increasing from one by one - have SegmentSequence item number 1 (from one) with SegmentNumber of 0',
];

/** dcmdump's parse of a file: exit status 0 and no "E:" (error) lines; returns the dump. */
export function dcmdump(file: string): { ok: boolean; dump: string; errors: string[] } {
  const r = spawnSync(DCMDUMP, ['+E', '-q', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const errors = `${r.stderr}`.split('\n').filter((l) => /^E:|^F:/.test(l));
  return { ok: r.status === 0 && errors.length === 0, dump: r.stdout, errors };
}

export interface PydicomSummary {
  sopClassUid: string;
  frames: number;
  rows: number;
  columns: number;
  segments: { number: number; label: string; type: string; algorithmType: string }[];
  /** Per frame: how many pixels are non-zero, and their sum, from pydicom's own pixel decoding (numpy). */
  nonzero: number[];
  sums: number[];
}

/** Reads a file with pydicom (dcmread with enforce_valid_values, then pixel_array) and summarises it. */
export function pydicomSummary(file: string): PydicomSummary {
  const script = `
import json, sys
import pydicom
from pydicom import config
config.settings.reading_validation_mode = config.RAISE
ds = pydicom.dcmread(sys.argv[1])
arr = ds.pixel_array
if int(ds.NumberOfFrames) == 1:
    arr = arr.reshape((1,) + arr.shape)
print(json.dumps({
  'sopClassUid': str(ds.SOPClassUID), 'frames': int(ds.NumberOfFrames), 'rows': int(ds.Rows), 'columns': int(ds.Columns),
  'segments': [{'number': int(s.SegmentNumber), 'label': str(s.SegmentLabel), 'type': str(s.SegmentedPropertyTypeCodeSequence[0].CodeValue), 'algorithmType': str(s.SegmentAlgorithmType)} for s in ds.SegmentSequence],
  'nonzero': [int((f != 0).sum()) for f in arr], 'sums': [int(f.astype('int64').sum()) for f in arr],
}))
`;
  const r = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`pydicom could not read ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as PydicomSummary;
}
