/**
 * Content-key derivation and key commitment (format digest section 1.5 and
 * 1.6). For the v2 suites both run in native code on the data-key handle:
 *   commitKey = HKDF-SHA512(salt = message ID, ikm = DEK, info = "COMMITKEY", 32)
 *   encKey    = HKDF-SHA512(salt = message ID, ikm = DEK, info = suite id || "DERIVEKEY", 32)
 * v1 suites use HKDF-SHA256/384 with a zero salt and info = suite id ||
 * message ID, or the data key itself.
 */
import crypto from 'node:crypto';
import { AeadKey, keyTransforms } from '../aead.js';
import { LegacyContentKey, NativeContentKey, type ContentKey } from './content-key.js';
import { COMMIT_KEY_LENGTH, type AlgorithmSuite } from './suites.js';

/**
 * A plaintext data key: a native handle (every 32-byte key), or, for the
 * 16/24-byte keys of legacy v1 suites only, bytes in JavaScript.
 */
export type PlaintextDataKey = AeadKey | Uint8Array;

const COMMIT_LABEL = new TextEncoder().encode('COMMITKEY');
const DERIVE_LABEL = new TextEncoder().encode('DERIVEKEY');
const NO_SALT = new Uint8Array(0);

function suiteIdBytes(suite: AlgorithmSuite): Uint8Array {
  return Uint8Array.of(suite.id >> 8, suite.id & 0xff);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** The v2 commitment key (public: it is written in the header). */
export function deriveCommitKey(dataKey: AeadKey, messageId: Uint8Array): Uint8Array {
  return keyTransforms.deriveBytes(dataKey, 'SHA512', messageId, COMMIT_LABEL, COMMIT_KEY_LENGTH);
}

/** The key that encrypts the frames and authenticates the header; destroy() it after use. */
export function deriveContentKey(dataKey: PlaintextDataKey, suite: AlgorithmSuite, messageId: Uint8Array): ContentKey {
  if (suite.messageFormat === 2) {
    return new NativeContentKey(keyTransforms.deriveKey(dataKey as AeadKey, 'SHA512', messageId, concat(suiteIdBytes(suite), DERIVE_LABEL)));
  }
  if (dataKey instanceof AeadKey) {
    if (suite.kdf === 'none') return new NativeContentKey(dataKey);
    return new NativeContentKey(keyTransforms.deriveKey(dataKey, suite.kdf, NO_SALT, concat(suiteIdBytes(suite), messageId)));
  }
  // Legacy 16/24-byte keys: node:crypto, bytes owned (and wiped) by the content key.
  if (suite.kdf === 'none') return new LegacyContentKey(Uint8Array.from(dataKey));
  const digest = suite.kdf.toLowerCase();
  const derived = crypto.hkdfSync(digest, dataKey, NO_SALT, concat(suiteIdBytes(suite), messageId), suite.keyLength);
  return new LegacyContentKey(new Uint8Array(derived));
}
