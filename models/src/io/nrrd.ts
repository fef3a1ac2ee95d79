import { InvalidImageError } from '../errors.ts';
import { checkGeometry, checkVoxelValues, geometryFromAffine, voxelCount, type GeometryFields, type Vec3, type Volume } from '../geometry/volume.ts';
import { gunzipBounded, gzip, isGzip } from './gzip.ts';
import { checkVoxelCount, resolveLimits, type ReadLimits } from './limits.ts';
import { decodeVoxels, HOST_LITTLE_ENDIAN, voxelBytes, type VoxelArrayConstructor } from './voxelBytes.ts';

/**
 * NRRD images (`.nrrd`, attached data; `.nhdr` with a detached data file the caller resolves), 3D scalar
 * volumes, encodings raw and gzip.
 *
 * NRRD's fastest axis is the first of `sizes`, exactly our i-fastest `Volume` layout. Coordinates are mm (any
 * `space units` are ignored). World spaces become LPS here: `left-posterior-superior` (LPS) as is,
 * `right-anterior-superior` (RAS) with x and y negated, `left-anterior-superior` (LAS) with y negated.
 * `scanner-xyz` and `3D-right-handed` are taken as LPS, the DICOM patient frame that scanner coordinates use;
 * a file with `space dimension: 3` and no named space is also taken as LPS. Other spaces are refused.
 */

const TYPES: ReadonlyArray<{ names: readonly string[]; ctor: VoxelArrayConstructor; name: string }> = [
  { name: 'int8', ctor: Int8Array, names: ['signed char', 'int8', 'int8_t'] },
  { name: 'uint8', ctor: Uint8Array, names: ['uchar', 'unsigned char', 'uint8', 'uint8_t'] },
  { name: 'short', ctor: Int16Array, names: ['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t'] },
  { name: 'ushort', ctor: Uint16Array, names: ['ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t'] },
  { name: 'int', ctor: Int32Array, names: ['int', 'signed int', 'int32', 'int32_t'] },
  { name: 'uint', ctor: Uint32Array, names: ['uint', 'unsigned int', 'uint32', 'uint32_t'] },
  { name: 'float', ctor: Float32Array, names: ['float'] },
  { name: 'double', ctor: Float64Array, names: ['double'] },
];

/** Sign flips taking each supported `space` to LPS. */
const SPACE_TO_LPS: Readonly<Record<string, Vec3>> = {
  'left-posterior-superior': [1, 1, 1],
  lps: [1, 1, 1],
  'scanner-xyz': [1, 1, 1],
  '3d-right-handed': [1, 1, 1],
  'right-anterior-superior': [-1, -1, 1],
  ras: [-1, -1, 1],
  'left-anterior-superior': [1, -1, 1],
  las: [1, -1, 1],
};

/** Longest header we scan for the blank line that ends it. */
const MAX_HEADER_BYTES = 1 << 20;

interface NrrdHeader {
  /** Field name (lower case) → value. */
  fields: Map<string, string>;
  /** Offset of the attached data, or -1 when the header has no blank line (a detached `.nhdr`). */
  dataStart: number;
}

function parseHeader(bytes: Uint8Array): NrrdHeader {
  const head = String.fromCharCode(...bytes.subarray(0, 8));
  if (!/^NRRD000\d$/.test(head)) throw new InvalidImageError(`not a NRRD file: it starts with ${JSON.stringify(head)} (expected "NRRD000x")`);
  // The header ends at the first blank line ("\n\n" or "\n\r\n"); a detached .nhdr may have none.
  let end = -1;
  let dataStart = -1;
  for (let p = 0; p < Math.min(bytes.length, MAX_HEADER_BYTES) && end < 0; p++) {
    const q = bytes[p + 1] === 13 ? p + 2 : p + 1;
    if (bytes[p] === 10 && bytes[q] === 10) [end, dataStart] = [p, q + 1];
  }
  if (end < 0) {
    if (bytes.length > MAX_HEADER_BYTES) throw new InvalidImageError(`NRRD header has no end (blank line) within its first ${MAX_HEADER_BYTES} bytes`);
    end = bytes.length;
  }
  const fields = new Map<string, string>();
  for (const line of new TextDecoder('latin1').decode(bytes.subarray(0, end)).split(/\r?\n/).slice(1)) {
    if (line.startsWith('#') || line.includes(':=') || !line.trim()) continue; // comments, key/value pairs
    const colon = line.indexOf(': ');
    if (colon < 0) throw new InvalidImageError(`NRRD header line ${JSON.stringify(line)} is not "field: value"`);
    fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 2).trim());
  }
  return { fields, dataStart };
}

