/**
 * A seeded pseudo-random generator (mulberry32) with the helpers the fuzzers need. Every fuzz run
 * prints its seed; the same seed regenerates the same frames per connection slot (see fuzz-run.ts).
 */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** An independent stream for one slot, so slots do not depend on each other's interleaving. */
  fork(label: number): Prng {
    return new Prng(Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(label + 1, 0xc2b2ae35));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Picks a key of `weights` with probability proportional to its weight. */
  weighted<K extends string | number>(weights: ReadonlyArray<readonly [K, number]>): K {
    const total = weights.reduce((sum, [, weight]) => sum + weight, 0);
    let point = this.next() * total;
    for (const [key, weight] of weights) {
      point -= weight;
      if (point < 0) return key;
    }
    return weights[weights.length - 1]![0];
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** A short id-like ASCII string. */
  word(min = 1, max = 12): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
    let out = '';
    for (let i = this.range(min, max); i > 0; i--) out += alphabet[this.int(alphabet.length)];
    return out;
  }
}

/** A seed from the environment (FUZZ_SEED) or a fresh random one. */
export function seedFromEnv(env: Record<string, string | undefined> = process.env): number {
  const raw = env['FUZZ_SEED'];
  if (raw !== undefined && raw !== '') return Number(raw) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}
