// Seeded PRNG for the fuzzer. Every image is a pure function of (seed, index): the generator for one
// image is keyed by both, so a single failing image can be regenerated without replaying the run.

/** splitmix32-style finaliser: spreads nearby inputs (index, index + 1) over the whole 32-bit range. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** sfc32: small, fast, good enough statistics for picking mutations (not for cryptography). */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    this.a = mix32(seed >>> 0);
    this.b = mix32(this.a ^ (stream >>> 0));
    this.c = mix32(this.b ^ Math.floor(seed / 0x100000000));
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.u32() / 0x100000000;
  }

  /** Uniform integer in [0, n); n must be a positive safe integer. */
  int(n: number): number {
    if (n <= 0x100000000) return Math.floor(this.float() * n);
    return Math.floor(((this.u32() * 0x100000000 + this.u32()) / 2 ** 64) * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)];
  }

  /** Pick by weight: entries are [weight, value]. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of items) total += w;
    let x = this.float() * total;
    for (const [w, v] of items) {
      if (x < w) return v;
      x -= w;
    }
    return items[items.length - 1][1];
  }
}

/** The generator for image `index` of a run with `seed`. */
export function imageRng(seed: number, index: number): Prng {
  return new Prng(seed, mix32(index >>> 0) ^ mix32(Math.floor(index / 0x100000000) + 0x5bd1e995));
}
