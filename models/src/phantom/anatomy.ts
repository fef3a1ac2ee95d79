/**
 * The phantoms' anatomy, defined in a continuous **anatomy frame**: LPS millimetres (+x patient left, +y
 * posterior, +z superior), independent of any voxel grid. A grid samples it at `warp(voxel world position)`.
 *
 * An anatomy is a list of shapes in priority order (the first shape that claims a point gives its tissue), a
 * tissue table (tissue id → VISTA3D label and Hounsfield units), the organs lesions may grow in, and a smooth
 * random deformation. Every random parameter comes from the seed through named sub-streams.
 */
import type { Mat3, Vec3 } from '../geometry/volume.ts';
import { createRng, type Rng } from './random.ts';

export type PhantomKind = 'torso' | 'head' | 'empty';

/** Axis-aligned box in the anatomy frame (LPS mm), `min` ≤ `max` per axis. */
export interface Box {
  min: Vec3;
  max: Vec3;
}

/** A part of the anatomy: `at(x, y, z)` (anatomy frame, LPS mm) → tissue id, or 0 where the shape is absent. */
export interface Shape {
  name: string;
  /** Holds every point where `at` is non-zero. */
  box: Box;
  at(x: number, y: number, z: number): number;
}

export interface Tissue {
  name: string;
  /** VISTA3D label index (0 = no class). */
  label: number;
  /** Mean intensity in Hounsfield units. */
  hu: number;
}

/** An ellipsoid in the anatomy frame: `semi` (mm) along the columns of `rot` (local → LPS rotation). */
export interface Ellipsoid {
  centre: Vec3;
  semi: Vec3;
  rot: Mat3;
}

/** An organ that lesions may grow in: centres are drawn inside `region`, then checked against the anatomy. */
export interface LesionHost {
  name: string;
  label: number;
  hu: number;
  region: Ellipsoid;
  radiusMm: [number, number];
  weight: number;
}

/** Displacement d(p) = Σ amp · sin(k · p + phase) per LPS component; `terms[c]` holds [amp, kx, ky, kz, phase]…. */
export interface Deformation {
  terms: [number[], number[], number[]];
  /** Upper bound of |d_c| over all p and components c (mm). */
  maxMm: number;
}

export interface Anatomy {
  kind: PhantomKind;
  /** Tissue id → tissue; id 0 is the air around everything (at most 255 tissues). */
  tissues: Tissue[];
  /** Highest priority first. */
  shapes: Shape[];
  /** The point a default grid is centred on (anatomy frame, LPS mm). */
  centre: Vec3;
  hosts: LesionHost[];
  deformation: Deformation;
}

export const TORSO_LABELS = {
  liver: 1,
  spleen: 3,
  rightKidney: 5,
  aorta: 6,
  inferiorVenaCava: 7,
  stomach: 12,
  leftKidney: 14,
  leftLungUpper: 28,
  leftLungLower: 29,
  rightLungUpper: 30,
  rightLungMiddle: 31,
  rightLungLower: 32,
  /** L5; L4 = 34 … T1 = 49. */
  vertebraL5: 33,
  /** Left rib n = 62 + n (63…74); right rib n = 74 + n (75…86). */
  leftRib1: 63,
  rightRib1: 75,
  leftAutochthon: 104,
  rightAutochthon: 105,
  leftIliopsoas: 106,
  rightIliopsoas: 107,
  heart: 115,
  spinalCord: 121,
} as const;

export const HEAD_LABELS = { brain: 22, skull: 120 } as const;

/** The anatomy of a phantom of `kind` drawn from `seed`. */
export function buildAnatomy(kind: PhantomKind, seed: number | string): Anatomy {
  const rng = createRng(seed).fork(`anatomy/${kind}`);
  const b = new Builder();
  const { centre, hosts } = kind === 'torso' ? buildTorso(rng, b) : kind === 'head' ? buildHead(rng, b) : buildEmpty(rng, b);
  return { kind, tissues: b.tissues, shapes: b.shapes, centre, hosts, deformation: randomDeformation(rng.fork('deformation')) };
}

/** Tissue id at an anatomy-frame point (LPS mm): the first shape that claims it, else 0 (air). */
export function tissueAt(anatomy: Anatomy, x: number, y: number, z: number): number {
  for (const s of anatomy.shapes) {
    const { min, max } = s.box;
    if (x < min[0] || y < min[1] || z < min[2] || x > max[0] || y > max[1] || z > max[2]) continue;
    const t = s.at(x, y, z);
    if (t) return t;
  }
  return 0;
}

