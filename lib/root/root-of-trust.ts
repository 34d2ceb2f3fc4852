/**
 * The root of trust of the key hierarchy as the KMS sees it, for every kind
 * of root (a PKCS#11 token, the embedded `soft` root): domain keys, CMK
 * material generated and wrapped under them, and every operation that needs
 * a CMK's secret part. Internal: the KMS is the public surface.
 *
 * Mirrors native/core/root_of_trust.h. Every method that touches the root
 * runs on the root's own native threads, never on the JS thread; argument
 * errors are thrown synchronously with Node's `ERR_INVALID_ARG_*` codes and
 * operational errors reject with a `KmsError` (a `Pkcs11Error` when a
 * PKCS#11 call failed).
 */
import type { AeadKey } from '../aead.js';
import type { KeySpec, KeyUsage } from '../keystore/key-store.js';

export type { KeySpec, KeyUsage };

/** The kinds of root: a PKCS#11 token, or the embedded soft root. */
export type RootKind = 'pkcs11' | 'soft';

/** How a domain key wraps CMK material (stored with each wrapped key). */
export const WRAP_ALGORITHMS = ['AES_KWP_RFC5649'] as const;
/** A wrap algorithm's name. */
export type WrapAlgorithm = (typeof WRAP_ALGORITHMS)[number];

/** RSA-OAEP variants, as AWS KMS names them. */
export const OAEP_HASHES = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;
/** An RSA-OAEP variant. */
export type OaepHash = (typeof OAEP_HASHES)[number];

/** Signing algorithms, as AWS KMS names them. */
export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
] as const;
/** A signing algorithm. */
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** MAC algorithms of HMAC keys, as AWS KMS names them (one per key spec: HMAC_256 makes HMAC_SHA_256). */
export const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
/** A MAC algorithm. */
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];

/** Whether sign/verify get the message (hashed on the host) or its digest. */
export const MESSAGE_TYPES = ['RAW', 'DIGEST'] as const;
/** A message type. */
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** A CMK version's material as stored outside the root, wrapped by a domain key. */
export interface WrappedKey {
  /** The CMK id; (id, version) names the unwrapped key in the root's cache. */
  id: string;
  version: number;
  /** The domain key version that wraps it. */
  domainVersion: number;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  algorithm: WrapAlgorithm;
  /** The wrapped material (RFC 5649: 40 bytes for AES-256; PKCS#8 inside for private keys). */
  blob: Uint8Array;
}

/** New CMK material: a wrapped key without its id and version (the caller names it). */
export interface GeneratedKey extends Omit<WrappedKey, 'id' | 'version'> {
  /** SubjectPublicKeyInfo DER of an asymmetric key; null for symmetric keys. */
  publicKey: Uint8Array | null;
}

/** The result of {@link RootOfTrust.encrypt}. */
export interface RootCiphertext {
  /** The IV actually used (some HSMs choose their own). */
  iv: Uint8Array;
  /** Ciphertext || 16-byte tag. */
  ciphertext: Uint8Array;
}

/** One item of {@link RootOfTrust.encryptMany} / {@link RootOfTrust.decryptMany}. */
export interface RootBatchItem {
  /** The GCM IV (12 bytes): encryptMany fails an item whose root would choose another. */
  iv: Uint8Array;
  /** The additional authenticated data (not empty). */
  aad: Uint8Array;
  /** Plaintext (encryptMany) or ciphertext || 16-byte tag (decryptMany). */
  input: Uint8Array;
  /** encryptMany: where ciphertext || tag goes (input.length + 16 bytes; a view into a blob, say). Default: a new buffer. */
  output?: Uint8Array;
}

/** What one item of a batch came to: its output, or the error it met (the others go on). */
export type RootBatchResult = { output: Uint8Array; error?: undefined } | { output?: undefined; error: Error };

/** The result of {@link RootOfTrust.generateDataKey}: a data key and its encryption. */
export interface GeneratedDataKey extends RootCiphertext {
  /** The data key, from the root's RNG. */
  plaintext: Uint8Array;
}

/** The result of {@link RootOfTrust.generateDataKeyHandle}. */
export interface DataKeyHandle {
  /** The data key, in native memory only. */
  dataKey: AeadKey;
  /** The IV used (the one given). */
  iv: Uint8Array;
  /** The data key encrypted under the CMK: ciphertext || 16-byte tag. */
  ciphertext: Uint8Array;
}

/** Counters of a root. */
export interface RootStats {
  kind: RootKind;
  /** Unwrapped CMK versions held. */
  cachedKeys: number;
  /** Operations tried again after a recoverable error. */
  retries: number;
  /** Unwraps of CMK material (cache misses). */
  unwraps: number;
  /** PKCS#11 only: worker sessions open. */
  workerSessions?: number;
  /** PKCS#11 only: grows with every recovery that lost handles (restart, lost login). */
  generation?: number;
  /** PKCS#11 only: objects the token shows this process (token and session objects). */
  objects?: number;
}

/** What every root of trust offers the KMS. */
export interface RootOfTrust {
  readonly kind: RootKind;

  /** Creates domain key `version`; resolves to what the key store keeps to find it again. `AlreadyExistsException` if it exists. */
  createDomainKey(version: number): Promise<Uint8Array>;
  /** Makes domain key `version` usable from its stored reference. `NotFoundException` when absent or not the one named. */
  openDomainKey(version: number, reference: Uint8Array): Promise<void>;

