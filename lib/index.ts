/**
 * hsmkms: HSM-backed key management for Node.js.
 * @packageDocumentation
 */
export { aead, AeadKey, SEAL_OVERHEAD } from './aead.js';
export type { AeadSettings, BatchOptions, DecryptOptions, EncryptOptions } from './aead.js';
export { AbortError, KmsError, KMS_ERROR_CODES, Pkcs11Error } from './errors.js';
export type { KmsErrorCode } from './errors.js';
export { Kms } from './kms/kms.js';
export type { KmsOptions, Pkcs11RootOptions, RootOptions, SoftRootOptions } from './kms/kms-options.js';
export type { KeyMetadata } from './kms/key-metadata.js';
export type { KmsDescription, RootDescription } from './kms/describe.js';
export type { DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse } from './kms/symmetric-operations.js';
export type { BatchItemError, DecryptBatchRequest, DecryptBatchResponse, EncryptBatchRequest, EncryptBatchResponse } from './kms/batch-operations.js';
export type { GenerateMacRequest, GenerateMacResponse, VerifyMacRequest, VerifyMacResponse } from './kms/mac-operations.js';
export type { MacAlgorithm } from './root/root-of-trust.js';
export type { EncryptionContext } from './encryption-context.js';
export {
  CachingKeyring,
  ContentType,
  DataKeyCache,
  DEFAULT_FRAME_LENGTH,
  DEFAULT_SUITE_ID,
  DecryptionMaterials,
  EncryptionMaterials,
  envelope,
  KMS_PROVIDER_ID,
  KmsKeyring,
  MultiKeyring,
  RawAesKeyring,
  RawRsaKeyring,
  SIGNED_SUITE_ID,
} from './envelope/index.js';
export type {
  CacheUseCounts,
  CachingKeyringOptions,
  CachingKeyringStats,
  CommitmentPolicy,
  EncryptedDataKey,
  EnvelopeDecryptOptions,
  EnvelopeDecryptResult,
  EnvelopeEncryptOptions,
  EnvelopeEncryptResult,
  Keyring,
  KeyringKms,
  KmsKeyringOptions,
  MessageHeader,
  MultiKeyringOptions,
  PlaintextDataKey,
  RawAesKeyringOptions,
  RawRsaKeyringOptions,
  RsaKeyInput,
} from './envelope/index.js';
export type {
  EnvelopeDecryptRangeOptions,
  EnvelopeDecryptRangeResult,
  EnvelopeDecryptStream,
  EnvelopeDecryptStreamOptions,
  EnvelopeEncryptStream,
  EnvelopeEncryptStreamOptions,
  RangeSource,
} from './envelope/index.js';
export { createServer, KmsServer } from './server/index.js';
export type { Credential, RequestLogEntry, RequestLogger, ServerOptions } from './server/index.js';
