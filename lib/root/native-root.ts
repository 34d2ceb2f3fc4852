/**
 * {@link RootOfTrust} over a native root handle: argument checks (thrown
 * synchronously), buffers sized for the native core, and nothing else.
 * Every kind of root shares it; only opening differs.
 */
import { AeadKey, nativeKeyHandle } from '../aead.js';
import { KEY_SPECS, KEY_USAGES } from '../keystore/key-store.js';
import { native, type NativeKeyRef, type NativeRootHandle } from '../native.js';
import { runMany } from './batch-packing.js';
import { invalidArgType, invalidArgValue, toBytes } from '../validate.js';
import {
  MAC_ALGORITHMS,
  MESSAGE_TYPES,
  OAEP_HASHES,
  SIGNING_ALGORITHMS,
  WRAP_ALGORITHMS,
  type DataKeyHandle,
  type GeneratedDataKey,
  type GeneratedKey,
  type KeySpec,
  type KeyUsage,
  type MacAlgorithm,
  type MessageType,
  type OaepHash,
  type RootBatchItem,
  type RootBatchResult,
  type RootCiphertext,
  type RootKind,
  type RootOfTrust,
  type RootStats,
  type SigningAlgorithm,
  type WrappedKey,
} from './root-of-trust.js';

const IV_LENGTH = 12;
const TAG_LENGTH = 16;
/** The only data key length a handle takes: AES-256. */
const DATA_KEY_LENGTH = 32;
/** Largest generateRandom request (AWS allows 1024 bytes; the root itself does more). */
export const MAX_RANDOM_BYTES = 1024 * 1024;
/** Largest generateDataKey: a ciphertext blob's plaintext limit (AWS's data keys stop at 1024). */
const MAX_DATA_KEY_BYTES = 4096;
const MAX_ID_BYTES = 255;
const MAX_UINT32 = 0xffff_ffff;

const keySpecs: ReadonlySet<string> = new Set(KEY_SPECS);
const keyUsages: ReadonlySet<string> = new Set(KEY_USAGES);
const wrapAlgorithms: ReadonlySet<string> = new Set(WRAP_ALGORITHMS);
const oaepHashes: ReadonlySet<string> = new Set(OAEP_HASHES);
const signingAlgorithms: ReadonlySet<string> = new Set(SIGNING_ALGORITHMS);
const macAlgorithms: ReadonlySet<string> = new Set(MAC_ALGORITHMS);
/** HMAC-SHA-512, the longest MAC. */
const MAX_MAC_BYTES = 64;
const messageTypes: ReadonlySet<string> = new Set(MESSAGE_TYPES);

/** Checks an integer in [min, max] (ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE). */
export function toInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgValue(name, `must be an integer from ${min} to ${max}. Received ${String(value)}`);
  }
  return value;
}

function toName<T extends string>(name: string, value: unknown, allowed: ReadonlySet<string>): T {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (!allowed.has(value)) throw invalidArgValue(name, `must be one of ${[...allowed].join(', ')}. Received '${value}'`);
  return value as T;
}

function toVersion(name: string, value: unknown): number {
  return toInteger(name, value, 0, MAX_UINT32);
}

function toNonEmptyBytes(name: string, value: unknown): Uint8Array {
  const bytes = toBytes(name, value);
  if (bytes.length === 0) throw invalidArgValue(name, 'must not be empty');
  return bytes;
}

function toId(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.length === 0 || Buffer.byteLength(value) > MAX_ID_BYTES || value.includes('\0')) {
    throw invalidArgValue(name, `must be 1 to ${MAX_ID_BYTES} bytes of UTF-8 without NUL`);
  }
  return value;
}

/** Checks a wrapped key's shape; the object itself crosses to native code. */
export function toWrappedKey(name: string, value: unknown): WrappedKey {
  if (typeof value !== 'object' || value === null) throw invalidArgType(name, 'of type object', value);
  const key = value as Partial<WrappedKey>;
  toId(`${name}.id`, key.id);
  toVersion(`${name}.version`, key.version);
  toVersion(`${name}.domainVersion`, key.domainVersion);
  toName(`${name}.keySpec`, key.keySpec, keySpecs);
  toName(`${name}.keyUsage`, key.keyUsage, keyUsages);
  toName(`${name}.algorithm`, key.algorithm, wrapAlgorithms);
  if (!(key.blob instanceof Uint8Array)) throw invalidArgType(`${name}.blob`, 'an instance of Uint8Array', key.blob);
  if (key.blob.length === 0) throw invalidArgValue(`${name}.blob`, 'must not be empty');
  return key as WrappedKey;
}

