import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Volume } from '../../src/geometry/volume.ts';
import { readNifti } from '../../src/io/nifti.ts';

/**
 * Real images for tests and the bench, from the Debian packages `scripts/fetch-test-data.sh` extracts under
 * `<repo>/.cache/test-data/<package>/`.
 */

const TEST_DATA = fileURLToPath(new URL('../../../.cache/test-data/', import.meta.url));

/** Absolute path of a file under `.cache/test-data/`; throws, saying how to fetch it, when it is missing. */
export function testDataPath(...parts: string[]): string {
  const path = join(TEST_DATA, ...parts);
  if (!existsSync(path)) throw new Error(`test data ${path} is missing: run \`bash scripts/fetch-test-data.sh\` from the repository root`);
  return path;
}

/** Files of an (uncompressed) POSIX/ustar tar archive, by name. */
function untar(tar: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const text = (start: number, length: number) => {
    const field = tar.subarray(start, start + length);
    const nul = field.indexOf(0);
    return Buffer.from(nul < 0 ? field : field.subarray(0, nul)).toString('utf8');
  };
  for (let p = 0; p + 512 <= tar.length && tar[p] !== 0; ) {
    const prefix = text(p + 345, 155);
    const name = (prefix ? `${prefix}/` : '') + text(p, 100);
    const size = parseInt(text(p + 124, 12).trim(), 8);
    const type = String.fromCharCode(tar[p + 156]);
    if (type === '0' || type === '\0') files.set(name, tar.subarray(p + 512, p + 512 + size));
    p += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

function entry(files: Map<string, Uint8Array>, base: string): Uint8Array {
  for (const [name, bytes] of files) if (name === base || name.endsWith(`/${base}`)) return bytes;
  throw new Error(`Cranium.inv3 has no ${base}`);
}

/**
 * The InVesalius example head CT (`Cranium.inv3`: a gzip tar holding `main.plist` and `matrix.dat`, raw
 * little-endian int16 in C order (z, y, x) = (108, 256, 256)), as a Volume: Int16Array HU, dims [256, 256, 108]
 * (C order (z, y, x) is our i-fastest layout), spacing [0.957, 0.957, 1.5] mm from the plist, origin 0.
 *
 * Direction diag(1, −1, 1) in LPS: i → patient left, j → anterior, k → superior. The plist only says
 * `orientation: 1` (axial); the anatomy fixes the rest: the face is at high j and the head rest at low j
 * (InVesalius stores rows bottom-up, VTK style, so j runs posterior → anterior, the reverse of DICOM rows), and
 * the skull base is at low k. Left/right cannot be told from anatomy; i → left is DICOM's column direction,
 * which a vertical flip leaves unchanged.
 */
export function loadHeadCT(): Volume<Int16Array> {
  const files = untar(gunzipSync(readFileSync(testDataPath('invesalius-examples/usr/share/doc/invesalius-examples/examples/Cranium.inv3'))));
  const plist = Buffer.from(entry(files, 'main.plist')).toString('utf8');
  const array = (key: string, item: string) => {
    const m = new RegExp(`<key>${key}</key>\\s*<array>([\\s\\S]*?)</array>`).exec(plist);
    if (!m) throw new Error(`Cranium.inv3 main.plist has no ${key} array`);
    return Array.from(m[1].matchAll(new RegExp(`<${item}>([^<]*)</${item}>`, 'g')), (x) => Number(x[1]));
  };
  const [nz, ny, nx] = array('shape', 'integer');
  const spacing = array('spacing', 'real');
  if (!/<key>dtype<\/key>\s*<string>int16<\/string>/.test(plist)) throw new Error('Cranium.inv3 matrix is not int16');
  const raw = entry(files, 'matrix.dat');
  if (raw.length !== nx * ny * nz * 2) throw new Error(`Cranium.inv3 matrix.dat has ${raw.length} bytes, expected ${nx * ny * nz * 2}`);
  const data = new Int16Array(nx * ny * nz);
  new Uint8Array(data.buffer).set(raw); // little-endian file, little-endian host
  return { data, dims: [nx, ny, nz], spacing: [spacing[0], spacing[1], spacing[2]], direction: [1, 0, 0, 0, -1, 0, 0, 0, 1], origin: [0, 0, 0] };
}

/** A MRIcron template (NIfTI, read by our reader): the `ch2` T1 brain MRI or its `aal`/`brodmann` label maps, same grid. */
export function loadMricron(name: 'ch2' | 'aal' | 'brodmann'): Volume {
  return readNifti(readFileSync(testDataPath('mricron-data/usr/share/mricron/templates', `${name}.nii.gz`)));
}
