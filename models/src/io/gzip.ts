import { Gunzip, gzipSync } from 'fflate';
import { InvalidImageError, LimitExceededError } from '../errors.ts';

/** True when the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Gunzips (all members) without ever holding more than `maxBytes` of output: a decompression bomb stops with a
 * LimitExceededError as soon as it passes the limit. Runs in Node and in browsers (fflate).
 */
export function gunzipBounded(bytes: Uint8Array, maxBytes: number, what = 'gzip stream'): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const g = new Gunzip((chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw new LimitExceededError('maxDecompressedBytes', total, maxBytes, `${what} decompresses to more than allowed`);
    chunks.push(chunk);
  });
  try {
    const step = 1 << 20;
    for (let off = 0; off < bytes.length; off += step) {
      const end = Math.min(bytes.length, off + step);
      g.push(bytes.subarray(off, end), end === bytes.length);
    }
  } catch (e) {
    if (e instanceof LimitExceededError) throw e;
    throw new InvalidImageError(`${what} is not valid gzip data: ${(e as Error).message}`, { cause: e });
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

export function gzip(bytes: Uint8Array, level: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 = 6): Uint8Array {
  return gzipSync(bytes, { level });
}
