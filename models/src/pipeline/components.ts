import type { Vec3 } from '../geometry/volume.ts';

/**
 * Keeps the 6-connected components of the voxels of `mask` equal to `value` (x fastest, dims `dims`) that contain
 * at least one seed; the result is 1 there and 0 elsewhere. Seeds outside the image or on another value select
 * nothing. Returns a new mask. (No closure per voxel: this runs over whole original-resolution images.)
 */
export function keepComponentsWithSeeds(mask: Uint8Array, dims: Vec3, seeds: readonly Vec3[], value = 1): Uint8Array {
  const [nx, ny, nz] = dims;
  const sz = nx * ny;
  const out = new Uint8Array(mask.length);
  let queue: Int32Array | null = null;
  for (const s of seeds) {
    const [x, y, z] = s.map(Math.round);
    if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) continue;
    const start = x + nx * (y + ny * z);
    if (mask[start] !== value || out[start]) continue;
    queue ??= new Int32Array(mask.length);
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    out[start] = 1;
    while (head < tail) {
      const p = queue[head++];
      const px = p % nx;
      const py = ((p - px) / nx) % ny;
      const pz = (p - px - nx * py) / sz;
      let q = p - 1;
      if (px > 0 && mask[q] === value && !out[q]) (out[q] = 1), (queue[tail++] = q);
      q = p + 1;
      if (px < nx - 1 && mask[q] === value && !out[q]) (out[q] = 1), (queue[tail++] = q);
      q = p - nx;
      if (py > 0 && mask[q] === value && !out[q]) (out[q] = 1), (queue[tail++] = q);
      q = p + nx;
      if (py < ny - 1 && mask[q] === value && !out[q]) (out[q] = 1), (queue[tail++] = q);
      q = p - sz;
      if (pz > 0 && mask[q] === value && !out[q]) (out[q] = 1), (queue[tail++] = q);
      q = p + sz;
      if (pz < nz - 1 && mask[q] === value && !out[q]) (out[q] = 1), (queue[tail++] = q);
    }
  }
  return out;
}
