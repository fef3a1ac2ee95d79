import { indexToWorld, type Vec3, type Volume } from './volume.ts';

/**
 * A label result as the part of the grid it changed: a box [lo, hi) of voxel indices on the input's grid (index
 * axes i, j, k), the labels inside it (i fastest, dims hi − lo), and the one value every voxel outside it holds
 * (0 = background, or the model's not-processed value where nothing ran). Lossless: `regionToVolume` gives back
 * the full-grid result. An empty region (lo = hi) means "every voxel is `outside`".
 */
export interface LabelRegion {
  lo: Vec3;
  hi: Vec3;
  data: Uint8Array;
  outside: number;
}

/** The region of a result that covers nothing: every voxel is `outside`. */
export function emptyRegion(outside: number): LabelRegion {
  return { lo: [0, 0, 0], hi: [0, 0, 0], data: new Uint8Array(0), outside };
}

export function regionDims(r: Pick<LabelRegion, 'lo' | 'hi'>): Vec3 {
  return [r.hi[0] - r.lo[0], r.hi[1] - r.lo[1], r.hi[2] - r.lo[2]];
}

/** The region's labels as a volume of their own: `grid`'s spacing and direction, the origin at voxel `lo`. */
export function regionSubVolume(r: LabelRegion, grid: Pick<Volume, 'spacing' | 'direction' | 'origin'>): Volume<Uint8Array> {
  return { data: r.data, dims: regionDims(r), spacing: [...grid.spacing] as Vec3, direction: [...grid.direction] as Volume['direction'], origin: indexToWorld(grid, r.lo) };
}

/** The full-grid label volume (`grid`'s dims and geometry) the region stands for. */
export function regionToVolume(r: LabelRegion, grid: Omit<Volume, 'data'>): Volume<Uint8Array> {
  const [nx, ny] = grid.dims;
  const data = new Uint8Array(grid.dims[0] * grid.dims[1] * grid.dims[2]);
  if (r.outside) data.fill(r.outside);
  const [bx, by, bz] = regionDims(r);
  for (let z = 0; z < bz; z++)
    for (let y = 0; y < by; y++) {
      const src = bx * (y + by * z);
      data.set(r.data.subarray(src, src + bx), r.lo[0] + nx * (r.lo[1] + y + ny * (r.lo[2] + z)));
    }
  return { data, dims: [...grid.dims] as Vec3, spacing: [...grid.spacing] as Vec3, direction: [...grid.direction] as Volume['direction'], origin: [...grid.origin] as Vec3 };
}

/**
 * The smallest region of a full-grid label array (i fastest, dims `dims`) holding every voxel that differs from
 * `outside`; an all-`outside` array gives an empty region at the origin.
 */
export function cropToRegion(data: Uint8Array, dims: Vec3, outside: number): LabelRegion {
  const [nx, ny, nz] = dims;
  const lo: Vec3 = [nx, ny, nz];
  const hi: Vec3 = [0, 0, 0];
  let o = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, o++) {
        if (data[o] === outside) continue;
        if (i < lo[0]) lo[0] = i;
        if (i >= hi[0]) hi[0] = i + 1;
        if (j < lo[1]) lo[1] = j;
        if (j >= hi[1]) hi[1] = j + 1;
        if (k < lo[2]) lo[2] = k;
        if (k >= hi[2]) hi[2] = k + 1;
      }
  if (hi[0] === 0) return emptyRegion(outside);
  return { lo, hi, data: extractBox(data, dims, lo, hi), outside };
}

/** The voxels of box [lo, hi) of an array (fastest axis first, dims `dims`), in the same layout, same type. */
export function extractBox<T extends Uint8Array | Float32Array>(data: T, dims: Vec3, lo: Vec3, hi: Vec3): T {
  const [nx, ny] = dims;
  const [bx, by, bz] = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
  const out = new (data.constructor as new (n: number) => T)(bx * by * bz);
  for (let z = 0; z < bz; z++)
    for (let y = 0; y < by; y++) {
      const src = lo[0] + nx * (lo[1] + y + ny * (lo[2] + z));
      out.set(data.subarray(src, src + bx), bx * (y + by * z));
    }
  return out;
}