/** Anatomy-frame position of world point (x, y, z) (both LPS mm): p + d(p), written into `out`. */
export function warp(d: Deformation, x: number, y: number, z: number, out: Float64Array | number[]): void {
  for (let c = 0; c < 3; c++) {
    const t = d.terms[c];
    let s = 0;
    for (let m = 0; m < t.length; m += 5) s += t[m] * Math.sin(t[m + 1] * x + t[m + 2] * y + t[m + 3] * z + t[m + 4]);
    out[c] = (c === 0 ? x : c === 1 ? y : z) + s;
  }
}

/** The world point (LPS mm) that `warp` maps onto anatomy-frame point `p` (fixed-point iteration; |∇d| < 1). */
export function unwarp(d: Deformation, p: Vec3): Vec3 {
  const q: Vec3 = [...p];
  const w = [0, 0, 0];
  for (let it = 0; it < 50; it++) {
    warp(d, q[0], q[1], q[2], w);
    const e = [w[0] - p[0], w[1] - p[1], w[2] - p[2]];
    for (let c = 0; c < 3; c++) q[c] -= e[c];
    if (Math.hypot(e[0], e[1], e[2]) < 1e-9) break;
  }
  return q;
}

/** Row-major rotation Rz(az)·Ry(ay)·Rx(ax), angles in degrees; its columns are the rotated x, y, z axes. */
export function rotation(ax: number, ay: number, az: number): Mat3 {
  const [a, b, c] = [ax, ay, az].map((d) => (d * Math.PI) / 180);
  const [ca, sa, cb, sb, cc, sc] = [Math.cos(a), Math.sin(a), Math.cos(b), Math.sin(b), Math.cos(c), Math.sin(c)];
  return [
    cc * cb, cc * sb * sa - sc * ca, cc * sb * ca + sc * sa,
    sc * cb, sc * sb * sa + cc * ca, sc * sb * ca - cc * sa,
    -sb, cb * sa, cb * ca,
  ];
}

/** Σ (local_c / (semi_c − shrink))² at (x, y, z): ≤ 1 inside the ellipsoid shrunk by `shrink` mm. */
export function ellipsoidQ(e: Ellipsoid, x: number, y: number, z: number, shrink = 0): number {
  const dx = x - e.centre[0];
  const dy = y - e.centre[1];
  const dz = z - e.centre[2];
  const r = e.rot;
  const l0 = (r[0] * dx + r[3] * dy + r[6] * dz) / (e.semi[0] - shrink);
  const l1 = (r[1] * dx + r[4] * dy + r[7] * dz) / (e.semi[1] - shrink);
  const l2 = (r[2] * dx + r[5] * dy + r[8] * dz) / (e.semi[2] - shrink);
  return l0 * l0 + l1 * l1 + l2 * l2;
}

/** The tight axis-aligned box of an ellipsoid. */
function ellipsoidBox(e: Ellipsoid): Box {
  const r = e.rot;
  const half = [0, 1, 2].map((i) => Math.hypot(r[3 * i] * e.semi[0], r[3 * i + 1] * e.semi[1], r[3 * i + 2] * e.semi[2]));
  return { min: e.centre.map((c, i) => c - half[i]) as Vec3, max: e.centre.map((c, i) => c + half[i]) as Vec3 };
}

class Builder {
  readonly tissues: Tissue[] = [{ name: 'air', label: 0, hu: -1000 }];
  readonly shapes: Shape[] = [];
  tissue(name: string, label: number, hu: number): number {
    if (this.tissues.length > 255) throw new RangeError('a phantom has at most 255 tissues');
    this.tissues.push({ name, label, hu });
    return this.tissues.length - 1;
  }
  add(...shapes: Shape[]): void {
    this.shapes.push(...shapes);
  }
}

/** A tube of radius `r` along a polyline: one capsule per segment, each with its own tight box. */
function tube(name: string, points: readonly Vec3[], r: number, tissue: number): Shape[] {
  const shapes: Shape[] = [];
  for (let s = 0; s + 1 < points.length; s++) {
    const [ax, ay, az] = points[s];
    const [ex, ey, ez] = points[s + 1];
    const [ux, uy, uz] = [ex - ax, ey - ay, ez - az];
    const len2 = ux * ux + uy * uy + uz * uz || 1;
    const r2 = r * r;
    shapes.push({
      name: `${name}/${s}`,
      box: { min: [Math.min(ax, ex) - r, Math.min(ay, ey) - r, Math.min(az, ez) - r], max: [Math.max(ax, ex) + r, Math.max(ay, ey) + r, Math.max(az, ez) + r] },
      at(x, y, z) {
        const t = Math.min(1, Math.max(0, ((x - ax) * ux + (y - ay) * uy + (z - az) * uz) / len2));
        const dx = x - ax - t * ux;
        const dy = y - ay - t * uy;
        const dz = z - az - t * uz;
        return dx * dx + dy * dy + dz * dz <= r2 ? tissue : 0;
      },
    });
  }
  return shapes;
}

