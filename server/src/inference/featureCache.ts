import { createHash } from 'node:crypto';
import type { Box, ImageCache, Preprocessed, TensorData, Volume } from '@vista3d/models';
import { LruCache } from '../lru.ts';

/**
 * What the server keeps per image between prompts, keyed by the image's content — SHA-256 of its voxels and
 * geometry, computed once per loaded volume — never by a name: a file or series that changes under the same name
 * never meets stale state. Two byte-bounded LRUs (least recently used out first, evictions reported):
 * - encoder features per window (FEATURE_CACHE_BYTES): the next click re-runs only the point head;
 * - the model-space image a class prompt runs on, with the mapping back (PREPARED_CACHE_BYTES): the next class
 *   prompt does no whole-volume pre-processing.
 * (The decoded volumes of series URLs are the series cache's, SERIES_CACHE_BYTES.)
 */
export class ImageStateStore {
  private readonly features: LruCache<TensorData>;
  private readonly prepared: LruCache<Preprocessed>;
  /** Foreground boxes (a few numbers each) per image: a small bound of its own. */
  private readonly foreground = new LruCache<Box>(1024 * 1024);
  private readonly ids = new WeakMap<Volume, string>();
  constructor(
    sizes: { featureBytes: number; preparedBytes: number },
    private readonly events: { lookup?: (cache: 'features' | 'prepared', hit: boolean) => void; evict?: (cache: 'features' | 'prepared') => void } = {},
  ) {
    this.features = new LruCache(sizes.featureBytes, () => events.evict?.('features'));
    this.prepared = new LruCache(sizes.preparedBytes, () => events.evict?.('prepared'));
  }

  /** The state of one image, for the pipeline; parts are absent when their budget is 0. */
  for(volume: Volume): ImageCache {
    const id = this.contentId(volume);
    const out: ImageCache = {};
    if (this.features.maxBytes > 0) {
      out.features = {
        get: (window) => {
          const f = this.features.get(`${id}|${window}`);
          this.events.lookup?.('features', f !== undefined);
          return f;
        },
        set: (window, f) => this.features.set(`${id}|${window}`, f, f.data.byteLength),
      };
    }
    if (this.prepared.maxBytes > 0) {
      out.preprocessed = {
        get: () => {
          const p = this.prepared.get(id);
          this.events.lookup?.('prepared', p !== undefined);
          return p;
        },
        set: (p) => this.prepared.set(id, p, p.image.byteLength),
      };
    }
    out.foreground = { get: () => this.foreground.get(id), set: (b) => this.foreground.set(id, b, 64) };
    return out;
  }

  get bytes(): { features: number; prepared: number } {
    return { features: this.features.bytes, prepared: this.prepared.bytes };
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
