/**
 * The roots of trust (internal: the KMS is the public surface). Tests and
 * the benchmark import this from dist/root/.
 */
export { NativeRoot } from './native-root.js';
export { openPkcs11Root } from './pkcs11-root.js';
export type { Pkcs11RetryOptions, Pkcs11RootOptions } from './pkcs11-root.js';
export { openSoftRoot } from './soft-root.js';
export type { SoftRootOptions } from './soft-root.js';
export { MESSAGE_TYPES, OAEP_HASHES, SIGNING_ALGORITHMS, WRAP_ALGORITHMS } from './root-of-trust.js';
export type {
  DataKeyHandle,
  GeneratedKey,
  KeySpec,
  KeyUsage,
  MessageType,
  OaepHash,
  RootCiphertext,
  RootKind,
  RootOfTrust,
  RootStats,
  SigningAlgorithm,
  WrapAlgorithm,
  WrappedKey,
} from './root-of-trust.js';