function parseNumbers(value: string, what: string): number[] {
  return value.split(/[\s,]+/).filter(Boolean).map((token) => {
    const n = Number(token);
    if (Number.isNaN(n) && token.toLowerCase() !== 'nan') throw new InvalidImageError(`NRRD ${what} "${value}" is not a list of numbers`);
    return n;
  });
}

/** `(x,y,z)` vectors and `none` entries of `space directions`, in order; null for `none`. */
function parseVectors(value: string, what: string): Array<Vec3 | null> {
  return Array.from(value.matchAll(/\(([^)]*)\)|none/g), (m) => {
    if (m[1] === undefined) return null;
    const v = parseNumbers(m[1], what);
    if (v.length !== 3 || !v.every(Number.isFinite)) throw new InvalidImageError(`NRRD ${what} vector (${m[1]}) is not 3 finite numbers`);
    return v as Vec3;
  });
}

/**
 * Reads a NRRD image into a `Volume`: data i-fastest (NRRD's first axis fastest), geometry in LPS mm. The
 * voxel → world affine comes from `space directions` (vectors that include the spacing) and `space origin`,
 * else from `spacings` with an identity direction. A 4D file whose first axis has size 1 (a non-spatial axis,
 * `none` in space directions) is read as 3D. Detached data (`data file:`) is read only through
 * `resolveDataFile(name)`, which returns that file's bytes. Sizes are checked before anything large is
 * allocated, as for NIfTI, and so is the geometry (`checkGeometry`: spacings and space directions finite, from
 * MIN_SPACING_MM to MAX_SPACING_MM long, linearly independent). A file without `space directions` is read on
 * LPS-aligned axes with its `spacings` (1 mm where it has none either), and says so through `onWarning`, as it
 * does for partly NaN/Inf float data; all-NaN/Inf float data is refused. Throws InvalidImageError for malformed,
 * unsupported or geometrically invalid files (naming the field: `NRRD spacings[1] is NaN`, `NRRD space
 * directions is rank-deficient: …`), LimitExceededError past a limit.
 */
