/**
 * Header authentication: an AES-GCM tag over the header body, with an empty
 * plaintext, under the content key. AAD = the header body exactly as written
 * or received || the serialization of authenticated-only context pairs (zero
 * bytes when there are none: not even a count, the .NET 4.0.0 bug). The IV
 * is 12 zero bytes in v2 and stored in the header in v1.
 */
import { serializeEncryptionContext, type EncryptionContext } from '../encryption-context.js';
import type { ContentKey } from './content-key.js';
import type { ParsedHeader } from './header-codec.js';
import { invalidMessage } from './message-errors.js';
import { IV_LENGTH, TAG_LENGTH } from './suites.js';

const NOTHING = new Uint8Array(0);

/** The header tag's AAD: the header body, then the authenticated-only pairs if any. */
export function headerAad(headerBody: Uint8Array, unstored: EncryptionContext): Uint8Array {
  const extra = serializeEncryptionContext(unstored);
  return extra.length === 0 ? headerBody : Buffer.concat([headerBody, extra]);
}

/** The 16-byte v2 header tag (IV zero) for a header body we wrote. */
export function headerTag(contentKey: ContentKey, headerBody: Uint8Array): Uint8Array {
  const sealed = new Uint8Array(IV_LENGTH + TAG_LENGTH);
  contentKey.sealSync(NOTHING, new Uint8Array(IV_LENGTH), headerBody, sealed);
  return sealed.subarray(IV_LENGTH);
}

/** Verifies a received header's tag; InvalidCiphertextException when it does not verify. */
export function verifyHeaderTag(contentKey: ContentKey, parsed: ParsedHeader, unstored: EncryptionContext): void {
  const sealed = Buffer.concat([parsed.authIv, parsed.authTag]);
  try {
    contentKey.openSync(sealed, headerAad(parsed.headerBody, unstored), NOTHING);
  } catch {
    throw invalidMessage('the header does not authenticate');
  }
}
