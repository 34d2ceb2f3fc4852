/**
 * Finds keys for operations without a store query on the hot path: a key's
 * mutable state (enabled, pending deletion, primary version) and alias
 * targets are cached for a short TTL (default 1 s) and dropped at once when
 * this process changes them; key versions are immutable apart from a
 * domain-key re-wrap, which invalidates them explicitly. Concurrent misses
 * for one key share one query (single flight).
 */
import { KmsError } from '../errors.js';
import type { KeyRecord, KeyStore, KeyVersionRecord } from '../keystore/index.js';
import { parseKeyReference, type ArnSettings } from './key-references.js';

interface Entry<T> {
  value: T;
  expires: number;
}

/** A TTL cache whose misses are single-flight. */
class TtlCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #inflight = new Map<string, Promise<T>>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(ttlMs: number, max = 100_000) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expires > Date.now()) return Promise.resolve(entry.value);
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return pending;
    const loading = load().then(
      (value) => {
        this.#inflight.delete(key);
        if (this.#entries.size >= this.#max) this.#entries.clear();
        this.#entries.set(key, { value, expires: Date.now() + this.#ttlMs });
        return value;
      },
      (error: unknown) => {
        this.#inflight.delete(key);
        throw error;
      },
    );
    this.#inflight.set(key, loading);
    return loading;
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}

function notFound(what: string): KmsError {
  return new KmsError('NotFoundException', `${what} does not exist`);
}

export class KeyResolver {
  readonly #store: KeyStore;
  readonly #arn: ArnSettings;
  readonly #keys: TtlCache<KeyRecord | null>;
  readonly #aliases: TtlCache<string | null>;
  readonly #versions: TtlCache<KeyVersionRecord | null>;

  constructor(store: KeyStore, arn: ArnSettings, ttlMs: number) {
    this.#store = store;
    this.#arn = arn;
    this.#keys = new TtlCache(ttlMs);
    this.#aliases = new TtlCache(ttlMs);
    // Versions change only through re-wrap (invalidated explicitly): keep them long.
    this.#versions = new TtlCache(3_600_000);
  }

  /** The key named by an id, ARN, alias or alias ARN; NotFoundException if none. */
  async resolve(reference: unknown): Promise<KeyRecord> {
    const parsed = parseKeyReference(reference, this.#arn);
    const keyId = parsed.kind === 'key' ? parsed.keyId : await this.aliasTarget(parsed.aliasName);
    if (keyId === null) throw notFound('The alias');
    return this.byId(keyId);
  }

  /** The key with this id (from a ciphertext blob, say). */
  async byId(keyId: string): Promise<KeyRecord> {
    const key = await this.#keys.get(keyId, () => this.#store.getKey(keyId));
    if (key === null) throw notFound('The key');
    return key;
  }

  /** The key an alias points at, or null. */
  aliasTarget(aliasName: string): Promise<string | null> {
    return this.#aliases.get(aliasName, async () => (await this.#store.getAlias(aliasName))?.keyId ?? null);
  }

  async version(keyId: string, version: number): Promise<KeyVersionRecord | null> {
    return this.#versions.get(`${keyId}/${version}`, () => this.#store.getKeyVersion(keyId, version));
  }

  /** Forget what this process knows of a key (after changing it). */
  forgetKey(keyId: string): void {
    this.#keys.delete(keyId);
  }

  forgetAlias(aliasName: string): void {
    this.#aliases.delete(aliasName);
  }

  forgetVersion(keyId: string, version: number): void {
    this.#versions.delete(`${keyId}/${version}`);
  }

  forgetAll(): void {
    this.#keys.clear();
    this.#aliases.clear();
    this.#versions.clear();
  }
}
