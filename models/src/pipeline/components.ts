import type { Vec3 } from '../geometry/volume.ts';

/**
 * Keeps the 6-connected components of `mask` (x fastest, dims `dims`) that contain at least one seed;
 * everything else becomes 0. Seeds outside the image or on a 0 voxel select nothing. Returns a new mask.
 */
export function keepComponentsWithSeeds(mask: Uint8Array, dims: Vec3, seeds: readonly Vec3[]): Uint8Array {
  const [nx, ny, nz] = dims;
  const sz = nx * ny;
  const out = new Uint8Array(mask.length);
  const queue = new Int32Array(mask.length);
  for (const s of seeds) {
    const [x, y, z] = s.map(Math.round);
    if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) continue;
    const start = x + nx * (y + ny * z);
    if (!mask[start] || out[start]) continue;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    out[start] = 1;
    while (head < tail) {
      const p = queue[head++];
      const px = p % nx;
      const py = Math.floor(p / nx) % ny;
      const pz = Math.floor(p / sz);
      const visit = (q: number) => {
        if (mask[q] && !out[q]) {
          out[q] = 1;
          queue[tail++] = q;
        }
      };
      if (px > 0) visit(p - 1);
      if (px < nx - 1) visit(p + 1);
      if (py > 0) visit(p - nx);
      if (py < ny - 1) visit(p + nx);
      if (pz > 0) visit(p - sz);
      if (pz < nz - 1) visit(p + sz);
    }
  }
  return out;
}
