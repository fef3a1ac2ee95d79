import { gzipSync } from 'fflate';
import { gunzipLimited } from '#inflate';
import { InvalidImageError, LimitExceededError } from '../errors.ts';

/** True when the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Gunzips (all members) without ever holding more than `maxBytes` of output: a decompression bomb stops with a
 * LimitExceededError as soon as it passes the limit. Node's zlib in Node, fflate in browsers (`#inflate`).
 */
export function gunzipBounded(bytes: Uint8Array, maxBytes: number, what = 'gzip stream'): Uint8Array {
  try {
    return gunzipLimited(bytes, maxBytes);
  } catch (e) {
    if (e instanceof RangeError && e.message === 'over limit') {
      throw new LimitExceededError('maxDecompressedBytes', maxBytes + 1, maxBytes, `${what} decompresses to more than allowed`);
    }
    throw new InvalidImageError(`${what} is not valid gzip data: ${(e as Error).message}`, { cause: e });
  }
}

export function gzip(bytes: Uint8Array, level: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 = 6): Uint8Array {
  return gzipSync(bytes, { level });
}
