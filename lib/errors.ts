/**
 * Errors. Operational failures are {@link KmsError}s with a stable, AWS-style
 * `code`; programmer errors (wrong argument types or values) are thrown
 * synchronously as Node's own `ERR_INVALID_ARG_*` errors.
 *
 * The codes mirror native/core/status.h (the native core's table) plus the
 * AWS KMS exception names the KMS layer uses.
 */

/** Every code a {@link KmsError} can carry. */
export const KMS_ERROR_CODES = [
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'KeyUnavailableException',
  'ValidationException',
  'LimitExceededException',
  'AccessDeniedException',
  'KMSInternalException',
  'UnsupportedRuntimeException',
  'UnsupportedOperationException',
  'KMSInvalidSignatureException',
  /** verifyMac: the MAC does not match (AWS KMS's code). */
  'KMSInvalidMacException',
  /** The name or identifier to create is taken (alias name, key id, domain key version); AWS KMS's code for CreateAlias. */
  'AlreadyExistsException',
  /**
   * A concurrent change won: the caller's expected row version (or expected
   * compare-and-set state) is stale. Not an AWS KMS code: re-read and retry.
   */
  'ConflictException',
] as const;

/** A stable error code, named like AWS KMS's exceptions. */
export type KmsErrorCode = (typeof KMS_ERROR_CODES)[number];

/** An operational error of hsmkms. Its message never carries key material, PINs or plaintext. */
export class KmsError extends Error {
  /** The stable code callers branch on. */
  readonly code: KmsErrorCode;

  constructor(code: KmsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KmsError';
    this.code = code;
  }
}

/** Rejection of an operation cancelled through an `AbortSignal` before it started. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';

  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/**
 * A {@link KmsError} caused by a PKCS#11 call that failed. Its `code` says
 * what it means for the caller (for example `KeyUnavailableException` when
 * the HSM did not recover within the retry budget, `AccessDeniedException`
 * for a wrong PIN); `ckr`, `rv` and `fn` say what the token answered.
 */
export class Pkcs11Error extends KmsError {
  /** The name of the return value, such as `"CKR_DEVICE_REMOVED"` (`"CKR_VENDOR_DEFINED"` for vendor codes). */
  readonly ckr: string;
  /** The return value as a number (CK_RV). */
  readonly rv: number;
  /** The PKCS#11 function that returned it, such as `"C_Encrypt"` (empty when unknown). */
  readonly fn: string;

  constructor(code: KmsErrorCode, message: string, details: { ckr: string; rv: number; fn?: string }, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'Pkcs11Error';
    this.ckr = details.ckr;
    this.rv = details.rv;
    this.fn = details.fn ?? '';
  }
}

const knownCodes: ReadonlySet<string> = new Set(KMS_ERROR_CODES);

/** What the native core adds to an error when a PKCS#11 call failed. */
export interface NativeErrorExtra {
  ckr: string;
  rv: number;
  fn?: string;
}

/**
 * Builds the error for a code reported by the native core (registered with
 * the binding). `extra`, when a PKCS#11 call failed, makes it a {@link Pkcs11Error}.
 */
export function errorFromNative(code: string, message: string, extra?: NativeErrorExtra): Error {
  if (code === 'AbortError') return new AbortError(message);
  const known = knownCodes.has(code) ? (code as KmsErrorCode) : 'KMSInternalException';
  if (extra !== undefined && typeof extra.ckr === 'string' && typeof extra.rv === 'number') {
    return new Pkcs11Error(known, message, extra);
  }
  return new KmsError(known, message);
}
