import type { VoxelArray } from '../geometry/volume.ts';

/** Voxel payload bytes ↔ typed arrays, in either byte order (shared by the NIfTI and NRRD readers/writers). */

/** A typed-array constructor of one of the `VoxelArray` types. */
export interface VoxelArrayConstructor {
  new (length: number): VoxelArray;
  readonly BYTES_PER_ELEMENT: number;
}

/** True when this machine stores numbers little-endian (typed arrays use the host's byte order). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Copies `count` voxels stored at `bytes[offset…]` in the given byte order into a new typed array of `ctor`
 * (host order). The caller has checked that the bytes are there.
 */
export function decodeVoxels(
  bytes: Uint8Array,
  offset: number,
  ctor: VoxelArrayConstructor,
  count: number,
  littleEndian: boolean,
): VoxelArray {
  const out = new ctor(count);
  const size = ctor.BYTES_PER_ELEMENT;
  const src = bytes.subarray(offset, offset + count * size);
  const dst = new Uint8Array(out.buffer);
  if (size === 1 || littleEndian === HOST_LITTLE_ENDIAN) {
    dst.set(src);
    return out;
  }
  for (let p = 0; p < src.length; p += size) for (let b = 0; b < size; b++) dst[p + b] = src[p + size - 1 - b];
  return out;
}

/** The bytes of a typed array, in host byte order, without copying. */
export function voxelBytes(data: VoxelArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