  /**
   * The stored reference of domain key `version` when the root itself keeps
   * it (a token: the key's CKA_ID); null when absent, and always for the
   * soft root (the key store keeps its references).
   */
  findDomainKey(version: number): Promise<Uint8Array | null>;

  /** `length` random bytes from the root's RNG. */
  generateRandom(length: number): Promise<Uint8Array>;

  /** Generates CMK material inside the root, wrapped under domain key `domainVersion`. */
  generateKey(keySpec: KeySpec, keyUsage: KeyUsage, domainVersion: number): Promise<GeneratedKey>;
  /**
   * Re-wraps `key` under domain key `domainVersion` without the material
   * leaving the root. A PKCS#11 root can only do this for the version that
   * already wraps the key (`KMSInvalidStateException` otherwise).
   */
  rewrapKey(key: WrappedKey, domainVersion: number): Promise<WrappedKey>;

  /**
   * AES-256-GCM with a symmetric CMK inside the root; `iv` is 12 bytes (the
   * caller's copy is not changed), `aad` non-empty. `output`, when given, is
   * where ciphertext || tag go (plaintext length + 16 bytes; the result's
   * `ciphertext` is then that array), so a caller can place them in a larger message.
   */
  encrypt(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, output?: Uint8Array): Promise<RootCiphertext>;
  /** As {@link RootOfTrust.encrypt}, of a data key handle's bytes, which never reach JavaScript. */
  encryptDataKey(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, dataKey: AeadKey): Promise<RootCiphertext>;
  /** The inverse; `InvalidCiphertextException` for a wrong tag, IV, AAD or key. */
  decrypt(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
  /**
   * Encrypts many items under one symmetric key, as {@link encrypt} does each,
   * in a few calls to the root (split across its threads): resolves to each
   * item's ciphertext || tag, or the error that item met.
   */
  encryptMany(key: WrappedKey, items: readonly RootBatchItem[]): Promise<RootBatchResult[]>;
  /** Decrypts many items under one symmetric key, as {@link decrypt} does each: resolves to each item's plaintext, or its error. */
  decryptMany(key: WrappedKey, items: readonly RootBatchItem[]): Promise<RootBatchResult[]>;

  /**
   * Decrypts with `source` and encrypts the result with `destination` in one
   * native task: the plaintext stays in locked memory and never reaches
   * JavaScript. Resolves to ciphertext || tag under `destination` and
   * `destinationIv` (`KMSInternalException` if a token chose another IV).
   */
  reEncrypt(
    source: WrappedKey,
    sourceIv: Uint8Array,
    sourceAad: Uint8Array,
    ciphertext: Uint8Array,
    destination: WrappedKey,
    destinationIv: Uint8Array,
    destinationAad: Uint8Array,
  ): Promise<Uint8Array>;
  /** Decrypts a 32-byte data key straight into an {@link AeadKey} (`ValidationException` for another length). */
  decryptToAeadKey(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<AeadKey>;
  /**
   * `length` bytes from the root's RNG and their encryption under `key`, as
   * {@link encrypt} makes it (`output` likewise), in one call to the root.
   */
  generateDataKey(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, length: number, output?: Uint8Array): Promise<GeneratedDataKey>;
  /** A data key from the root's RNG (`length` 32), encrypted under `key`, as an {@link AeadKey}; its bytes never reach JavaScript. */
  generateDataKeyHandle(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, length: number): Promise<DataKeyHandle>;

  /** RSA-OAEP decryption with an RSA ENCRYPT_DECRYPT CMK. */
  rsaDecrypt(key: WrappedKey, hash: OaepHash, ciphertext: Uint8Array): Promise<Uint8Array>;
  /** A signature with a SIGN_VERIFY CMK (ECDSA signatures are DER). */
  sign(key: WrappedKey, algorithm: SigningAlgorithm, messageType: MessageType, data: Uint8Array): Promise<Uint8Array>;
  /** The HMAC of `message` with a GENERATE_VERIFY_MAC CMK (digest-sized). */
  generateMac(key: WrappedKey, algorithm: MacAlgorithm, message: Uint8Array): Promise<Uint8Array>;
  /** Whether `mac` is the HMAC of `message`, compared inside the root (a wrong MAC resolves to false). */
  verifyMac(key: WrappedKey, algorithm: MacAlgorithm, message: Uint8Array, mac: Uint8Array): Promise<boolean>;

  /** RSA-OAEP encryption with a public key (SPKI DER), on the host. */
  encryptOaep(publicKey: Uint8Array, hash: OaepHash, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Verifies a signature with a public key (SPKI DER), on the host. */
  verify(publicKey: Uint8Array, algorithm: SigningAlgorithm, messageType: MessageType, data: Uint8Array, signature: Uint8Array): Promise<boolean>;

  /** Drops the unwrapped form of (id, version), e.g. when the key is deleted. */
  evictKey(id: string, version: number): Promise<void>;
  stats(): Promise<RootStats>;

  /**
   * Waits for the operations in flight, then releases the root (sessions,
   * module). Later calls reject with `KeyUnavailableException`. Idempotent.
   */
  close(): Promise<void>;
}
