/**
 * Envelope encryption in the AWS Encryption SDK message format (v2 written,
 * v1 read on request), interoperable with @aws-crypto/client-node and the
 * other-language SDKs.
 *
 * Errors (all KmsError unless noted):
 * - InvalidCiphertextException: a malformed, tampered, truncated or
 *   reordered message, trailing bytes, a context that does not match, no
 *   keyring able to unwrap a data key, a commitment, header-tag, frame-tag
 *   or signature failure. One message shape with a short reason, no secrets.
 * - LimitExceededException: more encrypted data keys than
 *   maxEncryptedDataKeys (on decrypt, as soon as the count is read).
 * - UnsupportedOperationException: a v1 (non-committing) message without
 *   `allowV1` and a commitment policy that allows it.
 * - ValidationException: option values the operation cannot take (frame
 *   length, suite, policy, reserved `aws-crypto-` context keys, ...).
 * - TypeError with code ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE:
 *   arguments of the wrong type (and keyring constructor arguments).
 * encrypt/decrypt reject (never throw synchronously), before any native work.
 */
import { decrypt, encrypt } from './message.js';
import { decryptRange } from './decrypt-range.js';
import { decryptStream } from './decrypt-stream.js';
import { encryptStream } from './encrypt-stream.js';
import { decryptWebStream, encryptWebStream } from './web-streams.js';

/**
 * `envelope.encrypt(plaintext, options)` and `envelope.decrypt(message, options)`;
 * streams: `encryptStream` / `decryptStream` (Node Transforms) and
 * `encryptWebStream` / `decryptWebStream` (web TransformStreams); random
 * access: `decryptRange(source, { start, end, keyring })`.
 */
export const envelope = Object.freeze({ encrypt, decrypt, encryptStream, decryptStream, encryptWebStream, decryptWebStream, decryptRange });

export { CachingKeyring, DataKeyCache } from './caching-keyring.js';
export type { CacheUseCounts, CachingKeyringOptions, CachingKeyringStats } from './caching-keyring.js';
export { KmsKeyring, KMS_PROVIDER_ID } from './kms-keyring.js';
export type { KeyringKms, KmsKeyringOptions } from './kms-keyring.js';
export { MultiKeyring } from './multi-keyring.js';
export type { MultiKeyringOptions } from './multi-keyring.js';
export { RawAesKeyring } from './raw-aes-keyring.js';
export type { RawAesKeyringOptions } from './raw-aes-keyring.js';
export { RawRsaKeyring } from './raw-rsa-keyring.js';
export type { RawRsaKeyringOptions, RsaKeyInput } from './raw-rsa-keyring.js';
export { DecryptionMaterials, EncryptionMaterials } from './materials.js';
export type { Keyring } from './materials.js';
export { ContentType } from './header-codec.js';
export type { EncryptedDataKey, MessageHeader } from './header-codec.js';
export type { EnvelopeDecryptResult, EnvelopeEncryptResult } from './message.js';
export type { CommitmentPolicy, EnvelopeDecryptOptions, EnvelopeEncryptOptions } from './options.js';
export { DEFAULT_FRAME_LENGTH } from './options.js';
export { DEFAULT_SUITE_ID, SIGNED_SUITE_ID } from './suites.js';
export type { PlaintextDataKey } from './kdf.js';
export { EnvelopeDecryptStream } from './decrypt-stream.js';
export type { EnvelopeDecryptStreamOptions } from './decrypt-stream.js';
export { EnvelopeEncryptStream } from './encrypt-stream.js';
export type { EnvelopeEncryptStreamOptions } from './encrypt-stream.js';
export type { EnvelopeDecryptRangeOptions, EnvelopeDecryptRangeResult, RangeSource } from './decrypt-range.js';
