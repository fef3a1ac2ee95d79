import type { Vec3 } from '../geometry/volume.ts';

/**
 * Separable Gaussian blur in place. Layout: `data[i + dims[0] * (j + dims[1] * k)]` (i fastest);
 * `sigmaVoxels[a]` is the standard deviation along index axis a in voxels (a sigma in mm divided by that
 * axis' spacing; on an oblique grid this blurs along the index axes, which is what a scanner's kernel does
 * too). Axes with sigma < 0.1 voxel are left alone; edges repeat the border voxel. Kernels are normalised, so
 * constant regions stay constant.
 */
export function gaussianBlur(data: Float32Array, dims: Vec3, sigmaVoxels: Vec3): void {
  const strides = [1, dims[0], dims[0] * dims[1]];
  let src: Float32Array | null = null;
  for (let axis = 0; axis < 3; axis++) {
    const sigma = sigmaVoxels[axis];
    const len = dims[axis];
    if (!(sigma >= 0.1) || len < 2) continue;
    const radius = Math.ceil(3 * sigma);
    const kernel = new Float32Array(2 * radius + 1);
    let sum = 0;
    for (let t = -radius; t <= radius; t++) sum += kernel[t + radius] = Math.exp(-(t * t) / (2 * sigma * sigma));
    for (let t = 0; t < kernel.length; t++) kernel[t] /= sum;
    src ??= new Float32Array(data.length);
    src.set(data);
    const stride = strides[axis];
    if (stride === 1) {
      // Along i: one contiguous line at a time.
      for (let b = 0; b < data.length; b += len) {
        for (let p = 0; p < len; p++) {
          let acc = 0;
          for (let t = -radius; t <= radius; t++) acc += kernel[t + radius] * src[b + (p + t < 0 ? 0 : p + t >= len ? len - 1 : p + t)];
          data[b + p] = acc;
        }
      }
      continue;
    }
    data.fill(0);
    // Along j or k: blocks of `len` slabs of `stride` contiguous voxels, added slab by slab.
    const block = stride * len;
    for (let b = 0; b < data.length; b += block) {
      for (let p = 0; p < len; p++) {
        const dst = b + p * stride;
        for (let t = -radius; t <= radius; t++) {
          const from = b + (p + t < 0 ? 0 : p + t >= len ? len - 1 : p + t) * stride;
          const w = kernel[t + radius];
          for (let s = 0; s < stride; s++) data[dst + s] += w * src[from + s];
        }
      }
    }
  }
}
