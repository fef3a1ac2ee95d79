/** A byte-bounded least-recently-used map; `onEvict` hears of every entry pushed out to make room. */
export class LruCache<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private total = 0;
  constructor(
    readonly maxBytes: number,
    private readonly onEvict: (key: string, bytes: number) => void = () => undefined,
  ) {}

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { value, bytes });
    this.total += bytes;
    for (const [k, e] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(k);
      this.total -= e.bytes;
      this.onEvict(k, e.bytes);
    }
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (e) this.total -= e.bytes;
    this.entries.delete(key);
  }

  get bytes(): number {
    return this.total;
  }
  get size(): number {
    return this.entries.size;
  }
}
