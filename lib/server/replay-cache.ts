/**
 * Refuses a signed request seen before: each verified signature is kept
 * until its X-Amz-Date leaves the clock-skew window, after which the request
 * is refused as expired anyway. Memory is bounded: when full, the oldest
 * entries go and requests dated at or before the newest evicted one are
 * refused, so an evicted signature can never be replayed (the window narrows
 * instead of opening).
 */
export class ReplayCache {
  readonly #windowMs: number;
  readonly #max: number;
  /** signature -> request time; Map keeps insertion order, which is close to time order. */
  readonly #seen = new Map<string, number>();
  #floor = -Infinity;

  constructor(windowMs: number, max = 1_000_000) {
    this.#windowMs = windowMs;
    this.#max = max;
  }

  /** Records a signature; false when it was seen (a replay) or is older than what the cache can vouch for. */
  admit(signature: string, time: number, now: number): boolean {
    this.#sweep(now);
    if (time <= this.#floor || this.#seen.has(signature)) return false;
    this.#seen.set(signature, time);
    if (this.#seen.size > this.#max) {
      const [oldest, oldestTime] = this.#seen.entries().next().value as [string, number];
      this.#seen.delete(oldest);
      this.#floor = Math.max(this.#floor, oldestTime);
    }
    return true;
  }

  #sweep(now: number): void {
    const limit = now - this.#windowMs;
    for (const [signature, time] of this.#seen) {
      // Entries arrive roughly in time order: stop at the first one still in the window.
      if (time >= limit) break;
      this.#seen.delete(signature);
    }
  }

  get size(): number {
    return this.#seen.size;
  }
}
