/**
 * Everything before the body, for one-shot and streaming use alike: on
 * encrypt, materials from the keyring, derived keys, and the header bytes;
 * on decrypt, the checks on a parsed header (policy, context, signature key),
 * the data key from the keyring, the key commitment (constant time, before
 * anything is decrypted) and the header tag.
 */
import crypto from 'node:crypto';
import type { AeadKey } from '../aead.js';
import { KmsError } from '../errors.js';
import { pooledRandomBytes } from '../random-pool.js';
import type { EncryptionContext } from '../encryption-context.js';
import { NativeContentKey, type ContentKey } from './content-key.js';
import { PUBLIC_KEY_FIELD, reconcileContext } from './context-codec.js';
import { ContentType, serializeHeaderBody, type MessageHeader, type ParsedHeader } from './header-codec.js';
import { headerTag, verifyHeaderTag } from './header-auth.js';
import { deriveCommitKey, deriveContentKey } from './kdf.js';
import { DecryptionMaterials, EncryptionMaterials } from './materials.js';
import { invalidMessage } from './message-errors.js';
import type { CheckedDecryptOptions, CheckedEncryptOptions } from './options.js';
import { MessageSigner, MessageVerifier } from './signature.js';
import { suiteName } from './suites.js';

/** A message about to be written. */
export interface EncryptionSetup {
  readonly header: MessageHeader;
  /** Header body and tag: the message's first bytes. */
  readonly headerBytes: Uint8Array;
  readonly contentKey: ContentKey;
  /** Signed suites: feed it every byte written before the footer. */
  readonly signer: MessageSigner | undefined;
  /** Wipes the content key. */
  dispose(): void;
}

const MESSAGE_ID_LENGTH = 32;

/** Gets a data key from the keyring and builds the header of a new message. */
export async function prepareEncryption(opts: CheckedEncryptOptions, plaintextLength?: number): Promise<EncryptionSetup> {
  const { suite, keyring } = opts;
  const signer = suite.signature === undefined ? undefined : new MessageSigner(suite.signature);
  const encryptionContext: EncryptionContext = Object.freeze(signer === undefined ? opts.encryptionContext : { ...opts.encryptionContext, [PUBLIC_KEY_FIELD]: signer.publicKey });
  const materials = new EncryptionMaterials(suite, encryptionContext, keyring.needsDataKeyBytes(true), plaintextLength);
  try {
    await keyring.onEncrypt(materials);
    const dataKey = materials.dataKey;
    const edks = materials.encryptedDataKeys;
    if (dataKey === undefined || edks.length === 0) throw new KmsError('ValidationException', 'The keyring made no encrypted data key');
    if (edks.length > opts.maxEncryptedDataKeys) throw new KmsError('LimitExceededException', `The keyring made ${edks.length} encrypted data keys, more than maxEncryptedDataKeys`);
    const messageId = pooledRandomBytes(MESSAGE_ID_LENGTH);
    const commitKey = deriveCommitKey(dataKey, messageId);
    const contentKey = deriveContentKey(dataKey, suite, messageId);
    const headerBody = serializeHeaderBody({ suite, messageId, encryptionContext, encryptedDataKeys: edks, frameLength: opts.frameLength, commitKey });
    const headerBytes = Buffer.concat([headerBody, headerTag(contentKey, headerBody)]);
    const header: MessageHeader = Object.freeze({
      version: 2,
      suiteId: suite.id,
      messageId,
      encryptionContext,
      encryptedDataKeys: Object.freeze([...edks]),
      contentType: ContentType.FRAMED_DATA,
      frameLength: opts.frameLength,
      suiteData: commitKey,
      headerLength: headerBytes.length,
    });
    return { header, headerBytes, contentKey, signer, dispose: () => contentKey.destroy() };
  } finally {
    materials.dispose();
    materials.releaseDataKey();
  }
}

/** A received message whose header has been authenticated. */
export interface DecryptionSetup {
  readonly contentKey: ContentKey;
  /** Signed suites: feed it every byte before the footer, then check the footer's signature. */
  readonly verifier: MessageVerifier | undefined;
  dispose(): void;
}

function checkPolicy(parsed: ParsedHeader, opts: CheckedDecryptOptions): void {
  if (parsed.suite.committing || opts.readV1) return;
  throw new KmsError(
    'UnsupportedOperationException',
    `The message uses suite ${suiteName(parsed.suite.id)} of format v1 (no key commitment): pass allowV1 and a commitmentPolicy that allows decrypting it`,
  );
}

function signatureVerifier(parsed: ParsedHeader): MessageVerifier | undefined {
  const encodedKey = parsed.header.encryptionContext[PUBLIC_KEY_FIELD];
  const signature = parsed.suite.signature;
  if (signature === undefined) {
    if (encodedKey !== undefined) throw invalidMessage('an unsigned suite carries a signature key');
    return undefined;
  }
  if (encodedKey === undefined) throw invalidMessage('the signature key is missing');
  return new MessageVerifier(signature, encodedKey);
}

/**
 * Checks a parsed header and opens its keys. InvalidCiphertextException for
 * a context mismatch, no unwrappable data key, a commitment mismatch or a
 * bad header tag; UnsupportedOperationException for v1 without opt-in.
 */
export async function prepareDecryption(parsed: ParsedHeader, opts: CheckedDecryptOptions): Promise<DecryptionSetup> {
  checkPolicy(parsed, opts);
  const verifier = signatureVerifier(parsed);
  const { full, unstored } = reconcileContext(parsed.header.encryptionContext, opts.encryptionContext);
  const materials = new DecryptionMaterials(parsed.suite, full);
  try {
    await opts.keyring.onDecrypt(materials, parsed.header.encryptedDataKeys);
    const dataKey = materials.dataKey;
    if (dataKey === undefined) throw invalidMessage('no keyring could decrypt a data key');
    const { messageId } = parsed.header;
    if (parsed.suite.committing) {
      const commitKey = deriveCommitKey(dataKey as AeadKey, messageId);
      if (!crypto.timingSafeEqual(commitKey, parsed.header.suiteData)) throw invalidMessage('the key commitment does not match');
    }
    const contentKey = deriveContentKey(dataKey, parsed.suite, messageId);
    // Suites without a KDF use the data key itself: the content key owns it now.
    if (contentKey instanceof NativeContentKey && contentKey.key === dataKey) materials.detachDataKey();
    try {
      verifyHeaderTag(contentKey, parsed, unstored);
    } catch (error) {
      contentKey.destroy();
      throw error;
    }
    return { contentKey, verifier, dispose: () => contentKey.destroy() };
  } finally {
    materials.dispose();
  }
}
