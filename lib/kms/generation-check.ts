/**
 * The store generation as this node last read it: a number every key, alias
 * or domain-key change bumps (KeyStore.generation). Read at most once per
 * TTL (single flight), so revalidating every cached key state costs one
 * query per TTL per node while nothing changes.
 */
import type { KeyStore } from '../keystore/index.js';

/** A generation reading: its value and when the read started (what it proves is as of then). */
export interface GenerationReading {
  value: number;
  at: number;
}

export class GenerationCheck {
  readonly #store: KeyStore;
  readonly #ttlMs: number;
  #last: GenerationReading | null = null;
  #inflight: Promise<GenerationReading> | null = null;

  constructor(store: KeyStore, ttlMs: number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  /** A reading no older than the TTL. */
  current(): Promise<GenerationReading> {
    const last = this.#last;
    if (last !== null && Date.now() - last.at < this.#ttlMs) return Promise.resolve(last);
    if (this.#inflight !== null) return this.#inflight;
    const at = Date.now();
    this.#inflight = this.#store.generation().then(
      (value) => {
        this.#inflight = null;
        this.#last = { value, at };
        return this.#last;
      },
      (error: unknown) => {
        this.#inflight = null;
        throw error;
      },
    );
    return this.#inflight;
  }

  /** Forgets the last reading (a change hint arrived): the next check reads again. */
  invalidate(): void {
    this.#last = null;
  }
}
