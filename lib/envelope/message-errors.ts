/**
 * The errors a message can cause. Every failure to read or authenticate a
 * message is one InvalidCiphertextException with a short reason that names
 * the rule broken but never carries key material or plaintext.
 */
import { KmsError } from '../errors.js';

/** A message that is malformed, tampered with, truncated, or not for these keys. */
export function invalidMessage(reason: string): KmsError {
  return new KmsError('InvalidCiphertextException', `The message could not be decrypted: ${reason}`);
}

/** A caller option the operation cannot accept. */
export function invalidOption(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

/**
 * Thrown by the codecs when the bytes end before the structure does. The
 * one-shot decrypt reports it as a truncated message; a streaming reader
 * catches it and waits for more bytes.
 */
export class IncompleteMessage extends Error {
  constructor() {
    super('The message ends early');
    this.name = 'IncompleteMessage';
  }
}
