/**
 * hsmkms: HSM-backed key management for Node.js.
 * @packageDocumentation
 */
export { aead, AeadKey, SEAL_OVERHEAD } from './aead.js';
export type { AeadSettings, BatchOptions, DecryptOptions, EncryptOptions } from './aead.js';
export { AbortError, KmsError, KMS_ERROR_CODES } from './errors.js';
export type { KmsErrorCode } from './errors.js';
