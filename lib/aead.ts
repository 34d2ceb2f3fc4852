/**
 * AES-256-GCM on native worker threads, through the OpenSSL that Node embeds.
 *
 * Sealed format: 12-byte IV || ciphertext || 16-byte tag. Keys are opaque
 * {@link AeadKey} handles whose bytes live in locked, no-dump native memory.
 */
import { AbortError, errorFromNative } from './errors.js';
import { native, type HkdfDigestName, type NativeKeyHandle } from './native.js';
import { invalidArgType, invalidArgValue, toBytes, toOptionalBytes, toOptions, toSignal } from './validate.js';

/** Bytes of overhead a sealed message adds: IV (12) + tag (16). */
export const SEAL_OVERHEAD = 28;
const IV_LENGTH = 12;
const KEY_LENGTH = 32;
const MAX_BATCH_BYTES = 0xffff_ffff;
// As native/binding/env_state.cc words it.
const INVALID_CIPHERTEXT = 'The ciphertext could not be authenticated (wrong key, AAD, IV, tag or length)';

let handleOf: (key: AeadKey) => NativeKeyHandle;
let isAeadKey: (value: object) => value is AeadKey;

/**
 * An AES-256 key held in native memory. JavaScript never sees its bytes.
 * `destroy()` wipes them at once; garbage collection does so as a backstop.
 */
export class AeadKey {
  #handle: NativeKeyHandle;

  static {
    handleOf = (key) => key.#handle;
    // A brand check, not instanceof: an object made from AeadKey.prototype
    // without the constructor has no handle.
    isAeadKey = (value) => #handle in value;
  }

  /** @internal Use {@link aead.importKey} or {@link aead.generateKey}. */
  constructor(handle: NativeKeyHandle) {
    this.#handle = handle;
  }

