/**
 * A data-key cache in front of a keyring, with the Encryption SDK's caching
 * limits: on encrypt, one data key (and its encrypted copies) serves many
 * messages until it is `maxAge` old or has encrypted `maxMessagesEncrypted`
 * messages or `maxBytesEncrypted` bytes; on decrypt, a data key unwrapped
 * once serves every message carrying the same encrypted data keys, for
 * `maxAge`. Entries are keyed by partition (one per keyring), suite and
 * encryption context (plus, on decrypt, the encrypted data keys).
 *
 * Concurrent misses for one entry make one call to the keyring (single
 * flight: the peer's caching CMM makes one per caller). Cached data keys are
 * native key handles; an evicted one is wiped as soon as no message in
 * flight still uses it.
 *
 * Not cached, by design: signed suites on encrypt (each message needs its own
 * signing key, bound into the context the data key is wrapped with), v1
 * suites without a KDF (their key is the content key), and encrypt calls
 * whose plaintext length is not known up front (a stream without
 * `plaintextLength`), since the byte limit could not be kept.
 */
import crypto from 'node:crypto';
import type { AeadKey } from '../aead.js';
import { KmsError } from '../errors.js';
import { serializeEncryptionContext } from '../encryption-context.js';
import { invalidArgType } from '../validate.js';
import type { EncryptedDataKey } from './header-codec.js';
import { DecryptionMaterials, EncryptionMaterials, isKeyring, type Keyring } from './materials.js';
import type { AlgorithmSuite } from './suites.js';

/** Options of {@link CachingKeyring}. */
export interface CachingKeyringOptions {
  /** The keyring whose data keys are cached (a KmsKeyring, typically). */
  keyring: Keyring;
  /** How long an entry may be used, in milliseconds (required, as in the Encryption SDK). */
  maxAge: number;
  /** Entries kept at most (least recently used go first; default 1000). Ignored when `cache` is given. */
  capacity?: number;
  /** Messages one cached data key may encrypt (default and maximum 2^32). */
  maxMessagesEncrypted?: number;
  /** Plaintext bytes one cached data key may encrypt (default and maximum 2^53 - 1). */
  maxBytesEncrypted?: number;
  /** A cache shared by several keyrings (each in its own partition). Default: a cache of this keyring's own. */
  cache?: DataKeyCache;
  /** Separates this keyring's entries in a shared cache (default: a random name, so nothing is shared by accident). */
  partition?: string;
}

const MAX_MESSAGES = 2 ** 32;

/** One direction's counts in {@link CachingKeyringStats}. */
export interface CacheUseCounts {
  /** Served from a live entry. */
  hits: number;
  /** Waited for an entry to be made (one keyring call per entry, however many waited for it). */
  misses: number;
  /** Passed to the wrapped keyring, never cached (see the CachingKeyring comment: signed suites, unknown lengths...). */
  bypassed: number;
}

/**
 * What a CachingKeyring did since it was made. A cache that is not doing its
 * job shows here: few hits, or most calls bypassed (a stream without
 * `plaintextLength`, a signed suite), or `keyringCalls` near the message count.
 */
export interface CachingKeyringStats {
  encrypt: CacheUseCounts;
  decrypt: CacheUseCounts;
  /** Calls that reached the wrapped keyring (entries made, and bypassed calls). */
  keyringCalls: number;
  /** Entries retired at their message or byte limit. */
  limitEvictions: number;
}

interface Entry {
  readonly dataKey: AeadKey;
  readonly edks: readonly EncryptedDataKey[];
  readonly expiresAt: number;
  messages: number;
  bytes: number;
  /** Operations using the key now; it is destroyed once evicted and unused. */
  users: number;
  evicted: boolean;
}

/** An LRU of data keys; share one between keyrings with the `cache` option. */
export class DataKeyCache {
  readonly capacity: number;
  readonly #entries = new Map<string, Entry>();
  /** The key of the most recently used entry (the Map's last). */
  #newest: string | undefined;

  constructor(options: { capacity?: number } = {}) {
    const capacity = options.capacity ?? 1000;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new KmsError('ValidationException', 'capacity must be a positive integer');
    this.capacity = capacity;
  }

