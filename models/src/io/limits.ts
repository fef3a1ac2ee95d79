import { LimitExceededError } from '../errors.ts';

/**
 * Bounds every reader checks **before** allocating: a hostile header cannot make us allocate more.
 * Defaults fit a large CT (512×512×1000 int16 is 262 M voxels, 0.5 GB) on a 24 GB machine.
 */
export interface ReadLimits {
  /** Most voxels a header may declare. */
  maxVoxels: number;
  /** Most bytes after decompression (voxel payload plus header). */
  maxDecompressedBytes: number;
}

export const DEFAULT_READ_LIMITS: Readonly<ReadLimits> = Object.freeze({
  maxVoxels: 2 ** 28,
  maxDecompressedBytes: 2 ** 31,
});

export function resolveLimits(limits?: Partial<ReadLimits>): ReadLimits {
  return { ...DEFAULT_READ_LIMITS, ...limits };
}

/** Throws a LimitExceededError when dims declare more voxels than allowed (or are not positive integers). */
export function checkVoxelCount(dims: readonly number[], limits: ReadLimits, what: string): number {
  let n = 1;
  for (const d of dims) n *= d;
  if (n > limits.maxVoxels) throw new LimitExceededError('maxVoxels', n, limits.maxVoxels, `${what} declares ${dims.join('×')} voxels`);
  return n;
}