  /** True once {@link AeadKey.destroy} has run. */
  get destroyed(): boolean {
    return native.isKeyDestroyed(this.#handle);
  }

  /**
   * Wipes the key bytes now. Work already running finishes; work not yet
   * started and every later call fail with `KeyUnavailableException`.
   */
  destroy(): void {
    native.destroyKey(this.#handle);
  }
}

function keyHandle(key: unknown): NativeKeyHandle {
  if (typeof key !== 'object' || key === null || !isAeadKey(key)) {
    throw invalidArgType('key', 'an instance of AeadKey', key);
  }
  return handleOf(key);
}

/** Options of a single encryption. */
export interface EncryptOptions {
  /** Additional authenticated data. */
  aad?: Uint8Array;
  /** A 12-byte IV; random when absent. Never reuse an IV with the same key. */
  iv?: Uint8Array;
  /** Cancels the work if it has not started yet. */
  signal?: AbortSignal;
  /**
   * Where to write the sealed message (exactly plaintext.length + 28 bytes)
   * instead of a new buffer, so a pipeline can recycle its buffers. It may
   * overlap the plaintext only for in-place encryption: `output.subarray(12)`
   * starting where the plaintext starts.
   */
  output?: Uint8Array;
}

/** Options of a single decryption. */
export interface DecryptOptions {
  aad?: Uint8Array;
  signal?: AbortSignal;
  /**
   * Where to write the plaintext (exactly sealed.length - 28 bytes). It may
   * overlap the sealed message only for in-place decryption:
   * `sealed.subarray(12, sealed.length - 16)`.
   */
  output?: Uint8Array;
}

/** Options of a batch. */
export interface BatchOptions {
  /** Additional authenticated data shared by every message of the batch. */
  aad?: Uint8Array;
  signal?: AbortSignal;
}

/** Pool and path settings. */
export interface AeadSettings {
  /** Worker threads for AES (default: available cores, or HSMKMS_THREADS). */
  threads: number;
  /**
   * Messages up to this many bytes are processed on the calling thread even
   * by the async functions: below it a thread hop costs more than the AES.
   */
  inlineThreshold: number;
}

// Below this a hop to the pool costs more than the AES itself: bench/aead
// measures the crossover (with many messages in flight the pool wins from
// 64 KiB, inline up to 16 KiB), and 16 KiB of AES is ~5 µs of event loop.
let inlineThreshold = 16 * 1024;

function checkIv(iv: Uint8Array | undefined): void {
  if (iv !== undefined && iv.length !== IV_LENGTH) {
    throw invalidArgValue('options.iv', `must be ${IV_LENGTH} bytes long. Received ${iv.length} bytes`);
  }
}

let nextCancelId = 1;

/** Calls a native starter; an operational error it throws (destroyed key, short input) becomes a rejection. */
function startNative<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Runs a native async operation, cancellable through `signal` until it starts. */
function withSignal<T>(signal: AbortSignal | undefined, start: (cancelId: number) => Promise<T>): Promise<T> {
  if (signal === undefined) return startNative(() => start(0));
  if (signal.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
  const cancelId = nextCancelId++;
  const onAbort = (): void => void native.cancel(cancelId);
  signal.addEventListener('abort', onAbort, { once: true });
  return startNative(() => start(cancelId)).finally(() => signal.removeEventListener('abort', onAbort));
}

/**
 * The caller's output buffer, checked: the right size, and overlapping the
 * input only at the one in-place offset (any other overlap would corrupt).
 */
function callerOutput(value: unknown, length: number, input: Uint8Array, inPlaceShift: number): Uint8Array {
  const output = toBytes('options.output', value);
  if (output.length !== length) {
    throw invalidArgValue('options.output', `must be ${length} bytes long. Received ${output.length} bytes`);
  }
  const sameMemory = output.buffer === input.buffer;
  const overlaps = sameMemory && output.byteOffset < input.byteOffset + input.length && input.byteOffset < output.byteOffset + output.length;
  if (overlaps && output.byteOffset + inPlaceShift !== input.byteOffset) {
    throw invalidArgValue('options.output', 'overlaps the input other than in place');
  }
  return output;
}

function sealOutput(opts: Partial<EncryptOptions>, input: Uint8Array, pooled: boolean): Uint8Array {
  const length = sealedLength(input);
  if (opts.output !== undefined) return callerOutput(opts.output, length, input, IV_LENGTH);
  return pooled ? Buffer.allocUnsafe(length) : Buffer.allocUnsafeSlow(length);
}

function openOutput(opts: Partial<DecryptOptions>, input: Uint8Array, pooled: boolean): Uint8Array {
  const length = plaintextLength(input);
  if (opts.output !== undefined) return callerOutput(opts.output, length, input, -IV_LENGTH);
  return pooled ? Buffer.allocUnsafe(length) : Buffer.allocUnsafeSlow(length);
}

function sealedLength(plaintext: Uint8Array): number {
  return plaintext.length + SEAL_OVERHEAD;
}

function plaintextLength(sealed: Uint8Array): number {
  // Too short to hold an IV and tag: let the native core report it as an
  // InvalidCiphertextException, with an empty output.
  return Math.max(sealed.length - SEAL_OVERHEAD, 0);
}

function encryptSync(key: AeadKey, plaintext: Uint8Array, options?: Omit<EncryptOptions, 'signal'>): Uint8Array {
  const handle = keyHandle(key);
  const input = toBytes('plaintext', plaintext);
  const opts = toOptions('options', options);
  const aad = toOptionalBytes('options.aad', opts.aad);
  const iv = toOptionalBytes('options.iv', opts.iv);
  checkIv(iv);
  const out = sealOutput(opts, input, true);
  native.sealSync(handle, input, aad, iv, out);
  return out;
}

function decryptSync(key: AeadKey, sealed: Uint8Array, options?: Omit<DecryptOptions, 'signal'>): Uint8Array {
  const handle = keyHandle(key);
  const input = toBytes('sealed', sealed);
  const opts = toOptions('options', options);
  const aad = toOptionalBytes('options.aad', opts.aad);
  const out = openOutput(opts, input, true);
  native.openSync(handle, input, aad, out);
  return out;
}

function encrypt(key: AeadKey, plaintext: Uint8Array, options?: EncryptOptions): Promise<Uint8Array> {
  const handle = keyHandle(key);
  const input = toBytes('plaintext', plaintext);
  const opts = toOptions('options', options);
  const aad = toOptionalBytes('options.aad', opts.aad);
  const iv = toOptionalBytes('options.iv', opts.iv);
  checkIv(iv);
  const signal = toSignal(opts.signal);
  const inline = input.length <= inlineThreshold && signal === undefined;
  const out = sealOutput(opts, input, inline);
  if (inline) {
    try {
      native.sealSync(handle, input, aad, iv, out);
      return Promise.resolve(out);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return withSignal(signal, (id) => native.seal(handle, input, aad, iv, out, id));
}

function decrypt(key: AeadKey, sealed: Uint8Array, options?: DecryptOptions): Promise<Uint8Array> {
  const handle = keyHandle(key);
  const input = toBytes('sealed', sealed);
  const opts = toOptions('options', options);
  const aad = toOptionalBytes('options.aad', opts.aad);
  const signal = toSignal(opts.signal);
  const inline = input.length <= inlineThreshold + SEAL_OVERHEAD && signal === undefined;
  const out = openOutput(opts, input, inline);
  if (inline) {
    try {
      native.openSync(handle, input, aad, out);
      return Promise.resolve(out);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return withSignal(signal, (id) => native.open(handle, input, aad, out, id));
}

/** Packs messages into one buffer plus an offsets table (one crossing into native code). */
function pack(name: string, messages: unknown): { data: Uint8Array; offsets: Uint32Array } {
  if (!Array.isArray(messages)) throw invalidArgType(name, 'an Array of Uint8Array', messages);
  const views = messages.map((m, i) => toBytes(`${name}[${i}]`, m));
  const offsets = new Uint32Array(views.length + 1);
  let total = 0;
  for (let i = 0; i < views.length; i++) {
    total += views[i]!.length;
    if (total > MAX_BATCH_BYTES) throw invalidArgValue(name, 'must hold less than 4 GiB in one batch');
    offsets[i + 1] = total;
  }
  const data = Buffer.allocUnsafeSlow(total);
  for (let i = 0; i < views.length; i++) data.set(views[i]!, offsets[i]!);
  return { data, offsets };
}

/** Cuts the batch output into one view per message. */
function unpack(out: Uint8Array, count: number, lengthOf: (i: number) => number): Uint8Array[] {
  const results = new Array<Uint8Array>(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = lengthOf(i);
    results[i] = out.subarray(at, at + length);
    at += length;
  }
  return results;
}

// Not `async`: argument errors must throw synchronously, like everywhere else.
function encryptBatch(key: AeadKey, plaintexts: readonly Uint8Array[], options?: BatchOptions): Promise<Uint8Array[]> {
  const handle = keyHandle(key);
  const { data, offsets } = pack('plaintexts', plaintexts);
  const opts = toOptions('options', options);
  const aad = toOptionalBytes('options.aad', opts.aad);
  const signal = toSignal(opts.signal);
  const count = offsets.length - 1;
  const out = Buffer.allocUnsafeSlow(data.length + count * SEAL_OVERHEAD);
  return withSignal(signal, (id) => native.sealBatch(handle, data, offsets, aad, out, id)).then(() =>
    unpack(out, count, (i) => offsets[i + 1]! - offsets[i]! + SEAL_OVERHEAD),
  );
}

function decryptBatch(key: AeadKey, sealed: readonly Uint8Array[], options?: BatchOptions): Promise<Uint8Array[]> {
  const handle = keyHandle(key);
  const { data, offsets } = pack('sealed', sealed);
  const opts = toOptions('options', options);
  const aad = toOptionalBytes('options.aad', opts.aad);
  const signal = toSignal(opts.signal);
  const count = offsets.length - 1;
  let plaintextTotal = 0;
  const tooShort: number[] = [];
  for (let i = 0; i < count; i++) {
    const length = offsets[i + 1]! - offsets[i]!;
    if (length < SEAL_OVERHEAD) tooShort.push(i);
    plaintextTotal += Math.max(length - SEAL_OVERHEAD, 0);
  }
  if (tooShort.length > 0) {
    // Messages too short to hold an IV and tag fail the batch before any
    // decryption, reported like the ones whose tag does not verify.
    return Promise.reject(Object.assign(errorFromNative('InvalidCiphertextException', INVALID_CIPHERTEXT), { failedIndices: tooShort }));
  }
  const out = Buffer.allocUnsafeSlow(plaintextTotal);
  return withSignal(signal, (id) => native.openBatch(handle, data, offsets, aad, out, id)).then(() =>
    unpack(out, count, (i) => offsets[i + 1]! - offsets[i]! - SEAL_OVERHEAD),
  );
}

function importKey(bytes: Uint8Array): AeadKey {
  const view = toBytes('bytes', bytes);
  if (view.length !== KEY_LENGTH) {
    throw invalidArgValue('bytes', `must be ${KEY_LENGTH} bytes long (AES-256). Received ${view.length} bytes`);
  }
  return new AeadKey(native.importKey(view));
}

function generateKey(): AeadKey {
  return new AeadKey(native.generateKey());
}

function configure(settings: Partial<AeadSettings>): AeadSettings {
  const opts = toOptions('settings', settings);
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > 1024) {
      throw invalidArgValue('settings.threads', 'must be an integer from 1 to 1024');
    }
    native.setThreads(opts.threads);
  }
  if (opts.inlineThreshold !== undefined) {
    if (!Number.isInteger(opts.inlineThreshold) || opts.inlineThreshold < 0) {
      throw invalidArgValue('settings.inlineThreshold', 'must be a non-negative integer');
    }
    inlineThreshold = opts.inlineThreshold;
  }
  return settingsNow();
}

/** @internal The inline threshold alone (no native call), for per-message decisions. */
export function inlineThresholdBytes(): number {
  return inlineThreshold;
}

function settingsNow(): AeadSettings {
  return { threads: native.getThreads(), inlineThreshold };
}

/**
 * Keys made from keys without their bytes reaching JavaScript (HKDF, and a
 * key sealed under another). For lib/envelope; not exported by the package.
 * @internal
 */
/** @internal The native handle behind a key, for library code that hands keys to native operations. */
export function nativeKeyHandle(key: AeadKey): NativeKeyHandle {
  return keyHandle(key);
}

export const keyTransforms = {
  /** A new key = HKDF(digest, key, salt, info) with 32 bytes of output. */
  deriveKey(key: AeadKey, digest: HkdfDigestName, salt: Uint8Array, info: Uint8Array): AeadKey {
    return new AeadKey(native.hkdfKey(keyHandle(key), digest, salt, info));
  },
  /** `length` bytes of HKDF(digest, key, salt, info): only for values that are not secret. */
  deriveBytes(key: AeadKey, digest: HkdfDigestName, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    const out = new Uint8Array(length);
    native.hkdfBytes(keyHandle(key), digest, salt, info, out);
    return out;
  },
  /** `key` sealed under `wrapping`: random IV (12) || ciphertext (32) || tag (16). */
  sealKey(wrapping: AeadKey, key: AeadKey, aad: Uint8Array): Uint8Array {
    const out = new Uint8Array(KEY_LENGTH + SEAL_OVERHEAD);
    native.sealKey(keyHandle(wrapping), keyHandle(key), aad, out);
    return out;
  },
  /** Opens IV || ciphertext || tag into a new key (InvalidCiphertextException on a bad tag or length). */
  openKey(wrapping: AeadKey, sealed: Uint8Array, aad: Uint8Array): AeadKey {
    return new AeadKey(native.openKey(keyHandle(wrapping), sealed, aad));
  },
} as const;

/** Locked-memory accounting, for tests and diagnostics. */
function secureMemoryStats(): { liveBlocks: number; lockedBytes: number; lockFailed: boolean } {
  return native.secureMemoryStats();
}

/** AES-256-GCM: sealed = IV (12) || ciphertext || tag (16). */
export const aead = {
  importKey,
  generateKey,
  encrypt,
  decrypt,
  encryptSync,
  decryptSync,
  encryptBatch,
  decryptBatch,
  configure,
  settings: settingsNow,
  secureMemoryStats,
  /** The OpenSSL version that does the math (Node's own). */
  opensslVersion: native.opensslVersion,
} as const;
