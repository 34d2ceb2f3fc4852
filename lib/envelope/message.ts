/**
 * One-shot envelope messages: a whole plaintext in, a whole message out, and
 * back. Built from the same pieces a stream uses (message-setup, body,
 * signature), with every structural check done before any decryption.
 */
import { toBytes } from '../validate.js';
import { decryptBody, encryptFramedBody, framedBodyLength, planFrames, readFramedBody, readSingleBlockBody, type BodyLayout } from './body.js';
import { ContentType, parseHeader, type MessageHeader, type ParsedHeader } from './header-codec.js';
import { IncompleteMessage, invalidMessage } from './message-errors.js';
import { prepareDecryption, prepareEncryption } from './message-setup.js';
import { checkDecryptOptions, checkEncryptOptions, type EnvelopeDecryptOptions, type EnvelopeEncryptOptions } from './options.js';
import { MAX_SIGNATURE_LENGTH, readFooter, writeFooter } from './signature.js';
import { decryptSmall, encryptSmall, isSmallBody, isSmallPlaintext } from './small-message.js';

/** What `envelope.encrypt` resolves to (the shape of @aws-crypto's encrypt). */
export interface EnvelopeEncryptResult {
  /** The message bytes. */
  result: Buffer;
  header: MessageHeader;
}

/** What `envelope.decrypt` resolves to. */
export interface EnvelopeDecryptResult {
  plaintext: Buffer;
  header: MessageHeader;
}

/**
 * Encrypts `plaintext` into an AWS Encryption SDK message (format v2, framed).
 * Rejects with a TypeError for wrong argument types and a KmsError
 * ValidationException for option values it cannot take.
 */
export async function encrypt(plaintext: Uint8Array, options: EnvelopeEncryptOptions): Promise<EnvelopeEncryptResult> {
  const input = toBytes('plaintext', plaintext);
  const opts = checkEncryptOptions(options);
  if (isSmallPlaintext(input.length, opts.frameLength)) return await encryptSmall(input, opts);
  const plan = planFrames(input.length, opts.frameLength);
  const setup = await prepareEncryption(opts, input.length);
  try {
    const headerLength = setup.headerBytes.length;
    const bodyEnd = headerLength + framedBodyLength(plan);
    const footerRoom = setup.signer === undefined ? 0 : 2 + MAX_SIGNATURE_LENGTH;
    const message = Buffer.allocUnsafeSlow(bodyEnd + footerRoom);
    message.set(setup.headerBytes);
    await encryptFramedBody(setup.contentKey, setup.header.messageId, plan, input, message.subarray(headerLength, bodyEnd));
    let end = bodyEnd;
    if (setup.signer !== undefined) {
      // Hashed on a digest thread: a large message never holds up the event loop.
      await setup.signer.updateInOrder(message.subarray(0, bodyEnd));
      end += writeFooter(await setup.signer.sign(), message.subarray(bodyEnd));
    }
    return { result: message.subarray(0, end), header: setup.header };
  } finally {
    setup.dispose();
  }
}

function readHeader(bytes: Uint8Array, maxEncryptedDataKeys: number): ParsedHeader {
  try {
    return parseHeader(bytes, { maxEncryptedDataKeys });
  } catch (error) {
    if (error instanceof IncompleteMessage) throw invalidMessage('the message is truncated');
    throw error;
  }
}

function readBody(bytes: Uint8Array, parsed: ParsedHeader): BodyLayout {
  const { header } = parsed;
  if (header.contentType === ContentType.NO_FRAMING) return readSingleBlockBody(bytes, header.headerLength);
  return readFramedBody(bytes, header.headerLength, { frameLength: header.frameLength, requireFrameIv: header.version === 2 });
}

/** The signature in the footer after the body, checking that nothing follows it. */
function readEnd(bytes: Uint8Array, bodyEnd: number, signed: boolean): Uint8Array | undefined {
  let end = bodyEnd;
  let signature: Uint8Array | undefined;
  if (signed) {
    try {
      ({ signature, end } = readFooter(bytes, bodyEnd));
    } catch (error) {
      if (error instanceof IncompleteMessage) throw invalidMessage('the message is truncated');
      throw error;
    }
  }
  if (end !== bytes.length) throw invalidMessage('bytes follow the end of the message');
  return signature;
}

/**
 * Decrypts a whole message. Its structure (header, every frame's place and
 * sequence number, footer, no trailing bytes) is checked before any
 * decryption; the key commitment before the header tag; and for a signed
 * suite, no plaintext is returned unless the signature verifies.
 */
export async function decrypt(message: Uint8Array, options: EnvelopeDecryptOptions): Promise<EnvelopeDecryptResult> {
  const bytes = toBytes('message', message);
  const opts = checkDecryptOptions(options);
  const parsed = readHeader(bytes, opts.maxEncryptedDataKeys);
  const layout = readBody(bytes, parsed);
  const signature = readEnd(bytes, layout.end, parsed.suite.signature !== undefined);
  if (isSmallBody(parsed, layout)) return await decryptSmall(bytes, parsed, layout, signature, opts);
  const setup = await prepareDecryption(parsed, opts);
  const plaintext = Buffer.allocUnsafeSlow(layout.plaintextLength);
  try {
    const frames = decryptBody(setup.contentKey, parsed.header.messageId, bytes, layout, plaintext);
    // The hash runs on a digest thread while the frames decrypt on the AES threads.
    const hashed = setup.verifier?.updateInOrder(bytes.subarray(0, layout.end));
    await Promise.all([frames, hashed]);
    if (setup.verifier !== undefined && !(await setup.verifier.verify(signature!))) throw invalidMessage('the signature does not verify');
    return { plaintext, header: parsed.header };
  } catch (error) {
    plaintext.fill(0);
    throw error;
  } finally {
    setup.dispose();
  }
}