  /** Entries held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** @internal The live entry for `key`, most recently used from now on. */
  get(key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.evict(key);
      return undefined;
    }
    // Already the most recent (one hot key, typically): no reinsertion.
    if (key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      this.#newest = key;
    }
    return entry;
  }

  /** @internal Adds an entry, evicting the least recently used beyond capacity. */
  put(key: string, entry: Entry): void {
    this.evict(key);
    this.#entries.set(key, entry);
    this.#newest = key;
    while (this.#entries.size > this.capacity) this.evict(this.#entries.keys().next().value as string);
  }

  /** @internal Drops an entry; its key is wiped now, or when its last user is done. */
  evict(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    if (key === this.#newest) this.#newest = undefined;
    entry.evicted = true;
    if (entry.users === 0) entry.dataKey.destroy();
  }

  /** Drops every entry (keys in use are wiped when their messages are done). */
  clear(): void {
    for (const key of [...this.#entries.keys()]) this.evict(key);
  }
}

function positive(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new KmsError('ValidationException', `${name} must be an integer from 1 to ${max}`);
  }
  return value;
}

/** Longer keys are kept as a digest, so large encrypted data keys do not fill memory. */
const MAX_PLAIN_KEY_LENGTH = 2048;

/**
 * The cache key of some parts after a `prefix` made by this function: each
 * part length-prefixed (bytes as latin1), so distinct parts never make one
 * key. Short keys stay plain strings: hashing them cost more than a 1 KiB
 * message's AES. A digest is '#' and 44 characters; a plain key is longer
 * or starts with a digit, so the two never meet.
 */
function cacheKey(parts: readonly (string | Uint8Array)[], prefix = ''): string {
  let key = prefix;
  for (const part of parts) {
    const text = typeof part === 'string' ? part : Buffer.from(part.buffer, part.byteOffset, part.length).toString('latin1');
    key += `${text.length}:${text}`;
  }
  if (key.length <= MAX_PLAIN_KEY_LENGTH) return key;
  return '#' + crypto.createHash('sha256').update(key, 'latin1').digest('base64');
}

interface LastKey {
  readonly parts: readonly (string | Uint8Array)[];
  readonly key: string;
}

function sameParts(a: readonly (string | Uint8Array)[], b: readonly (string | Uint8Array)[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (typeof x === 'string' || typeof y === 'string') {
      if (x !== y) return false;
    } else if (x.length !== y.length) {
      return false;
    } else {
      for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
    }
  }
  return true;
}

function cacheable(suite: AlgorithmSuite): boolean {
  return suite.kdf !== 'none';
}

/** A keyring that caches the data keys of another (see the file comment for what is and is not cached). */
export class CachingKeyring implements Keyring {
  readonly cache: DataKeyCache;
  readonly partition: string;
  readonly maxAge: number;
  readonly maxMessagesEncrypted: number;
  readonly maxBytesEncrypted: number;
  readonly #keyring: Keyring;
  readonly #inFlight = new Map<string, Promise<Entry | undefined>>();
  /** The first parts of this keyring's cache keys, made once. */
  readonly #prefix: { readonly encrypt: string; readonly decrypt: string };
  /** The last key made per kind: messages in a row mostly share suite, context (and, on decrypt, data keys). */
  readonly #lastKey: { encrypt?: LastKey; decrypt?: LastKey } = {};
  readonly #stats: CachingKeyringStats = {
    encrypt: { hits: 0, misses: 0, bypassed: 0 },
    decrypt: { hits: 0, misses: 0, bypassed: 0 },
    keyringCalls: 0,
    limitEvictions: 0,
  };

  constructor(options: CachingKeyringOptions) {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    if (!isKeyring(options.keyring)) throw invalidArgType('options.keyring', 'a keyring', options.keyring);
    if (options.cache !== undefined && !(options.cache instanceof DataKeyCache)) throw invalidArgType('options.cache', 'a DataKeyCache', options.cache);
    if (options.partition !== undefined && (typeof options.partition !== 'string' || options.partition.length === 0)) {
      throw invalidArgType('options.partition', 'a non-empty string', options.partition);
    }
    this.#keyring = options.keyring;
    if (options.maxAge === undefined) throw new KmsError('ValidationException', 'maxAge is required: how long a cached data key may be used, in milliseconds');
    this.maxAge = positive('maxAge', options.maxAge, 0, Number.MAX_SAFE_INTEGER);
    this.maxMessagesEncrypted = positive('maxMessagesEncrypted', options.maxMessagesEncrypted, MAX_MESSAGES, MAX_MESSAGES);
    this.maxBytesEncrypted = positive('maxBytesEncrypted', options.maxBytesEncrypted, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    this.cache = options.cache ?? new DataKeyCache({ ...(options.capacity !== undefined && { capacity: options.capacity }) });
    this.partition = options.partition ?? crypto.randomUUID();
    this.#prefix = { encrypt: cacheKey(['encrypt', this.partition]), decrypt: cacheKey(['decrypt', this.partition]) };
  }

  /** A snapshot of this keyring's cache use (see {@link CachingKeyringStats}). */
  get stats(): CachingKeyringStats {
    const { encrypt, decrypt, keyringCalls, limitEvictions } = this.#stats;
    return { encrypt: { ...encrypt }, decrypt: { ...decrypt }, keyringCalls, limitEvictions };
  }

  needsDataKeyBytes(asGenerator: boolean): boolean {
    return this.#keyring.needsDataKeyBytes(asGenerator);
  }

  async onEncrypt(materials: EncryptionMaterials): Promise<void> {
    const length = materials.plaintextLength;
    if (
      materials.dataKey !== undefined || materials.exposeBytes || materials.suite.signature !== undefined ||
      !cacheable(materials.suite) || length === undefined || length > this.maxBytesEncrypted
    ) {
      this.#stats.encrypt.bypassed++;
      this.#stats.keyringCalls++;
      return this.#keyring.onEncrypt(materials);
    }
    const key = this.#key('encrypt', [String(materials.suite.id), materials.serializedContext]);
    for (;;) {
      const cached = this.cache.get(key, Date.now());
      if (cached === undefined) this.#stats.encrypt.misses++;
      const entry = cached ?? (await this.#singleFlight(key, () => this.#fillForEncrypt(materials)));
      // Evicted between its fill and now (capacity pressure, or another caller used it up): fill again.
      if (entry === undefined || entry.evicted) continue;
      if (entry.messages + 1 > this.maxMessagesEncrypted || entry.bytes + length > this.maxBytesEncrypted) {
        this.#stats.limitEvictions++;
        this.cache.evict(key);
        continue;
      }
      if (cached !== undefined) this.#stats.encrypt.hits++;
      entry.messages += 1;
      entry.bytes += length;
      this.#lend(entry, (release) => materials.setDataKey(entry.dataKey, undefined, release));
      for (const edk of entry.edks) materials.addEncryptedDataKey(edk);
      return;
    }
  }

  async onDecrypt(materials: DecryptionMaterials, edks: readonly EncryptedDataKey[]): Promise<void> {
    if (materials.dataKey !== undefined || !cacheable(materials.suite) || materials.suite.keyLength !== 32) {
      this.#stats.decrypt.bypassed++;
      this.#stats.keyringCalls++;
      return this.#keyring.onDecrypt(materials, edks);
    }
    const parts: (string | Uint8Array)[] = [String(materials.suite.id), serializeEncryptionContext(materials.encryptionContext)];
    for (const edk of edks) parts.push(edk.providerId, edk.rawInfo, edk.encryptedDataKey);
    const key = this.#key('decrypt', parts);
    const cached = this.cache.get(key, Date.now());
    if (cached !== undefined) this.#stats.decrypt.hits++;
    else this.#stats.decrypt.misses++;
    const entry = cached ?? (await this.#singleFlight(key, () => this.#fillForDecrypt(materials, edks)));
    if (entry === undefined) return; // no EDK opened: decrypt fails as it would without the cache
    if (entry.evicted) {
      this.#stats.keyringCalls++;
      return this.#keyring.onDecrypt(materials, edks);
    }
    this.#lend(entry, (release) => materials.setDataKey(entry.dataKey, release));
  }

  /** The cache key of `parts`: the same string object as last time when they are equal (cheaper to build and to look up). */
  #key(kind: 'encrypt' | 'decrypt', parts: (string | Uint8Array)[]): string {
    const last = this.#lastKey[kind];
    if (last !== undefined && sameParts(last.parts, parts)) return last.key;
    const key = cacheKey(parts, this.#prefix[kind]);
    // Copies (not Buffer#slice, a view): the caller may change the bytes it passed later.
    this.#lastKey[kind] = { parts: parts.map((part) => (typeof part === 'string' ? part : Buffer.from(part))), key };
    return key;
  }

  /** One call to the keyring per missing entry, however many callers miss it at once. */
  #singleFlight(key: string, fill: () => Promise<Entry | undefined>): Promise<Entry | undefined> {
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      pending = fill().then(
        (entry) => {
          this.#inFlight.delete(key);
          if (entry !== undefined) this.cache.put(key, entry);
          return entry;
        },
        (error: unknown) => {
          this.#inFlight.delete(key);
          throw error;
        },
      );
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  async #fillForEncrypt(materials: EncryptionMaterials): Promise<Entry | undefined> {
    // The keyring works on materials of its own; the cache keeps its key.
    const own = new EncryptionMaterials(materials.suite, materials.encryptionContext, false, materials.plaintextLength);
    this.#stats.keyringCalls++;
    await this.#keyring.onEncrypt(own);
    const dataKey = own.dataKey;
    if (dataKey === undefined || own.encryptedDataKeys.length === 0) {
      own.releaseDataKey();
      throw new KmsError('ValidationException', 'The cached keyring made no data key');
    }
    return this.#entry(dataKey, own.encryptedDataKeys);
  }

  async #fillForDecrypt(materials: DecryptionMaterials, edks: readonly EncryptedDataKey[]): Promise<Entry | undefined> {
    const own = new DecryptionMaterials(materials.suite, materials.encryptionContext);
    this.#stats.keyringCalls++;
    await this.#keyring.onDecrypt(own, edks);
    const dataKey = own.detachDataKey();
    if (dataKey === undefined) return undefined;
    if (dataKey instanceof Uint8Array) {
      dataKey.fill(0);
      return undefined;
    }
    return this.#entry(dataKey, []);
  }

  #entry(dataKey: AeadKey, edks: readonly EncryptedDataKey[]): Entry {
    return { dataKey, edks: Object.freeze([...edks]), expiresAt: Date.now() + this.maxAge, messages: 0, bytes: 0, users: 0, evicted: false };
  }

  /** Lends the entry's key to one operation; the release hook wipes it if it was evicted meanwhile. */
  #lend(entry: Entry, give: (release: () => void) => void): void {
    entry.users += 1;
    let released = false;
    give(() => {
      if (released) return;
      released = true;
      entry.users -= 1;
      if (entry.evicted && entry.users === 0) entry.dataKey.destroy();
    });
  }
}
