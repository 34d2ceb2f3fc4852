// A seeded generator for the crash suites, so a failing run can be replayed:
// the seed comes from HSMKMS_CRASH_SEED or is drawn fresh, and is printed.

/** mulberry32: small, fast, and plenty for choosing kill points. */
export class SeededRandom {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [low, high]. */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }

  /** A 32-bit seed for a child generator (each run gets its own, derived from this one). */
  fork(): SeededRandom {
    return new SeededRandom(this.int(0, 0xffffffff));
  }
}

/** The suite's seed: HSMKMS_CRASH_SEED (decimal) if set, else a fresh one. */
export function suiteSeed(): number {
  const fromEnv = process.env.HSMKMS_CRASH_SEED;
  if (fromEnv === undefined || fromEnv === '') return Math.floor(Math.random() * 0xffffffff);
  const seed = Number(fromEnv);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`HSMKMS_CRASH_SEED must be an integer in [0, 2^32), got '${fromEnv}'`);
  return seed;
}
