// The ESM entry re-exports the CommonJS build, so that `import` and `require`
// share one instance (one KmsError class for instanceof, one native binding).
// It is loaded with require rather than `import ... from './index.js'`: Node 20
// reports a CommonJS module that throws while being imported (for example the
// UnsupportedRuntimeException of a host without OpenSSL 3) as an uncaught
// exception even when the caller catches its import() (nodejs/node#51603).
import { createRequire } from 'node:module';

type Cjs = typeof import('./index.js');
const hsmkms = createRequire(import.meta.url)('./index.js') as Cjs;

export const { aead, SEAL_OVERHEAD, KMS_ERROR_CODES, envelope, ContentType, DEFAULT_FRAME_LENGTH, DEFAULT_SUITE_ID, SIGNED_SUITE_ID, KMS_PROVIDER_ID } = hsmkms;
// Classes: the value from the shared instance, and the instance type under the same name.
export const AeadKey: Cjs['AeadKey'] = hsmkms.AeadKey;
export type AeadKey = import('./index.js').AeadKey;
export const KmsError: Cjs['KmsError'] = hsmkms.KmsError;
export type KmsError = import('./index.js').KmsError;
export const AbortError: Cjs['AbortError'] = hsmkms.AbortError;
export type AbortError = import('./index.js').AbortError;
export const Pkcs11Error: Cjs['Pkcs11Error'] = hsmkms.Pkcs11Error;
export type Pkcs11Error = import('./index.js').Pkcs11Error;
export const Kms: Cjs['Kms'] = hsmkms.Kms;
export type Kms = import('./index.js').Kms;
export const RawAesKeyring: Cjs['RawAesKeyring'] = hsmkms.RawAesKeyring;
export type RawAesKeyring = import('./index.js').RawAesKeyring;
export const RawRsaKeyring: Cjs['RawRsaKeyring'] = hsmkms.RawRsaKeyring;
export type RawRsaKeyring = import('./index.js').RawRsaKeyring;
export const MultiKeyring: Cjs['MultiKeyring'] = hsmkms.MultiKeyring;
export type MultiKeyring = import('./index.js').MultiKeyring;
export const CachingKeyring: Cjs['CachingKeyring'] = hsmkms.CachingKeyring;
export type CachingKeyring = import('./index.js').CachingKeyring;
export const DataKeyCache: Cjs['DataKeyCache'] = hsmkms.DataKeyCache;
export type DataKeyCache = import('./index.js').DataKeyCache;
export const KmsKeyring: Cjs['KmsKeyring'] = hsmkms.KmsKeyring;
export type KmsKeyring = import('./index.js').KmsKeyring;
export const EncryptionMaterials: Cjs['EncryptionMaterials'] = hsmkms.EncryptionMaterials;
export type EncryptionMaterials = import('./index.js').EncryptionMaterials;
export const DecryptionMaterials: Cjs['DecryptionMaterials'] = hsmkms.DecryptionMaterials;
export type DecryptionMaterials = import('./index.js').DecryptionMaterials;
// The envelope's types (its classes and values are re-exported above).
export type * from './envelope/index.js';
export const createServer: Cjs['createServer'] = hsmkms.createServer;
export const KmsServer: Cjs['KmsServer'] = hsmkms.KmsServer;
export type KmsServer = import('./index.js').KmsServer;
export type { Credential, RequestLogEntry, RequestLogger, ServerOptions } from './index.js';
export type { EncryptionContext, KeyMetadata, KmsOptions, Pkcs11RootOptions, RootOptions, SoftRootOptions } from './index.js';
export type { BatchItemError, DecryptBatchRequest, DecryptBatchResponse, DecryptRequest, DecryptResponse } from './index.js';
export type { EncryptBatchRequest, EncryptBatchResponse, EncryptRequest, EncryptResponse } from './index.js';
export type { GenerateMacRequest, GenerateMacResponse, MacAlgorithm, VerifyMacRequest, VerifyMacResponse } from './index.js';
export type { AeadSettings, BatchOptions, DecryptOptions, EncryptOptions, KmsErrorCode } from './index.js';
