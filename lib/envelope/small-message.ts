/**
 * Small messages (one frame, within the AEAD engine's inline threshold) in
 * one native call on the calling thread: message keys (HKDF-SHA512), the
 * commitment, the header tag and the frame, with no per-message key handle
 * and no hop to the worker pool. Same bytes and same checks as the general
 * path (message.ts), which handles everything else.
 */
import { inlineThresholdBytes, nativeKeyHandle, type AeadKey } from '../aead.js';
import { native } from '../native.js';
import type { BodyLayout } from './body.js';
import { FINAL_FRAME_OVERHEAD } from './frame-codec.js';
import { serializeHeaderBody, type MessageHeader, type ParsedHeader } from './header-codec.js';
import { headerAad } from './header-auth.js';
import { invalidMessage } from './message-errors.js';
import { decryptionKeys, encryptionKeys, newHeader } from './message-setup.js';
import type { CheckedDecryptOptions, CheckedEncryptOptions } from './options.js';
import { MAX_SIGNATURE_LENGTH, writeFooter } from './signature.js';
import { COMMIT_KEY_LENGTH, TAG_LENGTH } from './suites.js';

const COMMIT_KEY_SLOT = new Uint8Array(COMMIT_KEY_LENGTH);
/** openSmallMessage's answers, by the check that failed. */
const FAILED_CHECK = ['', 'the key commitment does not match', 'the header does not authenticate', 'a frame does not authenticate'] as const;

/** True when a plaintext of this length is written as a small message. */
export function isSmallPlaintext(length: number, frameLength: number): boolean {
  return length < frameLength && length <= inlineThresholdBytes();
}

/** True when a parsed v2 message is one final frame within the inline threshold. */
export function isSmallBody(parsed: ParsedHeader, layout: BodyLayout): layout is BodyLayout & { kind: 'framed' } {
  return parsed.header.version === 2 && layout.kind === 'framed' && layout.regularFrames === 0 && layout.plaintextLength <= inlineThresholdBytes();
}

/** Encrypts a plaintext {@link isSmallPlaintext} accepts. */
export async function encryptSmall(input: Uint8Array, opts: CheckedEncryptOptions): Promise<{ result: Buffer; header: MessageHeader }> {
  const keys = await encryptionKeys(opts, input.length);
  try {
    const { suite, frameLength } = opts;
    const { messageId, signer } = keys;
    const rest = TAG_LENGTH + FINAL_FRAME_OVERHEAD + input.length;
    const footerRoom = signer === undefined ? 0 : 2 + MAX_SIGNATURE_LENGTH;
    const fields = { suite, messageId, encryptionContext: keys.encryptionContext, encryptedDataKeys: keys.encryptedDataKeys, frameLength, commitKey: COMMIT_KEY_SLOT, serializedContext: keys.serializedContext };
    // The header body, then room for everything else, written in place.
    const message = serializeHeaderBody(fields, rest + footerRoom);
    const headerBodyLength = message.length - rest - footerRoom;
    const bodyEnd = headerBodyLength + rest;
    native.sealSmallMessage(nativeKeyHandle(keys.dataKey), suite.id, messageId, message.subarray(0, bodyEnd), headerBodyLength, input);
    let end = bodyEnd;
    if (signer !== undefined) end += writeFooter(await signer.update(message.subarray(0, bodyEnd)).sign(), message.subarray(bodyEnd));
    const commitKey = message.slice(headerBodyLength - COMMIT_KEY_LENGTH, headerBodyLength);
    return { result: message.subarray(0, end), header: newHeader(opts, keys, commitKey, headerBodyLength + TAG_LENGTH) };
  } finally {
    keys.release();
  }
}

/**
 * Decrypts a message {@link isSmallBody} accepts, its structure already
 * checked. Commitment, header tag and frame are checked natively in that
 * order; a signed suite's plaintext is returned only once the signature verifies.
 */
export async function decryptSmall(bytes: Uint8Array, parsed: ParsedHeader, layout: BodyLayout & { kind: 'framed' }, signature: Uint8Array | undefined, opts: CheckedDecryptOptions): Promise<{ plaintext: Buffer; header: MessageHeader }> {
  const { dataKey, verifier, unstored, materials } = await decryptionKeys(parsed, opts);
  const plaintext = Buffer.allocUnsafeSlow(layout.plaintextLength);
  try {
    const { header } = parsed;
    const frame = bytes.subarray(layout.final.start, layout.final.end);
    // v2 suites have 32-byte data keys, which the materials hold as native keys.
    const handle = nativeKeyHandle(dataKey as AeadKey);
    const failed = native.openSmallMessage(handle, header.suiteId, header.messageId, header.suiteData, headerAad(parsed.headerBody, unstored), parsed.authTag, frame, plaintext);
    if (failed !== 0) throw invalidMessage(FAILED_CHECK[failed] ?? 'the message does not authenticate');
    if (verifier !== undefined && !(await verifier.update(bytes.subarray(0, layout.end)).verify(signature!))) throw invalidMessage('the signature does not verify');
    return { plaintext, header };
  } catch (error) {
    plaintext.fill(0);
    throw error;
  } finally {
    materials.dispose();
  }
}
