/**
 * Opening the embedded `soft` root of trust: the key hierarchy of a token
 * with no HSM (domain keys in locked native memory, sealed under a 32-byte
 * root key). NOT FOR PRODUCTION: every secret is in this process. The root
 * key is read from a 0600 key file (created on first use) or derived with
 * scrypt from a passphrase, in native code, straight into locked memory.
 * Internal to the package: the KMS opens roots for its users.
 */
import { native, type NativeRootHandle, type NativeSoftOptions } from '../native.js';
import { invalidArgType, invalidArgValue } from '../validate.js';
import { NativeRoot, toInteger } from './native-root.js';
import type { RootOfTrust } from './root-of-trust.js';

/** Options of {@link openSoftRoot}: exactly one of `keyFile` and `passphrase`. */
export interface SoftRootOptions {
  /**
   * Path of the root key file: 32 random bytes, created with mode 0600 when
   * absent; refused (`KMSInvalidStateException`) when group or others can
   * read it, it is a symlink, or it has the wrong size.
   */
  keyFile?: string;
  /**
   * Derive the root key with scrypt (N=2^15, r=8, p=1) instead. Bytes are
   * copied and the copy wiped (the caller's array is left alone); a string
   * cannot be wiped from JavaScript memory, so prefer bytes.
   */
  passphrase?: string | Uint8Array;
  /** The scrypt salt (public, at least 16 bytes, one per installation); required with `passphrase`. */
  salt?: Uint8Array;
  /** Soft-root threads (default 2, or HSMKMS_SOFT_THREADS). */
  threads?: number;
  /** Unwrapped CMK versions kept (default 1024; 0 unwraps per operation). */
  keyCacheCapacity?: number;
}

const MAX_THREADS = 64;
const MIN_SALT_BYTES = 16;
const MAX_SALT_BYTES = 1024;
const MAX_PASSPHRASE_BYTES = 4096;

function defaultThreads(): number {
  const n = Number(process.env.HSMKMS_SOFT_THREADS);
  return Number.isInteger(n) && n >= 1 && n <= MAX_THREADS ? n : 2;
}

function toKeyFile(value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType('options.keyFile', 'of type string', value);
  if (value.length === 0 || value.includes('\0')) throw invalidArgValue('options.keyFile', 'must be a non-empty path without NUL');
  return value;
}

function toSalt(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgType('options.salt', 'an instance of Uint8Array', value);
  if (value.length < MIN_SALT_BYTES || value.length > MAX_SALT_BYTES) {
    throw invalidArgValue('options.salt', `must be ${MIN_SALT_BYTES} to ${MAX_SALT_BYTES} bytes. Received ${value.length} bytes`);
  }
  return Uint8Array.from(value);
}

/** A copy of the passphrase that this module owns (and wipes). */
function passphraseCopy(value: unknown): Uint8Array {
  let copy: Uint8Array;
  if (typeof value === 'string') copy = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) copy = Uint8Array.from(value);
  else throw invalidArgType('options.passphrase', 'of type string or an instance of Uint8Array', value);
  if (copy.length === 0 || copy.length > MAX_PASSPHRASE_BYTES) {
    copy.fill(0);
    throw invalidArgValue('options.passphrase', `must be 1 to ${MAX_PASSPHRASE_BYTES} bytes`);
  }
  return copy;
}

/**
 * Opens the soft root of trust, reading or creating the key file (or running
 * scrypt) on a soft-root thread. Rejects with a `KmsError`:
 * `KMSInvalidStateException` for a key file that others can read, a symlink
 * or the wrong size; `NotFoundException` when its directory does not exist.
 * A wrong passphrase opens a root all the same: the sealed domain keys then
 * fail to open with `InvalidCiphertextException`.
 *
 * Argument errors are thrown synchronously (`ERR_INVALID_ARG_TYPE`,
 * `ERR_INVALID_ARG_VALUE`). Close the root when done: `root.close()`.
 */
export function openSoftRoot(options: SoftRootOptions): Promise<RootOfTrust> {
  if (options === undefined || options === null || typeof options !== 'object') {
    throw invalidArgType('options', 'of type object', options);
  }
  const hasKeyFile = options.keyFile !== undefined;
  const hasPassphrase = options.passphrase !== undefined;
  if (hasKeyFile === hasPassphrase) throw invalidArgValue('options', 'must give exactly one of keyFile and passphrase');
  const threads = options.threads === undefined ? defaultThreads() : toInteger('options.threads', options.threads, 1, MAX_THREADS);
  const keyCacheCapacity = options.keyCacheCapacity === undefined ? 1024 : toInteger('options.keyCacheCapacity', options.keyCacheCapacity, 0, 1 << 24);
  let opening: Promise<NativeRootHandle>;
  if (hasKeyFile) {
    if (options.salt !== undefined) throw invalidArgValue('options.salt', 'goes with passphrase, not keyFile');
    const keyFile = toKeyFile(options.keyFile);
    opening = native.openSoftRoot({ keyFile, threads, keyCacheCapacity });
  } else {
    if (options.salt === undefined) throw invalidArgType('options.salt', 'an instance of Uint8Array', options.salt);
    const salt = toSalt(options.salt);
    const passphrase = passphraseCopy(options.passphrase);
    const nativeOptions: NativeSoftOptions = { passphrase, salt, threads, keyCacheCapacity };
    try {
      opening = native.openSoftRoot(nativeOptions);
    } finally {
      passphrase.fill(0); // the binding wiped it already; this covers a throw before it copied
    }
  }
  return opening.then((handle) => new NativeRoot(handle, threads));
}