/** Piecewise-linear interpolation of `values` at `nodes` (ascending), constant beyond the ends. */
function lerpTable(nodes: readonly number[], values: readonly number[], z: number): number {
  if (z <= nodes[0]) return values[0];
  for (let i = 1; i < nodes.length; i++) {
    if (z <= nodes[i]) {
      const t = (z - nodes[i - 1]) / (nodes[i] - nodes[i - 1]);
      return values[i - 1] + t * (values[i] - values[i - 1]);
    }
  }
  return values[values.length - 1];
}

/**
 * The torso cross-section: (1 − w)(u² + v²) + w(u⁴ + v⁴) with u = x/a, v = y/b; 1 on the outline. w = 0 is an
 * ellipse, larger w a squarer, superellipse-like outline.
 */
function outline(x: number, y: number, a: number, b: number, w: number): number {
  const u = (x / a) ** 2;
  const v = (y / b) ** 2;
  return (1 - w) * (u + v) + w * (u * u + v * v);
}

/** Distance from the centre to the outline (a, b, w) along unit direction (cx, cy). */
function outlineRadius(cx: number, cy: number, a: number, b: number, w: number): number {
  const c2 = (cx / a) ** 2 + (cy / b) ** 2;
  const c4 = (cx / a) ** 4 + (cy / b) ** 4;
  if (w === 0) return 1 / Math.sqrt(c2);
  const t = (-(1 - w) * c2 + Math.sqrt((1 - w) ** 2 * c2 * c2 + 4 * w * c4)) / (2 * w * c4);
  return Math.sqrt(t);
}

function randomDeformation(rng: Rng): Deformation {
  const terms: [number[], number[], number[]] = [[], [], []];
  let maxMm = 0;
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let m = 0; m < 2; m++) {
      const amp = rng.uniform(0.8, 2.2) * rng.sign();
      const dir = [rng.normal(), rng.normal(), rng.normal()];
      const n = Math.hypot(dir[0], dir[1], dir[2]) || 1;
      const k = (2 * Math.PI) / rng.uniform(150, 320);
      terms[c].push(amp, (k * dir[0]) / n, (k * dir[1]) / n, (k * dir[2]) / n, rng.uniform(0, 2 * Math.PI));
      sum += Math.abs(amp);
    }
    maxMm = Math.max(maxMm, sum);
  }
  return { terms, maxMm };
}

const INFINITE_BOX: Box = { min: [-1e6, -1e6, -1e6], max: [1e6, 1e6, 1e6] };

// ---- torso ----------------------------------------------------------------------------------------------

/** Distance between consecutive vertebral centres, L5→L4 … T2→T1 (mm, before scaling). */
const LEVEL_STEPS = [30, 30, 30, 30, 26, 25, 24, 23, 23, 22, 22, 21, 21, 20, 20, 20];
/** Rib n (index n − 1): anterior end angle (rad from the posterior midline) and drop (mm) from its vertebra. */
const RIB_END = [2.5, 2.6, 2.7, 2.7, 2.7, 2.7, 2.7, 2.55, 2.4, 2.2, 1.8, 1.4];
const RIB_DROP = [20, 35, 55, 62, 68, 72, 75, 75, 70, 62, 45, 28];