/** A prepared key and the fields it was prepared from. */
interface Prepared {
  readonly ref: NativeKeyRef;
  readonly key: WrappedKey;
  readonly id: string;
  readonly version: number;
  readonly domainVersion: number;
  readonly keySpec: string;
  readonly keyUsage: string;
  readonly algorithm: string;
  readonly blob: Uint8Array;
}

// Wrapped keys parsed once per object: the hot operations then pass an
// opaque native reference instead of an object read field by field. A hit
// still checks every field (a caller may reuse the object for another key);
// a blob changed in place is not noticed, as the root caches unwrapped keys
// by (id, version) anyway: one blob per pair.
const prepared = new WeakMap<object, Prepared>();

function sameFields(p: Prepared, k: WrappedKey): boolean {
  return (
    p.id === k.id && p.version === k.version && p.domainVersion === k.domainVersion && p.keySpec === k.keySpec &&
    p.keyUsage === k.keyUsage && p.algorithm === k.algorithm && p.blob === k.blob
  );
}

/** The native reference for a wrapped key (validated and parsed on first use). */
function prepare(name: string, value: unknown): Prepared {
  if (typeof value === 'object' && value !== null) {
    const hit = prepared.get(value);
    if (hit !== undefined && sameFields(hit, value as WrappedKey)) return hit;
  }
  const key = toWrappedKey(name, value);
  const entry: Prepared = {
    ref: native.root.prepareKey(key),
    key,
    id: key.id,
    version: key.version,
    domainVersion: key.domainVersion,
    keySpec: key.keySpec,
    keyUsage: key.keyUsage,
    algorithm: key.algorithm,
    blob: key.blob,
  };
  prepared.set(key, entry);
  return entry;
}

function toIv(value: unknown, name = 'iv'): Uint8Array {
  const iv = toBytes(name, value);
  if (iv.length !== IV_LENGTH) throw invalidArgValue(name, `must be ${IV_LENGTH} bytes long. Received ${iv.length} bytes`);
  return iv;
}

function toSymmetric(key: Prepared, name = 'key'): NativeKeyRef {
  // The native core would say InvalidKeyUsageException; this is the caller's mistake.
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw invalidArgValue(`${name}.keySpec`, 'must be SYMMETRIC_DEFAULT for AES-256-GCM');
  return key.ref;
}

/** RSA modulus bytes of a key spec (RSA_2048 -> 256), 0 for others. */
function modulusBytes(keySpec: KeySpec): number {
  const match = /^RSA_(\d+)$/.exec(keySpec);
  return match ? Number(match[1]) / 8 : 0;
}

/** The longest signature a key of `keySpec` makes: RSA modulus bytes, ECDSA DER (two INTEGERs). */
function maxSignatureBytes(keySpec: KeySpec): number {
  const rsa = modulusBytes(keySpec);
  if (rsa > 0) return rsa;
  const field = keySpec === 'ECC_NIST_P384' ? 48 : 32;
  return 2 * (field + 3) + 2; // SEQUENCE header + 2 x (INTEGER header + leading zero + field)
}

/** A root of trust behind a native handle. */
export class NativeRoot implements RootOfTrust {
  readonly kind: RootKind;
  readonly #handle: NativeRootHandle;
  /** The root's threads: how many slices a batch is cut into. */
  readonly #threads: number;
  #closing: Promise<void> | undefined;

  /** @internal Use an open function such as `openPkcs11Root`. */
  constructor(handle: NativeRootHandle, threads = 1) {
    this.#handle = handle;
    this.#threads = threads;
    this.kind = native.root.kind(handle) as RootKind;
  }

