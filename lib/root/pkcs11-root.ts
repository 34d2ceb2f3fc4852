/**
 * Opening a PKCS#11 token as the root of trust: any module by path (SoftHSM2,
 * Luna, nShield, CloudHSM...), the token found by label, one login per
 * process. Internal to the package: the KMS opens roots for its users.
 */
import { native, type NativeRootHandle } from '../native.js';
import { invalidArgType, invalidArgValue, toOptions } from '../validate.js';
import { NativeRoot, toInteger } from './native-root.js';
import type { RootOfTrust } from './root-of-trust.js';

/** How a failing HSM is retried before `KeyUnavailableException`. */
export interface Pkcs11RetryOptions {
  /** Tries of one operation, the first included (default 5). */
  maxAttempts?: number;
  /**
   * No new try starts after this many milliseconds (default 1000). Waiting
   * out device errors counts from the call, time queued for an HSM thread
   * included, so in an outage every call settles within about this budget.
   */
  totalMs?: number;
}

/** Options of {@link openPkcs11Root}. */
export interface Pkcs11RootOptions {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  module: string;
  /** The token's label (slot ids are not stable; labels are). */
  tokenLabel: string;
  /**
   * The user PIN. Bytes are copied and the copy wiped once it is in locked
   * native memory (the caller's own array is left alone: wipe it yourself);
   * a string cannot be wiped from JavaScript memory, so prefer bytes.
   */
  pin: string | Uint8Array;
  /** HSM threads = worker sessions (default 2, or HSMKMS_HSM_THREADS). */
  threads?: number;
  /** Unwrapped CMK versions kept as session objects (default 1024; 0 unwraps per operation). */
  keyCacheCapacity?: number;
  /**
   * CKA_PRIVATE of the unwrapped CMKs, which are session objects of this
   * process only and never stored (default true). `true`: usable only while
   * logged in, and SoftHSM keeps their values encrypted in its memory.
   * `false`: they outlive a lost login, and SoftHSM skips decrypting them
   * under its one token-wide lock on every use, so RSA and ECDSA scale with
   * `threads` (ECDSA P-256 about 1.75x from 1 to 2 threads instead of about
   * 1.4x; see bench/results/pkcs11.md). Real HSMs show no such difference.
   */
  privateSessionKeys?: boolean;
  retry?: Pkcs11RetryOptions;
}

const MAX_THREADS = 64;
const MAX_PIN_BYTES = 255;
const MAX_LABEL_BYTES = 32;

function defaultThreads(): number {
  const n = Number(process.env.HSMKMS_HSM_THREADS);
  return Number.isInteger(n) && n >= 1 && n <= MAX_THREADS ? n : 2;
}

function toPath(value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType('options.module', 'of type string', value);
  if (value.length === 0 || value.includes('\0')) throw invalidArgValue('options.module', 'must be a non-empty path without NUL');
  return value;
}

function toLabel(value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType('options.tokenLabel', 'of type string', value);
  const bytes = Buffer.byteLength(value);
  if (bytes === 0 || bytes > MAX_LABEL_BYTES || value.includes('\0')) {
    throw invalidArgValue('options.tokenLabel', `must be 1 to ${MAX_LABEL_BYTES} bytes of UTF-8 without NUL`);
  }
  return value;
}

/** A copy of the PIN that this module owns (and wipes). */
function pinCopy(value: unknown): Uint8Array {
  let copy: Uint8Array;
  if (typeof value === 'string') copy = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) copy = Uint8Array.from(value);
  else throw invalidArgType('options.pin', 'of type string or an instance of Uint8Array', value);
  if (copy.length === 0 || copy.length > MAX_PIN_BYTES) {
    copy.fill(0);
    throw invalidArgValue('options.pin', `must be 1 to ${MAX_PIN_BYTES} bytes`);
  }
  return copy;
}

/**
 * Opens a PKCS#11 token as a {@link RootOfTrust}: loads the module (shared
 * per path and process), finds the token by label and logs in, on an HSM
 * thread. Rejects with a `KmsError`: `NotFoundException` for a module that
 * cannot be loaded or a label no token has, `AccessDeniedException`
 * (a `Pkcs11Error`, `ckr` CKR_PIN_INCORRECT) for a wrong PIN.
 *
 * Argument errors are thrown synchronously (`ERR_INVALID_ARG_TYPE`,
 * `ERR_INVALID_ARG_VALUE`). Close the root when done: `root.close()`.
 */
export function openPkcs11Root(options: Pkcs11RootOptions): Promise<RootOfTrust> {
  if (options === undefined || options === null || typeof options !== 'object') {
    throw invalidArgType('options', 'of type object', options);
  }
  const module = toPath(options.module);
  const tokenLabel = toLabel(options.tokenLabel);
  const threads = options.threads === undefined ? defaultThreads() : toInteger('options.threads', options.threads, 1, MAX_THREADS);
  const keyCacheCapacity = options.keyCacheCapacity === undefined ? 1024 : toInteger('options.keyCacheCapacity', options.keyCacheCapacity, 0, 1 << 24);
  const retry = toOptions('options.retry', options.retry);
  const maxAttempts = retry.maxAttempts === undefined ? 5 : toInteger('options.retry.maxAttempts', retry.maxAttempts, 1, 100);
  const totalMs = retry.totalMs === undefined ? 1000 : toInteger('options.retry.totalMs', retry.totalMs, 0, 600_000);
  const privateSessionKeys = options.privateSessionKeys ?? true;
  if (typeof privateSessionKeys !== 'boolean') throw invalidArgType('options.privateSessionKeys', 'of type boolean', privateSessionKeys);
  const pin = pinCopy(options.pin);
  let opening: Promise<NativeRootHandle>;
  try {
    opening = native.openPkcs11Root({ module, tokenLabel, pin, threads, keyCacheCapacity, privateSessionKeys, retry: { maxAttempts, totalMs } });
  } finally {
    pin.fill(0); // the binding wiped it already; this covers a throw before it copied
  }
  return opening.then((handle) => new NativeRoot(handle, threads));
}
