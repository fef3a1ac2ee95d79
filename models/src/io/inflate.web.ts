import { Gunzip, gzipSync } from 'fflate';

/**
 * Gunzip in browsers (fflate, streamed in 1 MB steps), never holding more than `maxBytes` of output.
 * Throws RangeError('over limit') past the limit, Error on corrupt data. Node uses inflate.node.ts.
 */
export function gunzipLimited(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const g = new Gunzip((chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw new RangeError('over limit');
    chunks.push(chunk);
  });
  const step = 1 << 20;
  for (let off = 0; off < bytes.length; off += step) {
    const end = Math.min(bytes.length, off + step);
    g.push(bytes.subarray(off, end), end === bytes.length);
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

/** Gzip in browsers (fflate; `rle` is a zlib strategy it does not have: ignored). */
export function gzipBytes(bytes: Uint8Array, level: number, _rle: boolean): Uint8Array {
  return gzipSync(bytes, { level: level as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 });
}
