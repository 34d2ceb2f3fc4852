/**
 * The AWS JSON 1.1 protocol's shapes <-> the library's: PascalCase members to
 * camelCase and back, blobs as base64, timestamps as epoch seconds. The keys
 * of encryption-context maps are caller data and pass through unchanged.
 */
import { defineOwn } from '../own-property.js';
import { serialization } from './aws-errors.js';

/** Request members holding binary data (base64 on the wire). */
const REQUEST_BLOBS: ReadonlySet<string> = new Set(['Plaintext', 'CiphertextBlob', 'Message', 'Signature', 'Mac']);

/** Members whose value is a string map owned by the caller (its keys are not renamed). */
const STRING_MAPS: ReadonlySet<string> = new Set(['EncryptionContext', 'SourceEncryptionContext', 'DestinationEncryptionContext']);

/** Members whose AWS name is not the capitalised camelCase name. */
const AWS_NAMES: Readonly<Record<string, string>> = { awsAccountId: 'AWSAccountId' };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function pascal(name: string): string {
  return AWS_NAMES[name] ?? name.charAt(0).toUpperCase() + name.slice(1);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Decodes a base64 member strictly (Buffer.from would skip bad characters silently). */
export function decodeBlob(name: string, value: unknown): Buffer {
  if (typeof value !== 'string' || !BASE64.test(value)) throw serialization(`${name} must be a base64 string`);
  return Buffer.from(value, 'base64');
}

function requestValue(name: string, value: unknown, blobs: Buffer[]): unknown {
  if (REQUEST_BLOBS.has(name)) {
    const blob = decodeBlob(name, value);
    blobs.push(blob);
    return new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength);
  }
  if (STRING_MAPS.has(name)) return value;
  if (Array.isArray(value)) return value.map((item) => requestValue('', item, blobs));
  if (isPlainObject(value)) return requestShape(value, blobs);
  return value;
}

function requestShape(body: Record<string, unknown>, blobs: Buffer[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) {
    // AWS's optional no-op members, which the library does not take.
    if (name === 'GrantTokens' || name === 'DryRun' || value === null) continue;
    defineOwn(out, camel(name), requestValue(name, value, blobs));
  }
  return out;
}

/** A decoded request: the library's shape, plus the decoded blobs (to wipe after the operation). */
export interface DecodedRequest {
  request: Record<string, unknown>;
  blobs: Buffer[];
}

/** Parses a JSON 1.1 request body into the library's request shape. */
export function decodeRequest(body: Buffer): DecodedRequest {
  let parsed: unknown;
  try {
    parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw serialization('The request body is not valid JSON');
  }
  if (!isPlainObject(parsed)) throw serialization('The request body must be a JSON object');
  const blobs: Buffer[] = [];
  return { request: requestShape(parsed, blobs), blobs };
}

function responseValue(value: unknown, plaintexts: Uint8Array[], name: string): unknown {
  if (value instanceof Uint8Array) {
    if (name === 'plaintext') plaintexts.push(value);
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map((item) => responseValue(item, plaintexts, ''));
  if (isPlainObject(value)) {
    if (name === 'encryptionContext') return value;
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) {
      if (member !== undefined) out[pascal(key)] = responseValue(member, plaintexts, key);
    }
    return out;
  }
  return value;
}

/**
 * Serialises a library response as a JSON 1.1 body. Plaintext bytes are
 * wiped once encoded (the base64 string is the only copy left, and it goes
 * straight to the socket).
 */
export function encodeResponse(response: unknown): string {
  const plaintexts: Uint8Array[] = [];
  const body = JSON.stringify(responseValue(response ?? {}, plaintexts, ''));
  for (const bytes of plaintexts) bytes.fill(0);
  return body;
}
