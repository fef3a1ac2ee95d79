/**
 * A small seeded pseudo-random generator (sfc32, seeded through a 128-bit string hash) for the phantoms.
 *
 * Everything in a phantom derives from its seed through named sub-streams (`fork('liver')`), so one organ's
 * draws never shift another's and the same seed gives the same numbers on every machine: the generator uses
 * only 32-bit integer arithmetic; `normal` adds `Math.log`/`Math.sqrt` (IEEE-exact sqrt; V8's log is its
 * fdlibm port, identical on every platform Node runs on).
 */
export interface Rng {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number;
  /** Gaussian with the given mean and standard deviation (Marsaglia's polar method). */
  normal(mean?: number, sd?: number): number;
  /**
   * Approximately standard normal from one 32-bit draw: the sum of its four bytes (Irwin–Hall, n = 4), centred
   * and scaled to unit variance; range ±3.46. Integer arithmetic only, several times faster than `normal`.
   */
  quickNormal(): number;
  /** −1 or +1 with equal odds. */
  sign(): number;
  /** An independent stream named by `tag`: depends only on this stream's seed and the tag, not on draws made. */
  fork(tag: string): Rng;
}

export function createRng(seed: number | string): Rng {
  return new Sfc32(String(seed));
}

/** 1 / standard deviation of a sum of four uniform bytes: sqrt(4 · (256² − 1) / 12). */
const QUICK_NORMAL_SCALE = 1 / Math.sqrt((4 * (256 * 256 - 1)) / 12);

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 32-bit variant); state in fields for speed. */
class Sfc32 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = NaN;
  constructor(private readonly key: string) {
    [this.a, this.b, this.c, this.d] = hash128(key);
    for (let i = 0; i < 12; i++) this.next(); // mix the hashed state
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  sign(): number {
    return this.next() < 0.5 ? -1 : 1;
  }
  quickNormal(): number {
    const w = this.next() * 4294967296;
    const sum = (w & 255) + ((w >>> 8) & 255) + ((w >>> 16) & 255) + (w >>> 24);
    return (sum - 510) * QUICK_NORMAL_SCALE;
  }
  normal(mean = 0, sd = 1): number {
    if (this.spare === this.spare) {
      const z = this.spare;
      this.spare = NaN;
      return mean + sd * z;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.next() - 1;
      v = 2 * this.next() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    return mean + sd * u * f;
  }
  fork(tag: string): Rng {
    return new Sfc32(`${this.key}/${tag}`);
  }
}

/** cyrb128: four 32-bit words from a string (UTF-16 code units), integer arithmetic only. */
function hash128(s: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < s.length; i++) {
    const k = s.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 | 0, h2 | 0, h3 | 0, h4 | 0];
}
