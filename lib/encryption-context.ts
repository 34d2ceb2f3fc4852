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

/** True when every UTF-16 unit of `value` is ASCII: its UTF-8 bytes are its char codes. */
function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** UTF-8 length of a context key or value; refuses lone surrogates (they would not round-trip). */
function utf8Length(what: string, value: string): number {
  if (isAscii(value)) return value.length;
  if (!value.isWellFormed()) throw invalid(`Encryption context ${what} is not well-formed Unicode`);
  return Buffer.byteLength(value, 'utf8');
}

/** Writes `value` (of UTF-8 length `length`) at `at`. */
function writeUtf8(out: Uint8Array, at: number, value: string, length: number): void {
  if (length === value.length) {
    // ASCII (the usual context): a loop beats an encoder call for these short strings.
    for (let i = 0; i < length; i++) out[at + i] = value.charCodeAt(i);
  } else {
    encoder.encodeInto(value, out.subarray(at, at + length));
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Units from U+D800 up: below them UTF-16 unit order is code point order, which is UTF-8 byte order. */
const MAY_SORT_OFF_UTF8 = /[\uD800-\uFFFF]/;

/**
 * Sorts distinct strings in place by UTF-16 units. Contexts have a few
 * keys: an insertion sort allocates nothing, where Array.prototype.sort
 * allocated about 1 KB per call (a fifth of a KMS encrypt's garbage).
 */
function sortStrings(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
  return keys;
}

/** Keys in UTF-8 byte order (keys are distinct: no ties). */
function sortByUtf8(keys: string[]): string[] {
  let unitOrderIsByteOrder = true;
  for (const key of keys) if (MAY_SORT_OFF_UTF8.test(key)) unitOrderIsByteOrder = false;
  if (unitOrderIsByteOrder) return sortStrings(keys);
  const bytes = new Map(keys.map((k) => [k, encoder.encode(k)]));
  return keys.sort((a, b) => compareBytes(bytes.get(a)!, bytes.get(b)!));
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
  const source = value as Record<string, unknown>;
  const copy: Record<string, string> = {};
  for (const k of Object.keys(source)) {
    const v = source[k];
    if (k.length === 0) throw invalid('Encryption context keys must not be empty');
    if (typeof v !== 'string') throw invalid('Encryption context values must be strings');
    // Plain assignment would set the prototype for "__proto__" (see own-property.ts).
    if (k === '__proto__') defineOwn(copy, k, v);
    else copy[k] = v;
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
  const keys = Object.keys(context);
  if (keys.length === 0) return new Uint8Array(0);
  if (keys.length > MAX_U16) throw invalid('Encryption context has too many entries');
  if (order === 'locale') keys.sort((a, b) => a.localeCompare(b));
  else sortByUtf8(keys);
  const lengths = new Array<number>(keys.length * 2);
  let size = 2;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const keyLength = utf8Length('key', k);
    const valueLength = utf8Length('value', context[k]!);
    if (keyLength > MAX_U16 || valueLength > MAX_U16) throw invalid('Encryption context entry is too long');
    lengths[2 * i] = keyLength;
    lengths[2 * i + 1] = valueLength;
    size += 4 + keyLength + valueLength;
  }
  if (size > MAX_U16) throw invalid('Encryption context is too large');
  const out = new Uint8Array(size);
  out[0] = keys.length >>> 8;
  out[1] = keys.length & 0xff;
  let at = 2;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    at = writeField(out, at, k, lengths[2 * i]!);
    at = writeField(out, at, context[k]!, lengths[2 * i + 1]!);
  }
  return out;
}

/** u16 length then the UTF-8 bytes; returns the next offset. */
function writeField(out: Uint8Array, at: number, value: string, length: number): number {
  out[at] = length >>> 8;
  out[at + 1] = length & 0xff;
  writeUtf8(out, at + 2, value, length);
  return at + 2 + length;
}

/** The keys of a context, for audit records (values are never logged). */
export function encryptionContextKeys(context: EncryptionContext): string[] {
  return sortStrings(Object.keys(context));
}
