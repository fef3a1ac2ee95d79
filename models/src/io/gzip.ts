import { gunzipLimited, gzipBytes } from '#inflate';
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

/**
 * Gzips `bytes` with Node's native zlib (fflate in browsers, `#inflate`); `labels: true` for label maps (runs of
 * one value) picks zlib's run-length strategy, 40× faster than fflate at the same level for 7 % more bytes.
 */
export function gzip(bytes: Uint8Array, opts: { level?: number; labels?: boolean } = {}): Uint8Array {
  return gzipBytes(bytes, opts.level ?? 6, opts.labels ?? false);
}
