/**
 * The encryption context as a message header stores it, and the rules a
 * message's context follows: reserved `aws-crypto-` keys, and a caller's
 * context on decrypt being contained in the message's.
 */
import { IncompleteMessage, invalidMessage, invalidOption } from './message-errors.js';
import { ByteReader } from './byte-reader.js';
import type { EncryptionContext } from '../encryption-context.js';
import { defineOwn } from '../own-property.js';

/** Context keys starting with this are the SDK's own; callers may not set them. */
export const RESERVED_PREFIX = 'aws-crypto-';
/** Where a signed message carries its verification key (base64 compressed point). */
export const PUBLIC_KEY_FIELD = 'aws-crypto-public-key';

// ignoreBOM: a leading U+FEFF is part of a key or value, not a marker to drop.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function text(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw invalidMessage('the encryption context is not UTF-8');
  }
}

/**
 * Parses the context section's content (u16 count, then pairs) of exactly
 * `bytes.length` bytes. Rejects duplicate keys and bytes left over.
 */
export function parseEncryptionContext(bytes: Uint8Array): EncryptionContext {
  const context: Record<string, string> = Object.create(null) as Record<string, string>;
  if (bytes.length === 0) return Object.freeze({ ...context });
  const reader = new ByteReader(bytes);
  try {
    const count = reader.u16();
    for (let i = 0; i < count; i++) {
      const key = text(reader.lengthPrefixed());
      const value = text(reader.lengthPrefixed());
      if (Object.hasOwn(context, key)) throw invalidMessage('the encryption context has a duplicate key');
      context[key] = value;
    }
  } catch (error) {
    if (error instanceof IncompleteMessage) throw invalidMessage('the encryption context is malformed');
    throw error;
  }
  if (reader.offset !== bytes.length) throw invalidMessage('the encryption context is malformed');
  return Object.freeze({ ...context });
}

/** Refuses caller context keys in the SDK's reserved namespace. */
export function checkNoReservedKeys(context: EncryptionContext): void {
  for (const key of Object.keys(context)) {
    if (key.startsWith(RESERVED_PREFIX)) {
      throw invalidOption(`Encryption context keys starting with "${RESERVED_PREFIX}" are reserved`);
    }
  }
}

/** How a caller's context on decrypt relates to the one stored in the header. */
export interface ReconciledContext {
  /** Stored pairs plus the caller's pairs the header does not store. */
  full: EncryptionContext;
  /**
   * The caller's pairs the header does not store. They are authenticated
   * but not stored (the required-encryption-context CMM of the other SDKs),
   * so the header tag proves or refutes them.
   */
  unstored: EncryptionContext;
}

/**
 * Checks that every pair the caller expects is in the message: a stored key
 * with another value fails at once; a key the header does not store must be
 * one of its authenticated-only pairs, which the header tag then checks.
 */
export function reconcileContext(stored: EncryptionContext, expected: EncryptionContext | undefined): ReconciledContext {
  const unstored: Record<string, string> = {};
  for (const [key, value] of Object.entries(expected ?? {})) {
    if (!Object.hasOwn(stored, key)) defineOwn(unstored, key, value);
    else if (stored[key] !== value) throw invalidMessage('the encryption context does not match');
  }
  return { full: Object.freeze({ ...stored, ...unstored }), unstored: Object.freeze(unstored) };
}