export function readNrrd(
  bytes: Uint8Array,
  opts: { limits?: Partial<ReadLimits>; resolveDataFile?: (name: string) => Uint8Array; onWarning?: (message: string) => void } = {},
): Volume {
  const limits = resolveLimits(opts.limits);
  const { fields, dataStart } = parseHeader(bytes);
  const field = (name: string) => {
    const value = fields.get(name);
    if (value === undefined) throw new InvalidImageError(`NRRD header has no "${name}" field`);
    return value;
  };

  const typeName = field('type').toLowerCase();
  const type = TYPES.find((t) => t.names.includes(typeName));
  if (!type) throw new InvalidImageError(`NRRD type "${typeName}" is not supported: expected one of ${TYPES.map((t) => t.name).join(', ')}`);
  const dimension = Number(field('dimension'));
  let sizes = parseNumbers(field('sizes'), 'sizes');
  if (sizes.length !== dimension || !sizes.every((s) => Number.isInteger(s) && s >= 1)) {
    throw new InvalidImageError(`NRRD sizes "${field('sizes')}" are not ${dimension} positive integers`);
  }
  const directions = fields.has('space directions') ? parseVectors(field('space directions'), 'space directions') : null;
  let spacings = fields.has('spacings') ? parseNumbers(field('spacings'), 'spacings') : null;
  let firstSpatialAxis = 0;
  if (dimension === 4 && sizes[0] === 1 && !directions?.[0]) {
    firstSpatialAxis = 1;
    sizes = sizes.slice(1);
    directions?.shift();
    spacings = spacings?.slice(1) ?? null;
  } else if (dimension !== 3) {
    throw new InvalidImageError(`NRRD dimension is ${dimension} with sizes ${sizes.join('×')}: only 3D volumes (or 4D with a leading axis of size 1) are supported`);
  }
  const dims = sizes as Vec3;
  const count = checkVoxelCount(dims, limits, 'NRRD header');
  const warnings: string[] = [];
  const grid = geometry(fields, directions, spacings, firstSpatialAxis, warnings);

  const encoding = (fields.get('encoding') ?? 'raw').toLowerCase();
  if (encoding !== 'raw' && encoding !== 'gzip' && encoding !== 'gz') {
    throw new InvalidImageError(`NRRD encoding "${encoding}" is not supported: expected raw or gzip`);
  }
  const endian = fields.get('endian')?.toLowerCase();
  if (type.ctor.BYTES_PER_ELEMENT > 1 && endian !== 'little' && endian !== 'big') {
    throw new InvalidImageError(`NRRD endian is ${endian === undefined ? 'missing' : `"${endian}"`}: expected little or big for type ${typeName}`);
  }
  if (Number(fields.get('line skip') ?? 0) !== 0) throw new InvalidImageError('NRRD "line skip" is not supported');
  const byteSkip = Number(fields.get('byte skip') ?? 0);
  if (!(Number.isInteger(byteSkip) && byteSkip >= -1) || (byteSkip === -1 && encoding !== 'raw')) {
    throw new InvalidImageError(`NRRD byte skip "${fields.get('byte skip')}" is invalid for encoding ${encoding}`);
  }

  const dataFile = fields.get('data file') ?? fields.get('datafile');
  let payload: Uint8Array;
  if (dataFile !== undefined) {
    if (!opts.resolveDataFile) throw new InvalidImageError(`detached NRRD data file "${dataFile}" is not allowed here: send a single .nrrd with attached data`);
    if (dataFile.startsWith('LIST') || dataFile.includes('%')) throw new InvalidImageError(`NRRD multi-file data "${dataFile}" is not supported`);
    payload = opts.resolveDataFile(dataFile);
  } else if (dataStart >= 0) payload = bytes.subarray(dataStart);
  else throw new InvalidImageError('NRRD header has neither attached data (after a blank line) nor a "data file" field');

  if (encoding !== 'raw') {
    if (!isGzip(payload)) throw new InvalidImageError('NRRD data is declared gzip but does not start with the gzip magic number');
    payload = gunzipBounded(payload, limits.maxDecompressedBytes, 'NRRD gzip data');
  }
  const dataBytes = count * type.ctor.BYTES_PER_ELEMENT;
  const needed = Math.max(byteSkip, 0) + dataBytes;
  if (payload.length < needed) {
    throw new InvalidImageError(
      `NRRD data is truncated: expected ${needed} bytes (${dims.join('×')} ${type.name} voxels${byteSkip > 0 ? ` after ${byteSkip} skipped` : ''}) but only ${payload.length} are present`,
    );
  }
  const data = decodeVoxels(payload, byteSkip === -1 ? payload.length - dataBytes : byteSkip, type.ctor, count, endian !== 'big');
  const values = checkVoxelValues(data, 'NRRD');
  if (values) warnings.push(values);
  for (const w of warnings) opts.onWarning?.(w);
  return { data, dims, ...grid };
}

const three = (name: (k: number) => string): [string, string, string] => [name(0), name(1), name(2)];

/**
 * LPS spacing, direction and origin from the space fields (see the module comment for spaces), checked by
 * `checkGeometry`. `firstSpatialAxis` is the file's index of the first spatial axis (1 when a leading axis of
 * size 1 was dropped), for the field names in messages. The fallbacks without `space directions` add a warning.
 */
