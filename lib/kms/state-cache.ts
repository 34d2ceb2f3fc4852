/**
 * A cache of mutable state (a key's record, an alias target) that no node
 * trusts for longer than the TTL without asking the store: an entry is used
 * as is within the TTL of when it was known current (no query: the hot path);
 * after that, it is kept if the store generation has not moved since it was
 * loaded (one shared generation read per TTL), and reloaded otherwise.
 * Change hints drop entries early. Misses are single-flight.
 */
import type { GenerationCheck } from './generation-check.js';
import { SingleFlight } from './single-flight.js';

interface Entry<T> {
  value: T;
  /** The generation read before the value was loaded: any later change moves it. */
  generation: number;
  /** When the value was last known current (the start of that generation read). */
  validAt: number;
}

export class StateCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #flights = new SingleFlight<T>();
  readonly #generation: GenerationCheck;
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(generation: GenerationCheck, ttlMs: number, max = 100_000) {
    this.#generation = generation;
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  /** The value when it is known current without asking the store (within the TTL), else undefined. */
  peek(key: string): T | undefined {
    const entry = this.#entries.get(key);
    return entry !== undefined && Date.now() - entry.validAt < this.#ttlMs ? entry.value : undefined;
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && Date.now() - entry.validAt < this.#ttlMs) return Promise.resolve(entry.value);
    return this.#flights.run(key, async () => {
      const reading = await this.#generation.current();
      const current = this.#entries.get(key);
      if (current !== undefined && current.generation === reading.value) {
        current.validAt = Math.max(current.validAt, reading.at);
        return current.value;
      }
      const value = await load();
      if (this.#entries.size >= this.#max) this.#entries.clear();
      this.#entries.set(key, { value, generation: reading.value, validAt: reading.at });
      return value;
    });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