function buildTorso(rng: Rng, b: Builder): { centre: Vec3; hosts: LesionHost[] } {
  const L = TORSO_LABELS;
  const g = rng.fork('global');
  const u = (lo: number, hi: number, r = g) => r.uniform(lo, hi);
  const sx = u(0.92, 1.08);
  const sy = u(0.92, 1.08);
  const sz = u(0.95, 1.05);
  const shift: Vec3 = [u(-8, 8), u(-8, 8), u(-10, 10)];
  const P = (x: number, y: number, z: number): Vec3 => [shift[0] + x * sx, shift[1] + y * sy, shift[2] + z * sz];

  // Tissues (HU: non-contrast CT).
  const hu = rng.fork('hu');
  const T = {
    fat: b.tissue('subcutaneous fat', 0, u(-110, -90, hu)),
    visceralFat: b.tissue('visceral fat', 0, u(-100, -80, hu)),
    muscle: b.tissue('muscle', 0, u(38, 48, hu)),
    liver: b.tissue('liver', L.liver, u(54, 66, hu)),
    spleen: b.tissue('spleen', L.spleen, u(45, 55, hu)),
    rightKidney: b.tissue('right kidney', L.rightKidney, u(30, 40, hu)),
    leftKidney: b.tissue('left kidney', L.leftKidney, 0),
    aorta: b.tissue('aorta', L.aorta, u(40, 50, hu)),
    ivc: b.tissue('inferior vena cava', L.inferiorVenaCava, 0),
    heart: b.tissue('heart', L.heart, 0),
    stomachWall: b.tissue('stomach wall', L.stomach, u(35, 45, hu)),
    stomachAir: b.tissue('stomach air', L.stomach, -1000),
    stomachFluid: b.tissue('stomach contents', L.stomach, u(5, 25, hu)),
    disc: b.tissue('intervertebral disc', 0, u(70, 90, hu)),
    csf: b.tissue('spinal canal', 0, u(5, 15, hu)),
    cord: b.tissue('spinal cord', L.spinalCord, u(30, 40, hu)),
    leftAutochthon: b.tissue('left autochthon', L.leftAutochthon, 0),
    rightAutochthon: b.tissue('right autochthon', L.rightAutochthon, 0),
    leftIliopsoas: b.tissue('left iliopsoas', L.leftIliopsoas, 0),
    rightIliopsoas: b.tissue('right iliopsoas', L.rightIliopsoas, 0),
  };
  const tt = b.tissues;
  tt[T.leftKidney].hu = tt[T.rightKidney].hu;
  tt[T.ivc].hu = tt[T.heart].hu = tt[T.aorta].hu;
  for (const m of [T.leftAutochthon, T.rightAutochthon, T.leftIliopsoas, T.rightIliopsoas]) tt[m].hu = tt[T.muscle].hu;
  const lungHu = u(-880, -820, hu);
  const lobes = {
    [L.leftLungUpper]: b.tissue('left lung upper lobe', L.leftLungUpper, lungHu),
    [L.leftLungLower]: b.tissue('left lung lower lobe', L.leftLungLower, lungHu),
    [L.rightLungUpper]: b.tissue('right lung upper lobe', L.rightLungUpper, lungHu),
    [L.rightLungMiddle]: b.tissue('right lung middle lobe', L.rightLungMiddle, lungHu),
    [L.rightLungLower]: b.tissue('right lung lower lobe', L.rightLungLower, lungHu),
  };
  const cortical = u(750, 950, hu);
  const cancellous = u(350, 480, hu);
  const ribHu = u(550, 700, hu);

  // Body outline: the cavity's half-widths (125, 80 mm) plus the muscle wall and the subcutaneous fat, with a
  // slow random modulation along z.
  const bo = rng.fork('body');
  const tFat = u(12, 30, bo);
  const tMuscle = u(13, 18, bo);
  const A = 125 * sx + tMuscle + tFat;
  const B = 80 * sy + tMuscle + tFat;
  const squareness = u(0.15, 0.45, bo);
  const zNodes = [-400, -250, -100, 50, 200, 350, 500].map((z) => shift[2] + z);
  const widthMod = zNodes.map(() => u(0.95, 1.05, bo));
  const bodyZ = [shift[2] - 320, shift[2] + 400];
  const [bx, by] = [shift[0], shift[1]];
  const inside = (inset: number) => (x: number, y: number, z: number): boolean => {
    const m = lerpTable(zNodes, widthMod, z);
    return outline(x - bx, y - by, A * m - inset, B * m - inset, squareness) <= 1;
  };
  const inCavity = inside(tFat + tMuscle);
  const underFat = inside(tFat);

  // Diaphragm: the higher of two Gaussian domes (right higher) over a low posterior-lateral base.
  const di = rng.fork('diaphragm');
  const zBase = shift[2] + u(-45, -30, di) * sz;
  const domeR = P(-70, 5, u(35, 55, di));
  const domeL = P(70, 10, 0);
  domeL[2] = domeR[2] - u(5, 15, di) * sz;
  const wDome2 = 2 * u(60, 75, di) ** 2;
  const zDiaphragm = (x: number, y: number): number => {
    const gR = Math.exp(-((x - domeR[0]) ** 2 + (y - domeR[1]) ** 2) / wDome2);
    const gL = Math.exp(-((x - domeL[0]) ** 2 + (y - domeL[1]) ** 2) / wDome2);
    return zBase + Math.max((domeR[2] - zBase) * gR, (domeL[2] - zBase) * gL);
  };
  const below = (x: number, y: number, z: number) => z < zDiaphragm(x, y) && inCavity(x, y, z);
  const above = (x: number, y: number, z: number) => z >= zDiaphragm(x, y) && inCavity(x, y, z);

  // Spine: L5 … T1 (labels 33 … 49), a gentle lordosis/kyphosis in y.
  const sp = rng.fork('spine');
  const ySpine0 = shift[1] + 40 * sy;
  const lordosis = u(4, 10, sp);
  const kyphosis = u(5, 12, sp);
  const zL5 = shift[2] - 150 * sz;
  const zLevel = [zL5];
  for (const step of LEVEL_STEPS) zLevel.push(zLevel[zLevel.length - 1] + step * sz * u(0.95, 1.05, sp));
  const zT1 = zLevel[zLevel.length - 1];
  const ySpine = (z: number) => ySpine0 - lordosis * Math.exp(-(((z - zLevel[2]) / 60) ** 2)) + kyphosis * Math.exp(-(((z - zLevel[10]) / 90) ** 2));
  const wx0 = u(20, 24, sp);
  const wy0 = u(15, 18, sp);
  const along = (z: number) => Math.min(1, Math.max(0, (z - zL5) / (zT1 - zL5)));
  const wxAt = (z: number) => wx0 * (1 - 0.35 * along(z));
  const wyAt = (z: number) => wy0 * (1 - 0.2 * along(z));
  const canalR = 8;
  const yCanal = (z: number) => ySpine(z) + wyAt(z) + canalR + 1;
  const spineTop = zT1 + 150;

  const spinePath = (y: (z: number) => number, z0: number, z1: number): Vec3[] => {
    const pts: Vec3[] = [];
    for (let z = z0; z < z1 + 20; z += 20) pts.push([bx, y(Math.min(z, z1)), Math.min(z, z1)]);
    return pts;
  };
  b.add(...tube('spinal cord', spinePath(yCanal, zLevel[4] - 10, spineTop), 5, T.cord));
  b.add(...tube('spinal canal', spinePath(yCanal, zL5 - 40, spineTop), canalR, T.csf));

  const post = u(600, 750, hu);
  for (let n = 0; n < zLevel.length; n++) {
    const label = L.vertebraL5 + n;
    const zc = zLevel[n];
    const step = n + 1 < zLevel.length ? zLevel[n + 1] - zc : zc - zLevel[n - 1];
    const hh = (step - 5) / 2;
    const wx = wxAt(zc);
    const wy = wyAt(zc);
    const yb = ySpine(zc);
    const yc = yCanal(zc);
    const cort = b.tissue(`vertebra ${label} cortex`, label, cortical);
    const canc = b.tissue(`vertebra ${label}`, label, cancellous);
    const arch = b.tissue(`vertebra ${label} arch`, label, post);
    const ringA = canalR + 6;
    const ringB = canalR + 5;
    const hp = Math.min(9, hh);
    b.add({
      name: `vertebra ${label}`,
      box: { min: [bx - wx - 17, yb - wy, zc - Math.max(hh, hp + 8)], max: [bx + wx + 17, yc + ringB + 24, zc + Math.max(hh, hp)] },
      at(x, y, z) {
        const dz = z - zc;
        const px = x - bx;
        if (Math.abs(dz) <= hh) {
          const q = (px / wx) ** 2 + ((y - yb) / wy) ** 2;
          if (q <= 1) return Math.abs(dz) <= hh - 1.5 && q <= ((Math.min(wx, wy) - 2) / Math.min(wx, wy)) ** 2 ? canc : cort;
        }
        if (dz > hp || dz < -hp - 8) return 0;
        const dy = y - yc;
        if (px * px + dy * dy < canalR * canalR) return 0;
        if (Math.abs(dz) <= hp && (px / ringA) ** 2 + (dy / ringB) ** 2 <= 1) return arch;
        if (Math.abs(dz) <= 6 && (px / (wx + 16)) ** 2 + (dy / 5) ** 2 + (dz / 6) ** 2 <= 1) return arch;
        const ds = dy - ringB - 7;
        return (px / 4) ** 2 + (ds / 10) ** 2 + ((dz + 3) / 8) ** 2 <= 1 ? arch : 0;
      },
    });
  }

  // Ribs: rib n leaves vertebra T_n at its transverse process and follows the middle of the muscle layer
  // forwards and down, as far as RIB_END[n − 1].
  const ri = rng.fork('ribs');
  const ribR = u(4, 5.5, ri);
  for (let n = 1; n <= 12; n++) {
    const zAtt = zLevel[4 + 13 - n]; // T_n: T12 is level index 5, T1 index 16
    const theta1 = RIB_END[n - 1] + u(-0.1, 0.1, ri);
    const drop = RIB_DROP[n - 1] * u(0.85, 1.15, ri) * sz;
    for (const side of [-1, 1]) {
      const label = side > 0 ? L.leftRib1 + n - 1 : L.rightRib1 + n - 1;
      const tissue = b.tissue(`${side > 0 ? 'left' : 'right'} rib ${n}`, label, ribHu);
      const pts: Vec3[] = [[bx + side * (wxAt(zAtt) + 14), yCanal(zAtt), zAtt]];
      const theta0 = 0.5;
      for (let s = 0; s <= 12; s++) {
        const f = s / 12;
        const th = theta0 + f * (theta1 - theta0);
        const z = zAtt - drop * f ** 1.2;
        const m = lerpTable(zNodes, widthMod, z);
        const [cx, cy] = [side * Math.sin(th), Math.cos(th)];
        const rho = outlineRadius(cx, cy, A * m - tFat - tMuscle / 2, B * m - tFat - tMuscle / 2, squareness);
        pts.push([bx + rho * cx, by + rho * cy, z]);
      }
      b.add(...tube(`rib ${label}`, pts, ribR, tissue));
    }
  }

  // Intervertebral discs: an elliptic column along the spine, under the vertebrae in priority.
  b.add({
    name: 'discs',
    box: { min: [bx - wx0, ySpine0 - lordosis - wy0, zL5 - 20], max: [bx + wx0, ySpine0 + kyphosis + wy0, zT1 + 12] },
    at: (x, y, z) => (z >= zL5 - 20 && z <= zT1 + 12 && ((x - bx) / wxAt(z)) ** 2 + ((y - ySpine(z)) / wyAt(z)) ** 2 <= 1 ? T.disc : 0),
  });

  // Vessels: aorta left of the midline in front of the spine, IVC right of it; they follow the spine's curve.
  const ve = rng.fork('vessels');
  const jit = (p: Vec3): Vec3 => [p[0] + u(-3, 3, ve), p[1] + u(-3, 3, ve) + ySpine(p[2]) - ySpine0, p[2]];
  const rAorta = u(10, 13, ve);
  const yFront = ySpine0 - wy0 - rAorta - 3;
  const aorta = [P(18, 0, -140), P(17, 0, -60), P(20, 0, 10), P(26, 0, 80), P(28, 0, 150), P(22, 0, 195), P(8, 0, 215), P(-5, 0, 200), P(-2, 0, 150)];
  const aortaY = [yFront, yFront, yFront + 2, ySpine0 - 6, ySpine0 - 4, ySpine0 - 15, shift[1] - 5 * sy, shift[1] - 25 * sy, shift[1] - 32 * sy];
  aorta.forEach((p, i) => (p[1] = aortaY[i]));
  b.add(...tube('aorta', aorta.map(jit), rAorta, T.aorta));
  const rIvc = u(9, 12, ve);
  const yIvc = ySpine0 - wy0 - rIvc - 2;
  const ivc = [P(-22, 0, -140), P(-24, 0, -60), P(-26, 0, 0), P(-22, 0, 45), P(-12, 0, 70)];
  const ivcY = [yIvc, yIvc, yIvc - 3, shift[1] - 2 * sy, shift[1] - 15 * sy];
  ivc.forEach((p, i) => (p[1] = ivcY[i]));
  b.add(...tube('inferior vena cava', ivc.map(jit), rIvc, T.ivc));

  // Solid organs: ellipsoids with random size (±8–10 % per axis), position (mm) and tilt (degrees).
  const organ = (name: string, c: Vec3, semi: Vec3, angles: Vec3, jitterMm = 6): Ellipsoid => {
    const r = rng.fork(name);
    return {
      centre: [c[0] + r.uniform(-jitterMm, jitterMm), c[1] + r.uniform(-jitterMm, jitterMm), c[2] + r.uniform(-jitterMm, jitterMm)],
      semi: semi.map((s) => s * r.uniform(0.92, 1.08)) as Vec3,
      rot: rotation(angles[0] + r.uniform(-6, 6), angles[1] + r.uniform(-6, 6), angles[2] + r.uniform(-8, 8)),
    };
  };
  const solid = (name: string, e: Ellipsoid, tissue: number, clip: (x: number, y: number, z: number) => boolean): Shape => ({
    name,
    box: ellipsoidBox(e),
    at: (x, y, z) => (ellipsoidQ(e, x, y, z) <= 1 && clip(x, y, z) ? tissue : 0),
  });

  const kidneyR = organ('right kidney', P(-72, 45, -55), [30, 24, 56], [0, 15, -30]);
  const kidneyL = organ('left kidney', P(72, 45, -45), [30, 24, 56], [0, -15, 30]);
  b.add(solid('right kidney', kidneyR, T.rightKidney, inCavity), solid('left kidney', kidneyL, T.leftKidney, inCavity));

  const spleen = organ('spleen', P(85, 35, -12), [24, 52, 42], [0, 0, 50]);
  b.add(solid('spleen', spleen, T.spleen, below));

  const stomach = organ('stomach', P(50, -30, 5), [38, 32, 60], [0, -25, 10]);
  const st = rng.fork('stomach contents');
  const wall = st.uniform(4, 6);
  const airLevel = stomach.centre[1] + st.uniform(-8, 15); // supine: air rises to small y (anterior)
  b.add({
    name: 'stomach',
    box: ellipsoidBox(stomach),
    at(x, y, z) {
      if (ellipsoidQ(stomach, x, y, z) > 1 || !below(x, y, z)) return 0;
      if (ellipsoidQ(stomach, x, y, z, wall) > 1) return T.stomachWall;
      return y < airLevel ? T.stomachAir : T.stomachFluid;
    },
  });

  // Liver: right upper quadrant, under the right dome; its left-inferior part cut off by a plane (a wedge).
  const liver = organ('liver', P(-52, -5, -25), [85, 72, 80], [0, 0, 0]);
  const lc = rng.fork('liver cut');
  const tilt = lc.uniform(-0.25, 0.25);
  const cutN = [0.6, tilt, -0.8].map((c) => c / Math.hypot(0.6, tilt, 0.8));
  const cutH = lc.uniform(45, 60);
  b.add({
    name: 'liver',
    box: ellipsoidBox(liver),
    at: (x, y, z) => {
      const c = liver.centre;
      if (cutN[0] * (x - c[0]) + cutN[1] * (y - c[1]) + cutN[2] * (z - c[2]) > cutH) return 0;
      return ellipsoidQ(liver, x, y, z) <= 1 && below(x, y, z) ? T.liver : 0;
    },
  });

  const heart = organ('heart', P(18, -35, 85), [62, 46, 52], [0, 15, -25]);
  b.add(solid('heart', heart, T.heart, above));

  // Lungs: above the diaphragm; the major fissure is a plane rising posteriorly (lower lobe behind/below it),
  // the right horizontal fissure a level zH (middle lobe in front of the major fissure and below zH).
  const lu = rng.fork('lobes');
  for (const side of [-1, 1]) {
    const e = side < 0 ? organ('right lung', P(-78, 8, 120), [62, 88, 165], [0, 0, 0], 4) : organ('left lung', P(82, 10, 115), [56, 86, 160], [0, 0, 0], 4);
    const zMajor = shift[2] + lu.uniform(90, 115) * sz;
    const zH = shift[2] + lu.uniform(105, 125) * sz;
    const yc = e.centre[1];
    const [upper, middle, lower] = side < 0 ? [lobes[L.rightLungUpper], lobes[L.rightLungMiddle], lobes[L.rightLungLower]] : [lobes[L.leftLungUpper], lobes[L.leftLungUpper], lobes[L.leftLungLower]];
    b.add({
      name: side < 0 ? 'right lung' : 'left lung',
      box: ellipsoidBox(e),
      at(x, y, z) {
        if (ellipsoidQ(e, x, y, z) > 1 || !above(x, y, z)) return 0;
        if (z < zMajor + 0.9 * (y - yc)) return lower;
        return z < zH ? middle : upper;
      },
    });
  }

  // Back muscles: autochthons beside the spinous processes, iliopsoas beside the lumbar bodies (growing downwards).
  const mu = rng.fork('muscles');
  const aW = u(18, 24, mu);
  const aD = u(15, 20, mu);
  for (const side of [-1, 1]) {
    const tissue = side > 0 ? T.leftAutochthon : T.rightAutochthon;
    const cx = bx + side * (aW + 6);
    b.add({
      name: side > 0 ? 'left autochthon' : 'right autochthon',
      box: { min: [cx - aW, ySpine0 - lordosis + wy0, zL5 - 30], max: [cx + aW, ySpine0 + kyphosis + wy0 + 2 * canalR + 2 * aD + 10, zT1 + 20] },
      at: (x, y, z) => {
        if (z < zL5 - 30 || z > zT1 + 20) return 0;
        const yc = yCanal(z) + 8 + aD * 0.6;
        return ((x - cx) / aW) ** 2 + ((y - yc) / aD) ** 2 <= 1 && underFat(x, y, z) ? tissue : 0;
      },
    });
  }
  const psoasMax = u(18, 24, mu);
  for (const side of [-1, 1]) {
    const tissue = side > 0 ? T.leftIliopsoas : T.rightIliopsoas;
    const zTop = zLevel[5];
    b.add({
      name: side > 0 ? 'left iliopsoas' : 'right iliopsoas',
      box: { min: [bx - wx0 - 2 * psoasMax - 10, ySpine0 - lordosis - psoasMax - 5, zL5 - 40], max: [bx + wx0 + 2 * psoasMax + 10, ySpine0 + kyphosis + psoasMax, zTop] },
      at: (x, y, z) => {
        if (z < zL5 - 40 || z > zTop) return 0;
        const r = 6 + (psoasMax - 6) * Math.min(1, (zTop - z) / (zTop - zL5));
        const cx = bx + side * (wxAt(z) + r - 2);
        return (x - cx) ** 2 + (y - ySpine(z) + 2) ** 2 <= r * r ? tissue : 0;
      },
    });
  }

  // Body: subcutaneous fat, the muscle wall, the (fat-filled) cavity.
  b.add({
    name: 'body',
    box: { min: [bx - 1.06 * A, by - 1.06 * B, bodyZ[0]], max: [bx + 1.06 * A, by + 1.06 * B, bodyZ[1]] },
    at(x, y, z) {
      if (z < bodyZ[0] || z > bodyZ[1]) return 0;
      const m = lerpTable(zNodes, widthMod, z);
      const [px, py] = [x - bx, y - by];
      if (outline(px, py, A * m, B * m, squareness) > 1) return 0;
      if (outline(px, py, A * m - tFat, B * m - tFat, squareness) > 1) return T.fat;
      return outline(px, py, A * m - tFat - tMuscle, B * m - tFat - tMuscle, squareness) > 1 ? T.muscle : T.visceralFat;
    },
  });

  const host = (name: string, label: number, tissue: number, region: Ellipsoid, radiusMm: [number, number], weight: number): LesionHost => ({
    name,
    label,
    hu: tt[tissue].hu,
    region,
    radiusMm,
    weight,
  });
  return {
    centre: [shift[0], shift[1], shift[2] + 10 * sz],
    hosts: [
      host('liver', L.liver, T.liver, liver, [5, 15], 0.5),
      host('spleen', L.spleen, T.spleen, spleen, [4, 10], 0.2),
      host('right kidney', L.rightKidney, T.rightKidney, kidneyR, [4, 9], 0.15),
      host('left kidney', L.leftKidney, T.leftKidney, kidneyL, [4, 9], 0.15),
    ],
  };
}

