/**
 * The raw binding's type, declared once. Nothing here is exported from the
 * package: lib/ validates every argument before calling in.
 */
import path from 'node:path';
import { addonDirectory } from './addon-directory.js';
import { errorFromNative, KmsError, type NativeErrorExtra } from './errors.js';

/** An opaque, type-tagged native object that owns key bytes in locked memory. */
export interface NativeKeyHandle {
  readonly __brand: 'NativeKeyHandle';
}

/** The digests the native HKDF takes. */
export type HkdfDigestName = 'SHA256' | 'SHA384' | 'SHA512';

/** An opaque, type-tagged native object that owns an open root of trust. */
/** A message signature (ECDSA footer of signed suites): a signer or a verifier with its running digest. */
export interface NativeSignatureHandle {
  readonly __brand: 'NativeSignatureHandle';
}

/**
 * A message signature's functions. Jobs on one handle (update, sign, verify)
 * run one at a time on the digest threads, in the order they were called.
 */
export interface NativeSignatureFunctions {
  /** A signer with a fresh key pair, made on the digest threads (the private key never leaves native memory). */
  newSigner(curve: 'P-256' | 'P-384'): Promise<{ handle: NativeSignatureHandle; publicKey: Buffer }>;
  /** A verifier for a compressed point, made on the digest threads; rejects with KmsError InvalidCiphertextException for a malformed one. */
  newVerifier(curve: 'P-256' | 'P-384', compressedPoint: Uint8Array): Promise<NativeSignatureHandle>;
  /** Feeds the digest on this thread (no job may be in flight). */
  updateSync(handle: NativeSignatureHandle, bytes: Uint8Array): void;
  /** Feeds the digest (an array's parts in order); the bytes must not change until it settles. */
  update(handle: NativeSignatureHandle, bytes: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** Signs the digest (DER); the signing key is released after. */
  sign(handle: NativeSignatureHandle): Promise<Buffer>;
  /** Whether `der` signs the digest. */
  verify(handle: NativeSignatureHandle, der: Uint8Array): Promise<boolean>;
  /** Releases the key now, or once the jobs in flight settle. */
  release(handle: NativeSignatureHandle): void;
}

export interface NativeRootHandle {
  readonly __brand: 'NativeRootHandle';
}

/** A CMK version's material wrapped by a domain key, as it crosses the binding (AWS names for the enums). */
export interface NativeWrappedKey {
  id: string;
  version: number;
  domainVersion: number;
  keySpec: string;
  keyUsage: string;
  algorithm: string;
  blob: Uint8Array;
}

/** What openPkcs11Root takes; every field checked in TypeScript first. */
export interface NativePkcs11Options {
  module: string;
  tokenLabel: string;
  /** A copy the binding wipes once it is in locked memory. */
  pin: Uint8Array;
  threads: number;
  keyCacheCapacity: number;
  /** CKA_PRIVATE of the unwrapped CMK session objects. */
  privateSessionKeys: boolean;
  retry: { maxAttempts: number; totalMs: number };
}

/** What openSoftRoot takes: `keyFile`, or `passphrase` and `salt`; every field checked in TypeScript first. */
export interface NativeSoftOptions {
  keyFile?: string;
  /** A copy the binding wipes once it is in locked memory. */
  passphrase?: Uint8Array;
  salt?: Uint8Array;
  threads: number;
  keyCacheCapacity: number;
}

/** A wrapped key parsed once into native form (an opaque, type-tagged object). */
export interface NativeKeyRef {
  readonly __brand: 'NativeKeyRef';
}

/** The root-of-trust operations: each runs on the root's own threads (public-key ones on the AES pool). */
export interface NativeRootFunctions {
  kind(root: NativeRootHandle): string;
  /** Parses a wrapped key once (synchronous; throws a TypeError for a bad shape). */
  prepareKey(key: NativeWrappedKey): NativeKeyRef;
  createDomainKey(root: NativeRootHandle, version: number): Promise<Uint8Array>;
  openDomainKey(root: NativeRootHandle, version: number, reference: Uint8Array): Promise<void>;
  /** Resolves to the stored reference of domain key `version`, or null when the root keeps none. */
  findDomainKey(root: NativeRootHandle, version: number): Promise<Uint8Array | null>;
  /** Decrypts and encrypts again inside the native layer; `out` holds at least ciphertext.length bytes; resolves to a view of `out`. */
  reEncrypt(root: NativeRootHandle, key: NativeKeyRef, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, destination: NativeKeyRef, destinationIv: Uint8Array, destinationAad: Uint8Array, out: Uint8Array): Promise<Uint8Array>;
  /** Decrypts a 32-byte data key straight into a native key handle. */
  decryptToAeadKey(root: NativeRootHandle, key: NativeKeyRef, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<NativeKeyHandle>;
  /** `iv` (12 bytes) is in/out; `length` is 32; `out` is length + 16 bytes. */
  generateDataKeyHandle(root: NativeRootHandle, key: NativeKeyRef, iv: Uint8Array, aad: Uint8Array, length: number, out: Uint8Array): Promise<{ dataKey: NativeKeyHandle; iv: Uint8Array; ciphertext: Uint8Array }>;
  /** Fills `plaintext` from the root's RNG and encrypts it into `out` (plaintext.length + 16 bytes), in one HSM job; `iv` is in/out; resolves to `result`, which must be `{ iv, ciphertext: out, ... }`. */
  generateDataKey<R extends { iv: Uint8Array; ciphertext: Uint8Array }>(root: NativeRootHandle, key: NativeKeyRef, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, result: R): Promise<R>;
  generateRandom<T extends Uint8Array>(root: NativeRootHandle, out: T): Promise<T>;
  generateKey(root: NativeRootHandle, keySpec: string, keyUsage: string, domainVersion: number): Promise<Omit<NativeWrappedKey, 'id' | 'version'> & { publicKey: Uint8Array | null }>;
  rewrapKey(root: NativeRootHandle, key: NativeKeyRef, domainVersion: number): Promise<NativeWrappedKey>;
  /** `iv` (12 bytes) is in/out; `out` is plaintext.length + 16 bytes; resolves to `result`, which must be `{ iv, ciphertext: out }`. */
  encrypt<R extends { iv: Uint8Array; ciphertext: Uint8Array }>(root: NativeRootHandle, key: NativeKeyRef, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, result: R): Promise<R>;
  /** As encrypt, of a data key handle's 32 bytes (never in JavaScript); `out` is 48 bytes. */
  encryptAeadKey<R extends { iv: Uint8Array; ciphertext: Uint8Array }>(root: NativeRootHandle, key: NativeKeyRef, iv: Uint8Array, aad: Uint8Array, dataKey: NativeKeyHandle, out: Uint8Array, result: R): Promise<R>;
  /**
   * Items packed back to back (native/binding/packed_items.h): `ivs` 12 bytes
   * each, `aadEnds` / `inputEnds` a Uint8Array over each item's end offset
   * (Uint32Array); `out` is input.length + 16 per item, item i's
   * ciphertext || tag at its input's offset + 16 i. Resolves to each item's
   * error, or null.
   */
  encryptMany(root: NativeRootHandle, key: NativeKeyRef, ivs: Uint8Array, aad: Uint8Array, aadEnds: Uint8Array, input: Uint8Array, inputEnds: Uint8Array, out: Uint8Array): Promise<(Error | null)[]>;
  /** As encryptMany; `out` is input-sized, item i's plaintext at the start of its input's slot. */
  decryptMany(root: NativeRootHandle, key: NativeKeyRef, ivs: Uint8Array, aad: Uint8Array, aadEnds: Uint8Array, input: Uint8Array, inputEnds: Uint8Array, out: Uint8Array): Promise<(Error | null)[]>;
  /** `out` holds at least ciphertext.length - 16 bytes; resolves to the plaintext, a view of `out`. */
  decrypt(root: NativeRootHandle, key: NativeKeyRef, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): Promise<Uint8Array>;
  /** `out` is modulus-sized; resolves to the plaintext, a view of `out`. */
  rsaDecrypt(root: NativeRootHandle, key: NativeKeyRef, hash: string, ciphertext: Uint8Array, out: Uint8Array): Promise<Uint8Array>;
  /** `out` holds the key's largest signature; resolves to the signature, a view of `out`. */
  sign(root: NativeRootHandle, key: NativeKeyRef, algorithm: string, messageType: string, data: Uint8Array, out: Uint8Array): Promise<Uint8Array>;
  /** `out` holds 64 bytes; resolves to the MAC, a view of `out`. */
  generateMac(root: NativeRootHandle, key: NativeKeyRef, algorithm: string, message: Uint8Array, out: Uint8Array): Promise<Uint8Array>;
  /** Whether `mac` is the MAC of `message`, compared in the root. */
  verifyMac(root: NativeRootHandle, key: NativeKeyRef, algorithm: string, message: Uint8Array, mac: Uint8Array): Promise<boolean>;
  evictKey(root: NativeRootHandle, id: string, version: number): Promise<void>;
  stats(root: NativeRootHandle): Promise<NativeRootStats>;
  encryptOaep(spki: Uint8Array, hash: string, plaintext: Uint8Array): Promise<Uint8Array>;
  verify(spki: Uint8Array, algorithm: string, messageType: string, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** Counters of a root; the token-only ones are absent for other kinds. */
export interface NativeRootStats {
  kind: string;
  cachedKeys: number;
  retries: number;
  unwraps: number;
  workerSessions?: number;
  generation?: number;
  objects?: number;
}

export interface NativeBinding {
  readonly opensslVersion: string;
  setErrorFactory(factory: (code: string, message: string, extra?: NativeErrorExtra) => Error): void;

  openPkcs11Root(options: NativePkcs11Options): Promise<NativeRootHandle>;
  openSoftRoot(options: NativeSoftOptions): Promise<NativeRootHandle>;
  closeRoot(root: NativeRootHandle): Promise<void>;
  readonly root: NativeRootFunctions;

  importKey(bytes: Uint8Array): NativeKeyHandle;
  generateKey(): NativeKeyHandle;
  destroyKey(key: NativeKeyHandle): void;
  isKeyDestroyed(key: NativeKeyHandle): boolean;

  /** A new key = HKDF(digest, key bytes, salt, info, 32 bytes); the bytes stay native. */
  hkdfKey(key: NativeKeyHandle, digest: HkdfDigestName, salt: Uint8Array, info: Uint8Array): NativeKeyHandle;
  /** Fills `out` with HKDF(digest, key bytes, salt, info): only for values that are not secret (a commitment key). */
  hkdfBytes(key: NativeKeyHandle, digest: HkdfDigestName, salt: Uint8Array, info: Uint8Array, out: Uint8Array): void;
  /** Seals `key`'s bytes under `wrapping`: `out` (60 bytes) = random IV || ciphertext || tag. */
  sealKey(wrapping: NativeKeyHandle, key: NativeKeyHandle, aad: Uint8Array | undefined, out: Uint8Array): void;
  /** Opens 60 sealed bytes (IV || ciphertext || tag) under `wrapping` into a new key. */
  openKey(wrapping: NativeKeyHandle, sealed: Uint8Array, aad: Uint8Array | undefined): NativeKeyHandle;

  /**
   * A whole one-frame v2 message on the calling thread: `message` holds the
   * header body (its last 32 bytes the commitment-key slot) in its first
   * `headerBodyLength` bytes; fills the slot, the header tag and the frame.
   */
  sealSmallMessage(dataKey: NativeKeyHandle, suiteId: number, messageId: Uint8Array, message: Uint8Array, headerBodyLength: number, plaintext: Uint8Array): void;
  /** Opens a one-frame v2 message into `out`: 0, or the check that failed (1 commitment, 2 header tag, 3 frame; `out` wiped). */
  openSmallMessage(dataKey: NativeKeyHandle, suiteId: number, messageId: Uint8Array, commitKey: Uint8Array, headerAad: Uint8Array, headerTag: Uint8Array, frame: Uint8Array, out: Uint8Array): number;

  /** Message signatures of signed suites (ECDSA footer): keys, digest, sign and check run on the digest threads. */
  signature: NativeSignatureFunctions;

  sealSync(key: NativeKeyHandle, plaintext: Uint8Array, aad: Uint8Array | undefined, iv: Uint8Array | undefined, out: Uint8Array): void;
  openSync(key: NativeKeyHandle, sealed: Uint8Array, aad: Uint8Array | undefined, out: Uint8Array): void;
  seal<T extends Uint8Array>(key: NativeKeyHandle, plaintext: Uint8Array, aad: Uint8Array | undefined, iv: Uint8Array | undefined, out: T, cancelId: number): Promise<T>;
  open<T extends Uint8Array>(key: NativeKeyHandle, sealed: Uint8Array, aad: Uint8Array | undefined, out: T, cancelId: number): Promise<T>;
  sealBatch<T extends Uint8Array>(key: NativeKeyHandle, data: Uint8Array, offsets: Uint32Array, aad: Uint8Array | undefined, out: T, cancelId: number): Promise<T>;
  openBatch<T extends Uint8Array>(key: NativeKeyHandle, data: Uint8Array, offsets: Uint32Array, aad: Uint8Array | undefined, out: T, cancelId: number): Promise<T>;
  /**
   * Seals ESDK regular frames firstSeq.. of one message: `plaintext` is n × frameLength bytes,
   * `out` n × (frameLength + 32) (u32 seq || IV || ciphertext || tag each). Rejects, output wiped, on any failure.
   */
  sealFrames<T extends Uint8Array>(key: NativeKeyHandle, plaintext: Uint8Array, out: T, messageId: Uint8Array, firstSeq: number, frameLength: number, cancelId: number): Promise<T>;
  /**
   * Opens n regular frames (`body`: n × (frameLength + 32) bytes, contiguous or as the segments it
   * arrived in, gathered by the workers) into `out` (n × frameLength): every
   * sequence number must be firstSeq + i and, with checkIv, every IV 8 zero bytes || seq; else the
   * whole run fails with InvalidCiphertextException and `out` is wiped.
   */
  openFrames<T extends Uint8Array>(key: NativeKeyHandle, body: Uint8Array | readonly Uint8Array[], out: T, messageId: Uint8Array, firstSeq: number, frameLength: number, checkIv: boolean, cancelId: number): Promise<T>;
  cancel(cancelId: number): number;

  setThreads(threads: number): void;
  getThreads(): number;
  secureMemoryStats(): { liveBlocks: number; lockedBytes: number; lockFailed: boolean };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => unknown;

function loadBinding(): NativeBinding {
  // dist/native.js and lib/native.ts both sit one level below the package root.
  let binding: NativeBinding;
  try {
    binding = load(addonDirectory(path.resolve(__dirname, '..'), process.env.HSMKMS_ADDON_FLAVOUR)) as NativeBinding;
  } catch (error) {
    // The addon refuses to start where the host has no OpenSSL 3 (for example
    // Electron's BoringSSL): surface that as a coded KmsError.
    if ((error as { code?: string }).code === 'UnsupportedRuntimeException') {
      throw new KmsError('UnsupportedRuntimeException', (error as Error).message, { cause: error });
    }
    throw error;
  }
  binding.setErrorFactory(errorFromNative);
  return binding;
}

/** The binding, loaded once per environment (main thread or worker). */
export const native: NativeBinding = loadBinding();
