/**
 * Synthetic CT phantoms: a torso (or head, or nothing) sampled on any voxel grid, deterministic from a seed.
 *
 *   const { image, labels, lesions } = generatePhantom({ seed: 7 });
 *
 * Every voxel is sampled at its own LPS world position (`indexToWorld`), so grids that differ in spacing,
 * direction, origin or slice order show the same anatomy at the same world positions.
 */
import { indexToWorld, invert3, voxelCount, worldToIndex, IDENTITY3, type Mat3, type Vec3, type Volume } from '../geometry/volume.ts';
import { buildAnatomy, tissueAt, unwarp, type Anatomy, type Box, type LesionHost, type PhantomKind } from './anatomy.ts';
import { gaussianBlur } from './blur.ts';
import { createRng, type Rng } from './random.ts';

export type { PhantomKind } from './anatomy.ts';

export interface PhantomOptions {
  seed: number;
  /** Default 'torso'. */
  kind?: PhantomKind;
  /** Voxels along index axes i, j, k; default [160, 128, 96]. */
  dims?: Vec3;
  /** Voxel size in mm along i, j, k; default [2.5, 2.5, 3]. */
  spacing?: Vec3;
  /** Row-major; column c = LPS unit vector of index axis c (see Volume); default identity. */
  direction?: Mat3;
  /** LPS mm of the centre of voxel (0, 0, 0); default: the grid's centre on the anatomy's centre. */
  origin?: Vec3;
  /** Number of lesions; default 3 (torso), 2 (head), 0 (empty). Fewer are placed if no room is found. */
  lesions?: number;
  /** Standard deviation of the (near-Gaussian, Irwin–Hall) noise in HU; default 10. */
  noiseHU?: number;
  /** Standard deviation of the Gaussian blur in mm (applied per index axis); default 0.8. */
  blurMm?: number;
}

export interface PhantomLesion {
  /** The lesion's value in `lesionMask` (1, 2, …). */
  id: number;
  /** VISTA3D label of the organ it lies in; its voxels keep this label in `labels`. */
  hostLabel: number;
  hostName: string;
  /** Centre, LPS mm. */
  centreWorld: Vec3;
  /** Nearest voxel index [i, j, k] to the centre on this grid (may lie outside it: see `voxels`). */
  centreIndex: Vec3;
  radiusMm: number;
  /** Mean intensity in HU (host ± 30–60). */
  hu: number;
  /** Voxels of the lesion on this grid. */
  voxels: number;
}

export interface Phantom {
  seed: number;
  kind: PhantomKind;
  /** Hounsfield units, i-fastest, LPS geometry. */
  image: Volume<Int16Array>;
  /** VISTA3D label indices at voxel centres, same grid; lesions are not a class. */
  labels: Volume<Uint8Array>;
  /** Lesion id (1…) at voxel centres, 0 elsewhere, same grid. */
  lesionMask: Volume<Uint8Array>;
  lesions: PhantomLesion[];
}

/** Grid and intensity defaults (dims in voxels, spacing in mm, noise in HU, blur sigma in mm). */
export const PHANTOM_DEFAULTS = { dims: [160, 128, 96] as Vec3, spacing: [2.5, 2.5, 3] as Vec3, noiseHU: 10, blurMm: 0.8 } as const;

const MAX_VOXELS = 2 ** 26;
const HU_RANGE = [-1024, 3071];

/**
 * Generates a phantom. Output layout: `data[i + dims[0] * (j + dims[1] * k)]`; geometry in LPS mm as in
 * `Volume`. Labels: point samples at voxel centres (shapes in priority order); intensities: tissue HU, lesions,
 * a Gaussian blur of `blurMm` along each index axis, then near-Gaussian noise of `noiseHU`, rounded into
 * [−1024, 3071]. The anatomy, lesions and noise derive from `seed` only; lesions keep their host's label.
 */
