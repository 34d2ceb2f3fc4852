/**
 * Per-principal rate limits: a token bucket per principal holding up to
 * `burst` requests, refilled at `perSecond`. A request finding the bucket
 * empty is refused with ThrottlingException (which AWS SDKs retry with back-off).
 */
export class RateLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** `perSecond` 0 (or less) means no limit. */
  constructor(perSecond: number, burst = perSecond, now: () => number = () => performance.now()) {
    this.#perSecond = perSecond;
    this.#burst = Math.max(1, burst);
    this.#now = now;
  }

  /** Takes one token for `principal`; false when none is left. */
  take(principal: string): boolean {
    if (this.#perSecond <= 0) return true;
    const now = this.#now();
    let bucket = this.#buckets.get(principal);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(principal, bucket);
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