function geometry(
  fields: Map<string, string>,
  directions: Array<Vec3 | null> | null,
  spacings: number[] | null,
  firstSpatialAxis: number,
  warnings: string[],
): Omit<Volume, 'data' | 'dims'> {
  const space = fields.get('space')?.toLowerCase();
  let flip: Vec3 = [1, 1, 1];
  if (space !== undefined) {
    const f = SPACE_TO_LPS[space];
    if (!f) throw new InvalidImageError(`NRRD space "${space}" is not supported: expected ${Object.keys(SPACE_TO_LPS).join(', ')}`);
    flip = f;
  } else if (fields.has('space dimension') && fields.get('space dimension') !== '3') {
    throw new InvalidImageError(`NRRD space dimension ${fields.get('space dimension')} is not supported: expected 3`);
  }
  const originField = fields.get('space origin');
  const origin = originField === undefined ? [0, 0, 0] : parseVectors(originField, 'space origin')[0];
  if (!origin) throw new InvalidImageError(`NRRD space origin "${originField}" is not a 3-vector`);
  let axes: Vec3[];
  let names: GeometryFields;
  const axis = (k: number) => k + firstSpatialAxis;
  if (directions) {
    if (directions.length !== 3 || directions.some((d) => !d)) {
      throw new InvalidImageError(`NRRD space directions "${fields.get('space directions')}" do not give 3 spatial vectors`);
    }
    axes = directions as Vec3[];
    names = { spacing: three((k) => `space directions vector ${axis(k)}`), origin: 'space origin', direction: 'space directions' };
  } else {
    let s: number[];
    if (spacings) {
      if (spacings.length < 3) throw new InvalidImageError(`NRRD spacings "${fields.get('spacings')}" do not give 3 spatial spacings`);
      s = spacings.slice(0, 3).map(Math.abs);
      warnings.push(`NRRD has no space directions: an axis-aligned grid (identity direction in ${space ?? 'LPS'}, origin from space origin or 0) with spacings ${s.join(', ')} mm`);
    } else {
      s = [1, 1, 1];
      warnings.push(`NRRD has neither space directions nor spacings: 1 mm voxels on an axis-aligned grid (identity direction in ${space ?? 'LPS'}) assumed`);
    }
    axes = [0, 1, 2].map((k) => [0, 1, 2].map((r) => (r === k ? s[k] : 0)) as Vec3);
    names = { spacing: three((k) => `spacings[${axis(k)}]`), origin: 'space origin', direction: 'axes' };
  }
  const affine = [0, 1, 2].flatMap((r) => [flip[r] * axes[0][r], flip[r] * axes[1][r], flip[r] * axes[2][r], flip[r] * origin[r]]);
  const g = geometryFromAffine([...affine, 0, 0, 0, 1]);
  checkGeometry(g, 'NRRD', names);
  return g;
}

/**
 * Writes a `Volume` (data i-fastest, geometry LPS mm) as a NRRD with attached data: `space:
 * left-posterior-superior`, `space directions` = direction columns × spacing, `space origin`, host byte order,
 * gzip encoding unless `gzip: false`.
 */
export function writeNrrd(vol: Volume, opts: { gzip?: boolean } = {}): Uint8Array {
  const typeName = TYPES.find((t) => vol.data instanceof t.ctor)?.name;
  if (!typeName) throw new TypeError(`cannot write ${vol.data.constructor.name} voxels as NRRD`);
  if (vol.data.length !== voxelCount(vol.dims)) throw new RangeError(`data has ${vol.data.length} voxels, dims ${vol.dims.join('×')} need ${voxelCount(vol.dims)}`);
  const d = vol.direction;
  const s = vol.spacing;
  const axis = (c: number) => `(${[d[c] * s[c], d[3 + c] * s[c], d[6 + c] * s[c]].join(',')})`;
  const compress = opts.gzip !== false;
  const header = [
    'NRRD0004',
    '# Complete NRRD file format specification at:',
    '# http://teem.sourceforge.net/nrrd/format.html',
    `type: ${typeName}`,
    'dimension: 3',
    'space: left-posterior-superior',
    `sizes: ${vol.dims.join(' ')}`,
    `space directions: ${axis(0)} ${axis(1)} ${axis(2)}`,
    'kinds: domain domain domain',
    `endian: ${HOST_LITTLE_ENDIAN ? 'little' : 'big'}`,
    `encoding: ${compress ? 'gzip' : 'raw'}`,
    `space origin: (${vol.origin.join(',')})`,
    '',
    '',
  ].join('\n');
  const head = new TextEncoder().encode(header);
  const body = compress ? gzip(voxelBytes(vol.data), { labels: vol.data instanceof Uint8Array }) : voxelBytes(vol.data);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