export function generatePhantom(opts: PhantomOptions): Phantom {
  const { seed, kind, grid, lesionCount, noiseHU, blurMm } = resolveOptions(opts);
  const anatomy = buildAnatomy(kind, seed);
  if (!opts.origin) grid.origin = centredOrigin(grid, anatomy.centre);
  const n = voxelCount(grid.dims);

  const pos = anatomyPositions(grid, anatomy);
  const tissue = paint(grid, anatomy, pos);

  const labelOf = Uint8Array.from(anatomy.tissues, (t) => t.label);
  const huOf = Float32Array.from(anatomy.tissues, (t) => t.hu);
  const labels = new Uint8Array(n);
  const hu = new Float32Array(n);
  for (let v = 0; v < n; v++) {
    labels[v] = labelOf[tissue[v]];
    hu[v] = huOf[tissue[v]];
  }

  const mask = new Uint8Array(n);
  const placed = placeLesions(anatomy, lesionCount, createRng(seed).fork(`lesions/${kind}`));
  const lesions = placed.map((l, index): PhantomLesion => {
    const id = index + 1;
    let voxels = 0;
    const r2 = l.radiusMm * l.radiusMm;
    forEachVoxelIn(grid, { min: l.centre.map((c) => c - l.radiusMm) as Vec3, max: l.centre.map((c) => c + l.radiusMm) as Vec3 }, anatomy.deformation.maxMm, pos, (v, x, y, z) => {
      const d2 = (x - l.centre[0]) ** 2 + (y - l.centre[1]) ** 2 + (z - l.centre[2]) ** 2;
      if (d2 > r2 || labels[v] !== l.host.label) return;
      mask[v] = id;
      hu[v] = l.hu;
      voxels++;
    });
    const centreWorld = unwarp(anatomy.deformation, l.centre);
    const centreIndex = worldToIndex(grid, centreWorld).map(Math.round) as Vec3;
    return { id, hostLabel: l.host.label, hostName: l.host.name, centreWorld, centreIndex, radiusMm: l.radiusMm, hu: l.hu, voxels };
  });

  if (blurMm > 0) gaussianBlur(hu, grid.dims, grid.spacing.map((s) => blurMm / s) as Vec3);
  const image = new Int16Array(n);
  const noise = createRng(seed).fork(`noise/${kind}`);
  for (let v = 0; v < n; v++) {
    const x = Math.round(hu[v] + noiseHU * noise.quickNormal());
    image[v] = x < HU_RANGE[0] ? HU_RANGE[0] : x > HU_RANGE[1] ? HU_RANGE[1] : x;
  }

  const geometry = () => ({ dims: [...grid.dims] as Vec3, spacing: [...grid.spacing] as Vec3, direction: [...grid.direction] as Mat3, origin: [...grid.origin] as Vec3 });
  return {
    seed,
    kind,
    image: { data: image, ...geometry() },
    labels: { data: labels, ...geometry() },
    lesionMask: { data: mask, ...geometry() },
    lesions,
  };
}

type Grid = Omit<Volume, 'data'>;

function resolveOptions(opts: PhantomOptions) {
  const { seed } = opts;
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const kind = opts.kind ?? 'torso';
  if (!['torso', 'head', 'empty'].includes(kind)) throw new RangeError(`kind must be torso, head or empty, got ${JSON.stringify(kind)}`);
  const dims = [...(opts.dims ?? PHANTOM_DEFAULTS.dims)] as Vec3;
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0) || voxelCount(dims) > MAX_VOXELS) {
    throw new RangeError(`dims must be three positive integers with at most ${MAX_VOXELS} voxels, got ${dims.join('×')}`);
  }
  const spacing = [...(opts.spacing ?? PHANTOM_DEFAULTS.spacing)] as Vec3;
  if (spacing.length !== 3 || !spacing.every((s) => Number.isFinite(s) && s > 0)) throw new RangeError(`spacing must be three positive mm values, got ${spacing.join(', ')}`);
  const direction = [...(opts.direction ?? IDENTITY3)] as Mat3;
  if (direction.length !== 9 || !direction.every(Number.isFinite)) throw new RangeError(`direction must be 9 finite numbers, got ${direction.join(', ')}`);
  invert3(direction); // throws on a singular matrix
  const origin = [...(opts.origin ?? [0, 0, 0])] as Vec3;
  if (origin.length !== 3 || !origin.every(Number.isFinite)) throw new RangeError(`origin must be three finite mm values, got ${origin.join(', ')}`);
  const lesionCount = opts.lesions ?? (kind === 'torso' ? 3 : kind === 'head' ? 2 : 0);
  if (!Number.isInteger(lesionCount) || lesionCount < 0 || lesionCount > 50) throw new RangeError(`lesions must be an integer in 0…50, got ${lesionCount}`);
  const noiseHU = opts.noiseHU ?? PHANTOM_DEFAULTS.noiseHU;
  const blurMm = opts.blurMm ?? PHANTOM_DEFAULTS.blurMm;
  for (const [name, v] of [['noiseHU', noiseHU], ['blurMm', blurMm]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`${name} must be a finite number ≥ 0, got ${v}`);
  }
  const grid: Grid = { dims, spacing, direction, origin };
  return { seed, kind, grid, lesionCount, noiseHU, blurMm };
}