// ---- head and empty ---------------------------------------------------------------------------------------

function buildHead(rng: Rng, b: Builder): { centre: Vec3; hosts: LesionHost[] } {
  const g = rng.fork('head');
  const scale = g.uniform(0.9, 1.1);
  const e: Ellipsoid = {
    centre: [g.uniform(-8, 8), g.uniform(-8, 8), g.uniform(-10, 10)],
    semi: [72 * scale * g.uniform(0.95, 1.05), 92 * scale * g.uniform(0.95, 1.05), 88 * scale * g.uniform(0.95, 1.05)],
    rot: rotation(g.uniform(-8, 8), g.uniform(-5, 5), g.uniform(-8, 8)),
  };
  const tScalp = g.uniform(4, 7);
  const tSkull = g.uniform(5, 9);
  const scalp = b.tissue('scalp', 0, g.uniform(35, 50));
  const skull = b.tissue('skull', HEAD_LABELS.skull, g.uniform(700, 1000));
  const brain = b.tissue('brain', HEAD_LABELS.brain, g.uniform(30, 40));
  b.add({
    name: 'head',
    box: ellipsoidBox(e),
    at(x, y, z) {
      if (ellipsoidQ(e, x, y, z) > 1) return 0;
      if (ellipsoidQ(e, x, y, z, tScalp) > 1) return scalp;
      return ellipsoidQ(e, x, y, z, tScalp + tSkull) > 1 ? skull : brain;
    },
  });
  const inner: Ellipsoid = { ...e, semi: e.semi.map((s) => s - tScalp - tSkull) as Vec3 };
  return { centre: e.centre, hosts: [{ name: 'brain', label: HEAD_LABELS.brain, hu: b.tissues[brain].hu, region: inner, radiusMm: [5, 15], weight: 1 }] };
}

/** Air only, or (even odds) an infinite water cylinder along z. */
function buildEmpty(rng: Rng, b: Builder): { centre: Vec3; hosts: LesionHost[] } {
  const g = rng.fork('empty');
  if (g.next() < 0.5) return { centre: [0, 0, 0], hosts: [] };
  const r = g.uniform(90, 160);
  const [cx, cy] = [g.uniform(-10, 10), g.uniform(-10, 10)];
  const water = b.tissue('water', 0, 0);
  b.add({ name: 'water cylinder', box: INFINITE_BOX, at: (x, y) => ((x - cx) ** 2 + (y - cy) ** 2 <= r * r ? water : 0) });
  return { centre: [cx, cy, 0], hosts: [] };
}
