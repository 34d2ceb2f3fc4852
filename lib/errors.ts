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

const knownCodes: ReadonlySet<string> = new Set(KMS_ERROR_CODES);

/** Builds the error for a code reported by the native core (registered with the binding). */
export function errorFromNative(code: string, message: string): Error {
  if (code === 'AbortError') return new AbortError(message);
  return new KmsError(knownCodes.has(code) ? (code as KmsErrorCode) : 'KMSInternalException', message);
}