/** The origin (LPS mm) that puts the grid's centre, index (dims − 1)/2, on `centre`. */
function centredOrigin(grid: Grid, centre: Vec3): Vec3 {
  const offset = indexToWorld({ ...grid, origin: [0, 0, 0] }, grid.dims.map((d) => (d - 1) / 2));
  return [centre[0] - offset[0], centre[1] - offset[1], centre[2] - offset[2]];
}

/**
 * Anatomy-frame position (LPS mm) of every voxel centre: x, y, z interleaved, i fastest. Each deformation term
 * sin(κ·p + φ) is split by the angle-addition formula into a per-row and a per-column factor, so a voxel costs a
 * few multiplications instead of six sines.
 */
function anatomyPositions(grid: Grid, anatomy: Anatomy): Float32Array {
  const [nx, ny, nz] = grid.dims;
  const { direction: d, spacing: s, origin: o } = grid;
  const col = [0, 1, 2].map((c) => [d[c] * s[c], d[3 + c] * s[c], d[6 + c] * s[c]]);
  const dot = (u: readonly number[], w: readonly number[]) => u[0] * w[0] + u[1] * w[1] + u[2] * w[2];
  // Per term m: component, amplitude, phase at the origin and its steps along j and k; sin/cos of its i steps.
  const comp: number[] = [];
  const amp: number[] = [];
  const base: number[] = [];
  const dj: number[] = [];
  const dk: number[] = [];
  const sinI: Float64Array[] = [];
  const cosI: Float64Array[] = [];
  anatomy.deformation.terms.forEach((t, c) => {
    for (let m = 0; m < t.length; m += 5) {
      const kv = [t[m + 1], t[m + 2], t[m + 3]];
      const di = dot(kv, col[0]);
      comp.push(c);
      amp.push(t[m]);
      base.push(dot(kv, o) + t[m + 4]);
      dj.push(dot(kv, col[1]));
      dk.push(dot(kv, col[2]));
      sinI.push(Float64Array.from({ length: nx }, (_, i) => Math.sin(i * di)));
      cosI.push(Float64Array.from({ length: nx }, (_, i) => Math.cos(i * di)));
    }
  });
  const pos = new Float32Array(3 * nx * ny * nz);
  const rows = [new Float64Array(nx), new Float64Array(nx), new Float64Array(nx)];
  let v = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let a = 0; a < 3; a++) {
        const row = rows[a];
        const w0 = o[a] + j * col[1][a] + k * col[2][a];
        const step = col[0][a];
        for (let i = 0; i < nx; i++) row[i] = w0 + i * step;
      }
      for (let m = 0; m < amp.length; m++) addTerm(rows[comp[m]], amp[m], base[m] + j * dj[m] + k * dk[m], sinI[m], cosI[m]);
      const [rx, ry, rz] = rows;
      for (let i = 0; i < nx; i++, v += 3) {
        pos[v] = rx[i];
        pos[v + 1] = ry[i];
        pos[v + 2] = rz[i];
      }
    }
  }
  return pos;
}

/** row[i] += amp · sin(a + i·δ), with sinI[i] = sin(i·δ), cosI[i] = cos(i·δ). */
function addTerm(row: Float64Array, amp: number, a: number, sinI: Float64Array, cosI: Float64Array): void {
  const sa = amp * Math.sin(a);
  const ca = amp * Math.cos(a);
  for (let i = 0; i < row.length; i++) row[i] += sa * cosI[i] + ca * sinI[i];
}

/** Tissue id per voxel: shapes in priority order, each visiting only the voxels its box can reach. */
function paint(grid: Grid, anatomy: Anatomy, pos: Float32Array): Uint8Array {
  const [nx, ny] = grid.dims;
  const tissue = new Uint8Array(voxelCount(grid.dims));
  for (const shape of anatomy.shapes) {
    const [i0, i1, j0, j1, k0, k1] = indexRange(grid, shape.box, anatomy.deformation.maxMm);
    const { min, max } = shape.box;
    for (let k = k0; k <= k1; k++) {
      for (let j = j0; j <= j1; j++) {
        for (let i = i0, v = i0 + nx * (j + ny * k); i <= i1; i++, v++) {
          if (tissue[v] !== 0) continue;
          const x = pos[3 * v];
          const y = pos[3 * v + 1];
          const z = pos[3 * v + 2];
          if (x < min[0] || y < min[1] || z < min[2] || x > max[0] || y > max[1] || z > max[2]) continue;
          tissue[v] = shape.at(x, y, z);
        }
      }
    }
  }
  return tissue;
}