  createDomainKey(version: number): Promise<Uint8Array> {
    return native.root.createDomainKey(this.#handle, toVersion('version', version));
  }

  openDomainKey(version: number, reference: Uint8Array): Promise<void> {
    const v = toVersion('version', version);
    // A copy: the native side reads it later, and the caller may reuse the buffer.
    const ref = Uint8Array.from(toBytes('reference', reference));
    return native.root.openDomainKey(this.#handle, v, ref);
  }

  findDomainKey(version: number): Promise<Uint8Array | null> {
    return native.root.findDomainKey(this.#handle, toVersion('version', version));
  }

  generateRandom(length: number): Promise<Uint8Array> {
    const n = toInteger('length', length, 1, MAX_RANDOM_BYTES);
    return native.root.generateRandom(this.#handle, Buffer.allocUnsafe(n));
  }

  generateKey(keySpec: KeySpec, keyUsage: KeyUsage, domainVersion: number): Promise<GeneratedKey> {
    const spec = toName<KeySpec>('keySpec', keySpec, keySpecs);
    const usage = toName<KeyUsage>('keyUsage', keyUsage, keyUsages);
    const v = toVersion('domainVersion', domainVersion);
    return native.root.generateKey(this.#handle, spec, usage, v) as Promise<GeneratedKey>;
  }

  rewrapKey(key: WrappedKey, domainVersion: number): Promise<WrappedKey> {
    const k = prepare('key', key).ref;
    return native.root.rewrapKey(this.#handle, k, toVersion('domainVersion', domainVersion)) as Promise<WrappedKey>;
  }

  encrypt(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, output?: Uint8Array): Promise<RootCiphertext> {
    const k = toSymmetric(prepare('key', key));
    // The root writes the IV it used here: never into the caller's buffer.
    const ivOut = Buffer.from(toIv(iv));
    const a = toNonEmptyBytes('aad', aad);
    const p = toBytes('plaintext', plaintext);
    const ciphertext = output === undefined ? Buffer.allocUnsafe(p.length + TAG_LENGTH) : toBytes('output', output);
    if (ciphertext.length !== p.length + TAG_LENGTH) {
      throw invalidArgValue('output', `must be ${p.length + TAG_LENGTH} bytes long (plaintext + tag). Received ${ciphertext.length} bytes`);
    }
    return native.root.encrypt(this.#handle, k, ivOut, a, p, ciphertext, { iv: ivOut, ciphertext });
  }

  generateDataKey(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, length: number, output?: Uint8Array): Promise<GeneratedDataKey> {
    const k = toSymmetric(prepare('key', key));
    const ivOut = Buffer.from(toIv(iv));
    const a = toNonEmptyBytes('aad', aad);
    const n = toInteger('length', length, 1, MAX_DATA_KEY_BYTES);
    const ciphertext = output === undefined ? Buffer.allocUnsafe(n + TAG_LENGTH) : toBytes('output', output);
    if (ciphertext.length !== n + TAG_LENGTH) {
      throw invalidArgValue('output', `must be ${n + TAG_LENGTH} bytes long (data key + tag). Received ${ciphertext.length} bytes`);
    }
    // A key of its own: never in Node's shared pool beside unrelated buffers.
    const plaintext = Buffer.allocUnsafeSlow(n);
    return native.root.generateDataKey(this.#handle, k, ivOut, a, plaintext, ciphertext, { iv: ivOut, plaintext, ciphertext });
  }

  encryptDataKey(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, dataKey: AeadKey): Promise<RootCiphertext> {
    const k = toSymmetric(prepare('key', key));
    const ivOut = Buffer.from(toIv(iv));
    const a = toNonEmptyBytes('aad', aad);
    if (!(dataKey instanceof AeadKey)) throw invalidArgType('dataKey', 'an instance of AeadKey', dataKey);
    const ciphertext = Buffer.allocUnsafe(32 + TAG_LENGTH);
    return native.root.encryptAeadKey(this.#handle, k, ivOut, a, nativeKeyHandle(dataKey), ciphertext, { iv: ivOut, ciphertext });
  }

  decrypt(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    const k = toSymmetric(prepare('key', key));
    const i = toIv(iv);
    const a = toNonEmptyBytes('aad', aad);
    const c = toBytes('ciphertext', ciphertext);
    // Ciphertext-sized (not 16 bytes less): SoftHSM sizes its output by the
    // input and would otherwise cost a second call. Resolves to a view.
    return native.root.decrypt(this.#handle, k, i, a, c, Buffer.allocUnsafe(Math.max(c.length, 1)));
  }

  encryptMany(key: WrappedKey, items: readonly RootBatchItem[]): Promise<RootBatchResult[]> {
    const k = toSymmetric(prepare('key', key));
    return runMany(this.#handle, k, items, this.#threads, 'encrypt');
  }

  decryptMany(key: WrappedKey, items: readonly RootBatchItem[]): Promise<RootBatchResult[]> {
    const k = toSymmetric(prepare('key', key));
    return runMany(this.#handle, k, items, this.#threads, 'decrypt');
  }

  reEncrypt(
    source: WrappedKey,
    sourceIv: Uint8Array,
    sourceAad: Uint8Array,
    ciphertext: Uint8Array,
    destination: WrappedKey,
    destinationIv: Uint8Array,
    destinationAad: Uint8Array,
  ): Promise<Uint8Array> {
    const k = toSymmetric(prepare('source', source), 'source');
    const i = toIv(sourceIv, 'sourceIv');
    const a = toNonEmptyBytes('sourceAad', sourceAad);
    const c = toBytes('ciphertext', ciphertext);
    const d = toSymmetric(prepare('destination', destination), 'destination');
    const di = toIv(destinationIv, 'destinationIv');
    const da = toNonEmptyBytes('destinationAad', destinationAad);
    // Same length as the input: plaintext + 16 under the destination.
    return native.root.reEncrypt(this.#handle, k, i, a, c, d, di, da, Buffer.allocUnsafe(Math.max(c.length, 1)));
  }

  decryptToAeadKey(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<AeadKey> {
    const k = toSymmetric(prepare('key', key));
    const i = toIv(iv);
    const a = toNonEmptyBytes('aad', aad);
    const c = toBytes('ciphertext', ciphertext);
    return native.root.decryptToAeadKey(this.#handle, k, i, a, c).then((handle) => new AeadKey(handle));
  }

  generateDataKeyHandle(key: WrappedKey, iv: Uint8Array, aad: Uint8Array, length: number): Promise<DataKeyHandle> {
    const k = toSymmetric(prepare('key', key));
    // The root writes the IV it used here: never into the caller's buffer.
    const ivOut = Buffer.from(toIv(iv));
    const a = toNonEmptyBytes('aad', aad);
    const n = toInteger('length', length, DATA_KEY_LENGTH, DATA_KEY_LENGTH);
    return native.root
      .generateDataKeyHandle(this.#handle, k, ivOut, a, n, Buffer.allocUnsafe(n + TAG_LENGTH))
      .then((made) => ({ dataKey: new AeadKey(made.dataKey), iv: made.iv, ciphertext: made.ciphertext }));
  }

  rsaDecrypt(key: WrappedKey, hash: OaepHash, ciphertext: Uint8Array): Promise<Uint8Array> {
    const k = prepare('key', key);
    const h = toName<OaepHash>('hash', hash, oaepHashes);
    const c = toBytes('ciphertext', ciphertext);
    const k8 = modulusBytes(k.key.keySpec);
    return native.root.rsaDecrypt(this.#handle, k.ref, h, c, Buffer.allocUnsafe(Math.max(k8, 1)));
  }

  sign(key: WrappedKey, algorithm: SigningAlgorithm, messageType: MessageType, data: Uint8Array): Promise<Uint8Array> {
    const k = prepare('key', key);
    const alg = toName<SigningAlgorithm>('algorithm', algorithm, signingAlgorithms);
    const type = toName<MessageType>('messageType', messageType, messageTypes);
    const out = Buffer.allocUnsafe(maxSignatureBytes(k.key.keySpec));
    return native.root.sign(this.#handle, k.ref, alg, type, toBytes('data', data), out);
  }

  generateMac(key: WrappedKey, algorithm: MacAlgorithm, message: Uint8Array): Promise<Uint8Array> {
    const k = prepare('key', key);
    const alg = toName<MacAlgorithm>('algorithm', algorithm, macAlgorithms);
    return native.root.generateMac(this.#handle, k.ref, alg, toBytes('message', message), Buffer.allocUnsafe(MAX_MAC_BYTES));
  }

  verifyMac(key: WrappedKey, algorithm: MacAlgorithm, message: Uint8Array, mac: Uint8Array): Promise<boolean> {
    const k = prepare('key', key);
    const alg = toName<MacAlgorithm>('algorithm', algorithm, macAlgorithms);
    return native.root.verifyMac(this.#handle, k.ref, alg, toBytes('message', message), toBytes('mac', mac));
  }

  encryptOaep(publicKey: Uint8Array, hash: OaepHash, plaintext: Uint8Array): Promise<Uint8Array> {
    const spki = toNonEmptyBytes('publicKey', publicKey);
    const h = toName<OaepHash>('hash', hash, oaepHashes);
    return native.root.encryptOaep(spki, h, toBytes('plaintext', plaintext));
  }

  verify(publicKey: Uint8Array, algorithm: SigningAlgorithm, messageType: MessageType, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const spki = toNonEmptyBytes('publicKey', publicKey);
    const alg = toName<SigningAlgorithm>('algorithm', algorithm, signingAlgorithms);
    const type = toName<MessageType>('messageType', messageType, messageTypes);
    return native.root.verify(spki, alg, type, toBytes('data', data), toBytes('signature', signature));
  }

  evictKey(id: string, version: number): Promise<void> {
    return native.root.evictKey(this.#handle, toId('id', id), toVersion('version', version));
  }

  stats(): Promise<RootStats> {
    return native.root.stats(this.#handle) as Promise<RootStats>;
  }

  close(): Promise<void> {
    this.#closing ??= native.closeRoot(this.#handle);
    return this.#closing;
  }
}
