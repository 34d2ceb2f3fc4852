// The ESM entry re-exports the CommonJS build, so that `import` and `require`
// share one instance (one KmsError class for instanceof, one native binding).
import hsmkms from './index.js';

export const { aead, AeadKey, SEAL_OVERHEAD, AbortError, KmsError, KMS_ERROR_CODES } = hsmkms;
export type { AeadSettings, BatchOptions, DecryptOptions, EncryptOptions, KmsErrorCode } from './index.js';