/** Inclusive voxel index ranges [i0, i1, j0, j1, k0, k1] that can reach the anatomy-frame `box` grown by `padMm`. */
function indexRange(grid: Grid, box: Box, padMm: number): number[] {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let corner = 0; corner < 8; corner++) {
    const p = [0, 1, 2].map((a) => ((corner >> a) & 1 ? box.max[a] + padMm : box.min[a] - padMm));
    const ijk = worldToIndex(grid, p);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], ijk[a]);
      hi[a] = Math.max(hi[a], ijk[a]);
    }
  }
  return [0, 1, 2].flatMap((a) => [Math.max(0, Math.ceil(lo[a] - 1e-6)), Math.min(grid.dims[a] - 1, Math.floor(hi[a] + 1e-6))]);
}

/**
 * Calls `fn(v, x, y, z)` for every voxel v whose anatomy-frame position (x, y, z) lies in `box`. Visits only
 * the index range of the world box grown by `padMm` (the deformation's bound).
 */
function forEachVoxelIn(grid: Grid, box: Box, padMm: number, pos: Float32Array, fn: (v: number, x: number, y: number, z: number) => void): void {
  const [nx, ny] = grid.dims;
  const [i0, i1, j0, j1, k0, k1] = indexRange(grid, box, padMm);
  const { min, max } = box;
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      for (let i = i0, v = i0 + nx * (j + ny * k); i <= i1; i++, v++) {
        const x = pos[3 * v];
        const y = pos[3 * v + 1];
        const z = pos[3 * v + 2];
        if (x < min[0] || y < min[1] || z < min[2] || x > max[0] || y > max[1] || z > max[2]) continue;
        fn(v, x, y, z);
      }
    }
  }
}

interface PlacedLesion {
  host: LesionHost;
  /** Anatomy frame, LPS mm. */
  centre: Vec3;
  radiusMm: number;
  hu: number;
}

/** Sample offsets (in units of the radius) a lesion must keep inside its host: a lattice and the 26 directions. */
const PROBES: Vec3[] = (() => {
  const out: Vec3[] = [];
  for (let a = -2; a <= 2; a++) for (let b = -2; b <= 2; b++) for (let c = -2; c <= 2; c++) if (a * a + b * b + c * c <= 4) out.push([a / 2, b / 2, c / 2]);
  for (let a = -1; a <= 1; a++) {
    for (let b = -1; b <= 1; b++) {
      for (let c = -1; c <= 1; c++) {
        const n = Math.hypot(a, b, c);
        if (n) out.push([a / n, b / n, c / n]);
      }
    }
  }
  return out;
})();

/**
 * Up to `count` spherical lesions in the anatomy's hosts, each wholly inside its host organ (checked against
 * the anatomy with a 1.5 mm margin) and apart from the others. Anatomy frame, LPS mm.
 */
function placeLesions(anatomy: Anatomy, count: number, rng: Rng): PlacedLesion[] {
  const hosts = anatomy.hosts;
  const placed: PlacedLesion[] = [];
  if (!hosts.length) return placed;
  const total = hosts.reduce((s, h) => s + h.weight, 0);
  for (let n = 0; n < count; n++) {
    const r = rng.fork(String(n));
    for (let attempt = 0; attempt < 200; attempt++) {
      let pick = r.uniform(0, total);
      const host = hosts.find((h) => (pick -= h.weight) < 0) ?? hosts[hosts.length - 1];
      const radiusMm = r.uniform(host.radiusMm[0], host.radiusMm[1]);
      let l: number[];
      do l = [r.uniform(-1, 1), r.uniform(-1, 1), r.uniform(-1, 1)];
      while (l[0] * l[0] + l[1] * l[1] + l[2] * l[2] > 1);
      const { centre: c, semi, rot } = host.region;
      const s = semi.map((x, a) => x * 0.8 * l[a]);
      const centre: Vec3 = [0, 1, 2].map((a) => c[a] + rot[3 * a] * s[0] + rot[3 * a + 1] * s[1] + rot[3 * a + 2] * s[2]) as Vec3;
      const reach = radiusMm + 1.5;
      const inside = PROBES.every((p) => anatomy.tissues[tissueAt(anatomy, centre[0] + p[0] * reach, centre[1] + p[1] * reach, centre[2] + p[2] * reach)].label === host.label);
      const apart = placed.every((o) => Math.hypot(o.centre[0] - centre[0], o.centre[1] - centre[1], o.centre[2] - centre[2]) > o.radiusMm + radiusMm + 3);
      if (!inside || !apart) continue;
      placed.push({ host, centre, radiusMm, hu: Math.round(host.hu + r.sign() * r.uniform(30, 60)) });
      break;
    }
  }
  return placed;
}
