import { createHash } from 'node:crypto';
import type { FeatureCache, TensorData, Volume } from '@vista3d/models';
import { LruCache } from '../lru.ts';

/**
 * Encoder features kept across requests, so that the next click on the same image runs only the point head (the
 * encoder is most of a window's cost). Keyed by the image's content — SHA-256 of its voxels and geometry,
 * computed once per loaded volume — and the window; bounded in bytes (FEATURE_CACHE_BYTES), least recently used
 * out first. Content, not names: a file or series that changes under the same name never meets stale features.
 */
export class FeatureStore {
  private readonly lru: LruCache<TensorData>;
  private readonly ids = new WeakMap<Volume, string>();

  constructor(
    maxBytes: number,
    private readonly onLookup?: (hit: boolean) => void,
  ) {
    this.lru = new LruCache(maxBytes);
  }

  /** The cache for one image; undefined when caching is off (FEATURE_CACHE_BYTES=0). */
  for(volume: Volume): FeatureCache | undefined {
    if (this.lru.maxBytes <= 0) return undefined;
    const id = this.contentId(volume);
    return {
      get: (window) => {
        const f = this.lru.get(`${id}|${window}`);
        this.onLookup?.(f !== undefined);
        return f;
      },
      set: (window, f) => this.lru.set(`${id}|${window}`, f, f.data.byteLength),
    };
  }

  get bytes(): number {
    return this.lru.bytes;
  }

  private contentId(v: Volume): string {
    let id = this.ids.get(v);
    if (!id) {
      const h = createHash('sha256');
      h.update(JSON.stringify({ type: v.data.constructor.name, dims: v.dims, spacing: v.spacing, origin: v.origin, direction: v.direction }));
      h.update(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
      id = h.digest('base64url');
      this.ids.set(v, id);
    }
    return id;
  }
}
