/**
 * Materials and keyrings. A keyring makes or wraps the data key on encrypt
 * (the generator makes it, the others add an encrypted copy) and unwraps one
 * on decrypt. The data key is a native {@link AeadKey}; its bytes appear in
 * JavaScript only when a keyring must wrap it there (RSA, node:crypto AES-128
 * /192, the KMS's byte API) and are wiped when the operation ends.
 */
import crypto from 'node:crypto';
import { aead, AeadKey } from '../aead.js';
import { serializeEncryptionContext, type EncryptionContext } from '../encryption-context.js';
import type { EncryptedDataKey } from './header-codec.js';
import type { PlaintextDataKey } from './kdf.js';
import type { AlgorithmSuite } from './suites.js';

/** What a keyring sees and fills in on encrypt. */
export class EncryptionMaterials {
  readonly encryptedDataKeys: EncryptedDataKey[] = [];
  #dataKey: AeadKey | undefined;
  #bytes: Uint8Array | undefined;
  #release: (() => void) | undefined;
  #serializedContext: Uint8Array | undefined;

  /**
   * @param exposeBytes true when some keyring of this operation wraps the
   *   data key in JavaScript, so the generator must hand out its bytes too.
   * @param plaintextLength the message's plaintext length when known up
   *   front (a data-key cache counts bytes with it).
   */
  constructor(
    readonly suite: AlgorithmSuite,
    readonly encryptionContext: EncryptionContext,
    readonly exposeBytes: boolean,
    readonly plaintextLength?: number,
  ) {}

  /** The context as the header stores it (computed once per message). */
  get serializedContext(): Uint8Array {
    return (this.#serializedContext ??= serializeEncryptionContext(this.encryptionContext));
  }

  /** The data key, once the generator has made it. */
  get dataKey(): AeadKey | undefined {
    return this.#dataKey;
  }

  /** The data key's bytes: only when {@link exposeBytes}; wiped by {@link dispose}. */
  get dataKeyBytes(): Uint8Array | undefined {
    return this.#bytes;
  }

  /**
   * Called once, by the generator. `bytes` must be given when
   * {@link exposeBytes}; this takes them over. A key lent by a cache comes
   * with `release`, called instead of destroying the key when the operation
   * is done with it.
   */
  setDataKey(key: AeadKey, bytes?: Uint8Array, release?: () => void): void {
    if (this.#dataKey !== undefined) throw new TypeError('The data key is already set');
    if (this.exposeBytes && bytes === undefined) throw new TypeError('This operation needs the data key bytes');
    this.#dataKey = key;
    this.#release = release;
    if (this.exposeBytes) this.#bytes = bytes;
    else bytes?.fill(0);
  }

  /** The operation is done with the data key: destroys it, or hands a lent one back. */
  releaseDataKey(): void {
    const release = this.#release;
    this.#release = undefined;
    if (release !== undefined) release();
    else this.#dataKey?.destroy();
    this.#dataKey = undefined;
  }

  addEncryptedDataKey(edk: EncryptedDataKey): void {
    // A frozen one (a cached copy) cannot change under us: no need to copy it.
    this.encryptedDataKeys.push(Object.isFrozen(edk) ? edk : Object.freeze({ ...edk }));
  }

  /** Wipes the bytes copy (the key handle is the operation's to destroy). */
  dispose(): void {
    this.#bytes?.fill(0);
    this.#bytes = undefined;
  }
}

/**
 * A fresh data key for a generator: made natively, or (when the bytes must
 * be exposed) from node:crypto's CSPRNG and imported, the bytes kept for
 * the other keyrings and wiped by the materials.
 */
export function generateDataKey(materials: EncryptionMaterials): void {
  if (!materials.exposeBytes) {
    materials.setDataKey(aead.generateKey());
    return;
  }
  const bytes = crypto.randomBytes(materials.suite.keyLength);
  materials.setDataKey(aead.importKey(bytes), bytes);
}

/** What a keyring sees and fills in on decrypt. */
export class DecryptionMaterials {
  #dataKey: PlaintextDataKey | undefined;
  /** For a key lent by a cache: hands it back instead of destroying it. */
  #release: (() => void) | undefined;

  constructor(
    readonly suite: AlgorithmSuite,
    /** The message's full context: stored pairs plus the caller's authenticated-only ones. */
    readonly encryptionContext: EncryptionContext,
  ) {}

  get dataKey(): PlaintextDataKey | undefined {
    return this.#dataKey;
  }

  /**
   * Sets the unwrapped key. Bytes are taken over: a 32-byte key goes into
   * native memory and the bytes are wiped; 16/24-byte legacy keys stay as
   * bytes (wiped when the operation ends). Throws when the length is not
   * the suite's.
   */
  setDataKey(key: AeadKey | Uint8Array, release?: () => void): void {
    if (this.#dataKey !== undefined) throw new TypeError('The data key is already set');
    if (key instanceof AeadKey) {
      if (this.suite.keyLength !== 32) throw new TypeError('Wrong data key length for the suite');
      this.#dataKey = key;
      this.#release = release;
      return;
    }
    if (key.length !== this.suite.keyLength) {
      key.fill(0);
      throw new TypeError('Wrong data key length for the suite');
    }
    if (key.length === 32) {
      this.#dataKey = aead.importKey(key);
      key.fill(0);
    } else {
      this.#dataKey = key;
    }
  }

  /** Hands the data key over to the caller (which then wipes it); the materials forget it. */
  detachDataKey(): PlaintextDataKey | undefined {
    if (this.#release !== undefined) throw new TypeError('A lent data key cannot be detached');
    const key = this.#dataKey;
    this.#dataKey = undefined;
    return key;
  }

  /** Wipes the data key (or hands a lent one back). */
  dispose(): void {
    const release = this.#release;
    this.#release = undefined;
    if (release !== undefined) {
      this.#dataKey = undefined;
      release();
      return;
    }
    if (this.#dataKey instanceof AeadKey) this.#dataKey.destroy();
    else this.#dataKey?.fill(0);
    this.#dataKey = undefined;
  }
}

/** A keyring: wraps data keys on encrypt, unwraps one on decrypt. */
export interface Keyring {
  /**
   * True when this keyring must see the data key's bytes on encrypt
   * (`asGenerator`: it would be the one making the key).
   */
  needsDataKeyBytes(asGenerator: boolean): boolean;
  /** Makes the data key if there is none yet (or throws if it cannot), and adds its encrypted copies. */
  onEncrypt(materials: EncryptionMaterials): Promise<void>;
  /** Sets the data key if it can unwrap one of `edks`; leaves it unset otherwise. */
  onDecrypt(materials: DecryptionMaterials, edks: readonly EncryptedDataKey[]): Promise<void>;
}

/** True for an object with the {@link Keyring} methods. */
export function isKeyring(value: unknown): value is Keyring {
  const k = value as Partial<Keyring> | null;
  return typeof k === 'object' && k !== null && typeof k.onEncrypt === 'function' && typeof k.onDecrypt === 'function' && typeof k.needsDataKeyBytes === 'function';
}
