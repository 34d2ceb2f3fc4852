/**
 * Encryption context: a string map bound to a ciphertext as additional
 * authenticated data. Serialized the way the AWS Encryption SDK does it
 * (count, then length-prefixed key/value pairs sorted by their UTF-8 bytes),
 * so KMS ciphertext blobs and envelope messages agree on the bytes.
 */
import { KmsError } from './errors.js';
import { defineOwn } from './own-property.js';

/** An encryption context: non-secret string pairs that must match on decrypt. */
export type EncryptionContext = Readonly<Record<string, string>>;

const MAX_U16 = 0xffff;
const encoder = new TextEncoder();

function invalid(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

/** UTF-8 bytes of a context key or value; refuses lone surrogates (they would not round-trip). */
function utf8(what: string, value: string): Uint8Array {
  if (!value.isWellFormed()) throw invalid(`Encryption context ${what} is not well-formed Unicode`);
  return encoder.encode(value);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Checks a caller's context (undefined means empty) and returns a frozen
 * copy. ValidationException for non-string values, empty keys, or sizes the
 * serialization cannot hold.
 */
export function checkEncryptionContext(value: unknown): EncryptionContext {
  if (value === undefined || value === null) return Object.freeze({});
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('Encryption context must be an object mapping strings to strings');
  }
  const copy: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.length === 0) throw invalid('Encryption context keys must not be empty');
    if (typeof v !== 'string') throw invalid('Encryption context values must be strings');
    defineOwn(copy, k, v);
  }
  return Object.freeze(copy);
}

/**
 * How pairs are ordered: by their keys' UTF-8 bytes (the format's rule), or
 * by `String.prototype.localeCompare` of the keys, the order
 * @aws-crypto's RawAesKeyringNode uses by default for its wrapping AAD.
 */
export type ContextOrder = 'utf8' | 'locale';

/**
 * The AWS Encryption SDK serialization: u16 count, then for each pair sorted
 * by key bytes (or in `order`), u16 key length, key, u16 value length, value.
 * An empty context serializes to zero bytes.
 */
export function serializeEncryptionContext(context: EncryptionContext, order: ContextOrder = 'utf8'): Uint8Array {
  const pairs = Object.entries(context);
  if (order === 'locale') pairs.sort(([a], [b]) => a.localeCompare(b));
  const entries = pairs.map(([k, v]) => [utf8('key', k), utf8('value', v)] as const);
  if (entries.length === 0) return new Uint8Array(0);
  if (entries.length > MAX_U16) throw invalid('Encryption context has too many entries');
  if (order === 'utf8') entries.sort((a, b) => compareBytes(a[0], b[0]));
  let size = 2;
  for (const [k, v] of entries) {
    if (k.length > MAX_U16 || v.length > MAX_U16) throw invalid('Encryption context entry is too long');
    size += 4 + k.length + v.length;
  }
  if (size > MAX_U16) throw invalid('Encryption context is too large');
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, entries.length);
  let at = 2;
  for (const [k, v] of entries) {
    view.setUint16(at, k.length);
    out.set(k, at + 2);
    at += 2 + k.length;
    view.setUint16(at, v.length);
    out.set(v, at + 2);
    at += 2 + v.length;
  }
  return out;
}

/** The keys of a context, for audit records (values are never logged). */
export function encryptionContextKeys(context: EncryptionContext): string[] {
  return Object.keys(context).sort();
}
