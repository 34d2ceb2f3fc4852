/**
 * Finds keys for operations without a store query on the hot path.
 *
 * - Mutable state (a key's record: enabled, pending deletion, primary
 *   version; alias targets) is trusted for `ttlMs` (default 1 s), then kept
 *   only if the store generation has not moved (state-cache.ts), so a change
 *   made on another node is honoured here within the TTL whether or not its
 *   change hint (PostgreSQL NOTIFY) arrives; a hint only makes it sooner.
 * - Key versions (wrapped material) are immutable apart from a domain-key
 *   re-wrap, which keeps the old wrapping usable: cached for good (bounded),
 *   misses are not cached.
 * - Concurrent misses for one key share one query (single flight).
 */
import { KmsError } from '../errors.js';
import type { KeyRecord, KeyStore, KeyStoreChange, KeyVersionRecord } from '../keystore/index.js';
import { GenerationCheck } from './generation-check.js';
import { isKeyId, parseKeyReference, type ArnSettings } from './key-references.js';
import { SingleFlight } from './single-flight.js';
import { StateCache } from './state-cache.js';

const MAX_VERSIONS = 100_000;

function notFound(what: string): KmsError {
  return new KmsError('NotFoundException', `${what} does not exist`);
}

export class KeyResolver {
  readonly #store: KeyStore;
  readonly #arn: ArnSettings;
  readonly #generation: GenerationCheck;
  readonly #keys: StateCache<KeyRecord | null>;
  readonly #aliases: StateCache<string | null>;
  readonly #versions = new Map<string, KeyVersionRecord>();
  readonly #versionFlights = new SingleFlight<KeyVersionRecord | null>();
  readonly #stopWatching: () => void;

  constructor(store: KeyStore, arn: ArnSettings, ttlMs: number) {
    this.#store = store;
    this.#arn = arn;
    this.#generation = new GenerationCheck(store, ttlMs);
    this.#keys = new StateCache(this.#generation, ttlMs);
    this.#aliases = new StateCache(this.#generation, ttlMs);
    this.#stopWatching = store.watchChanges?.((change) => this.#onChange(change)) ?? (() => undefined);
  }

  /** A change hint from another node: drop what it names (everything mutable when it names nothing). */
  #onChange(change: KeyStoreChange): void {
    this.#generation.invalidate();
    if (change.keyId !== undefined) this.#keys.delete(change.keyId);
    if (change.aliasName !== undefined) this.#aliases.delete(change.aliasName);
    if (change.keyId === undefined && change.aliasName === undefined) {
      this.#keys.clear();
      this.#aliases.clear();
    }
  }

  /** Stops listening to change hints. */
  close(): void {
    this.#stopWatching();
  }

  /** The key named by an id, ARN, alias or alias ARN; NotFoundException if none. */
  async resolve(reference: unknown): Promise<KeyRecord> {
    const parsed = parseKeyReference(reference, this.#arn);
    const keyId = parsed.kind === 'key' ? parsed.keyId : await this.aliasTarget(parsed.aliasName);
    if (keyId === null) throw notFound('The alias');
    return this.byId(keyId);
  }

  /**
   * The key a key id names when the cache knows it current, else undefined:
   * the hot operations skip the promise chain of {@link resolve} with it.
   * Other references (aliases, ARNs) and misses go through resolve().
   */
  peek(reference: unknown): KeyRecord | undefined {
    if (typeof reference !== 'string' || !isKeyId(reference)) return undefined;
    return this.#keys.peek(reference) ?? undefined;
  }

  /** A cached version record, else undefined (then ask {@link version}). */
  peekVersion(keyId: string, version: number): KeyVersionRecord | undefined {
    return this.#versions.get(`${keyId}/${version}`);
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

  /** One version of a key (its wrapped material), or null. */
  async version(keyId: string, version: number): Promise<KeyVersionRecord | null> {
    const id = `${keyId}/${version}`;
    const cached = this.#versions.get(id);
    if (cached !== undefined) return cached;
    return this.#versionFlights.run(id, async () => {
      const record = await this.#store.getKeyVersion(keyId, version);
      // A miss is not cached: the version may be made (by a rotation elsewhere) at any time.
      if (record !== null) {
        if (this.#versions.size >= MAX_VERSIONS) this.#versions.clear();
        this.#versions.set(id, record);
      }
      return record;
    });
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
