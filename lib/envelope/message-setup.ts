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
import { ContentType, serializeHeaderBody, type EncryptedDataKey, type MessageHeader, type ParsedHeader } from './header-codec.js';
import { headerTag, verifyHeaderTag } from './header-auth.js';
import { deriveCommitKey, deriveContentKey, type PlaintextDataKey } from './kdf.js';
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

/** The keyring's part of a new message; release() once the message is written. */
export interface EncryptionKeys {
  readonly encryptionContext: EncryptionContext;
  readonly dataKey: AeadKey;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly signer: MessageSigner | undefined;
  /** A fresh random message ID. */
  readonly messageId: Uint8Array;
  /** The context as the header stores it. */
  readonly serializedContext: Uint8Array;
  /** Hands the data key back to the keyring (a cache) or destroys it. */
  release(): void;
}

/** Gets a data key and its encrypted copies from the keyring. */
export async function encryptionKeys(opts: CheckedEncryptOptions, plaintextLength?: number): Promise<EncryptionKeys> {
  const { suite, keyring } = opts;
  const signer = suite.signature === undefined ? undefined : await MessageSigner.create(suite.signature);
  const encryptionContext: EncryptionContext = signer === undefined ? opts.encryptionContext : Object.freeze({ ...opts.encryptionContext, [PUBLIC_KEY_FIELD]: signer.publicKey });
  const materials = new EncryptionMaterials(suite, encryptionContext, keyring.needsDataKeyBytes(true), plaintextLength);
  try {
    await keyring.onEncrypt(materials);
    const dataKey = materials.dataKey;
    const edks = materials.encryptedDataKeys;
    if (dataKey === undefined || edks.length === 0) throw new KmsError('ValidationException', 'The keyring made no encrypted data key');
    if (edks.length > opts.maxEncryptedDataKeys) throw new KmsError('LimitExceededException', `The keyring made ${edks.length} encrypted data keys, more than maxEncryptedDataKeys`);
    const messageId = pooledRandomBytes(MESSAGE_ID_LENGTH);
    return { encryptionContext, dataKey, encryptedDataKeys: edks, signer, messageId, serializedContext: materials.serializedContext, release: () => materials.releaseDataKey() };
  } catch (error) {
    materials.releaseDataKey();
    throw error;
  } finally {
    materials.dispose();
  }
}

/** The header a new message reports (plain data, frozen). */
export function newHeader(opts: CheckedEncryptOptions, keys: EncryptionKeys, commitKey: Uint8Array, headerLength: number): MessageHeader {
  return Object.freeze({
    version: 2,
    suiteId: opts.suite.id,
    messageId: keys.messageId,
    encryptionContext: keys.encryptionContext,
    encryptedDataKeys: Object.freeze([...keys.encryptedDataKeys]),
    contentType: ContentType.FRAMED_DATA,
    frameLength: opts.frameLength,
    suiteData: commitKey,
    headerLength,
  });
}

/** Gets a data key from the keyring and builds the header of a new message. */
export async function prepareEncryption(opts: CheckedEncryptOptions, plaintextLength?: number): Promise<EncryptionSetup> {
  const keys = await encryptionKeys(opts, plaintextLength);
  try {
    const { suite, frameLength } = opts;
    const { messageId, encryptionContext, dataKey } = keys;
    const commitKey = deriveCommitKey(dataKey, messageId);
    const contentKey = deriveContentKey(dataKey, suite, messageId);
    const headerBody = serializeHeaderBody({ suite, messageId, encryptionContext, encryptedDataKeys: keys.encryptedDataKeys, frameLength, commitKey, serializedContext: keys.serializedContext });
    const headerBytes = Buffer.concat([headerBody, headerTag(contentKey, headerBody)]);
    const header = newHeader(opts, keys, commitKey, headerBytes.length);
    return {
      header,
      headerBytes,
      contentKey,
      signer: keys.signer,
      dispose: () => {
        contentKey.destroy();
        keys.signer?.release();
      },
    };
  } finally {
    keys.release();
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

async function signatureVerifier(parsed: ParsedHeader): Promise<MessageVerifier | undefined> {
  const encodedKey = parsed.header.encryptionContext[PUBLIC_KEY_FIELD];
  const signature = parsed.suite.signature;
  if (signature === undefined) {
    if (encodedKey !== undefined) throw invalidMessage('an unsigned suite carries a signature key');
    return undefined;
  }
  if (encodedKey === undefined) throw invalidMessage('the signature key is missing');
  return MessageVerifier.create(signature, encodedKey);
}

/** The data key of a received message, from the keyring; dispose() when done. */
export interface DecryptionKeys {
  readonly dataKey: PlaintextDataKey;
  readonly verifier: MessageVerifier | undefined;
  /** The caller's authenticated-only pairs (the header tag's extra AAD). */
  readonly unstored: EncryptionContext;
  readonly materials: DecryptionMaterials;
}

/**
 * Checks a parsed header's policy and context and gets its data key from the
 * keyring. InvalidCiphertextException for a context mismatch or no
 * unwrappable data key; UnsupportedOperationException for v1 without opt-in.
 */
export async function decryptionKeys(parsed: ParsedHeader, opts: CheckedDecryptOptions): Promise<DecryptionKeys> {
  checkPolicy(parsed, opts);
  // Before the keyring: a message with a bad signature key costs no keyring call.
  const verifier = await signatureVerifier(parsed);
  const { full, unstored } = reconcileContext(parsed.header.encryptionContext, opts.encryptionContext);
  const materials = new DecryptionMaterials(parsed.suite, full);
  try {
    await opts.keyring.onDecrypt(materials, parsed.header.encryptedDataKeys);
    const dataKey = materials.dataKey;
    if (dataKey === undefined) throw invalidMessage('no keyring could decrypt a data key');
    return { dataKey, verifier, unstored, materials };
  } catch (error) {
    materials.dispose();
    verifier?.release();
    throw error;
  }
}

/**
 * Checks a parsed header and opens its keys. InvalidCiphertextException for
 * a context mismatch, no unwrappable data key, a commitment mismatch or a
 * bad header tag; UnsupportedOperationException for v1 without opt-in.
 */
export async function prepareDecryption(parsed: ParsedHeader, opts: CheckedDecryptOptions): Promise<DecryptionSetup> {
  const { dataKey, verifier, unstored, materials } = await decryptionKeys(parsed, opts);
  try {
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
    return {
      contentKey,
      verifier,
      dispose: () => {
        contentKey.destroy();
        verifier?.release();
      },
    };
  } finally {
    materials.dispose();
  }
}
