/**
 * The symmetric ciphertext blob (DESIGN.md section 2), big-endian:
 *
 *   u8 format version (1) | 16 B key id | u32 key version | 12 B IV | ciphertext | 16 B tag
 *
 * AAD = the 33 header bytes || serialized encryption context, so the key,
 * its version and the IV are all authenticated with the context.
 */
import { KmsError } from '../errors.js';

export const BLOB_FORMAT_VERSION = 1;
export const BLOB_HEADER_LENGTH = 1 + 16 + 4 + 12;
export const GCM_TAG_LENGTH = 16;
export const GCM_IV_LENGTH = 12;
/** AWS KMS limits: plaintext 4096 bytes, ciphertext blob 6144 bytes. */
export const MAX_PLAINTEXT_LENGTH = 4096;
export const MAX_BLOB_LENGTH = 6144;

/** The parsed header of a blob; `body` is ciphertext || tag. */
export interface ParsedBlob {
  keyId: string;
  keyVersion: number;
  iv: Uint8Array;
  header: Uint8Array;
  body: Uint8Array;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A lower-case UUID string from its 16 bytes. */
export function uuidFromBytes(bytes: Uint8Array): string {
  let hex = '';
  for (let i = 0; i < 16; i++) hex += HEX[bytes[i]!];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Where the 16 hex pairs of a canonical UUID string start. */
const UUID_HEX_PAIRS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

function hexValue(code: number): number {
  return code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x57;
}

/** Writes the 16 bytes of a UUID string (already validated) at `at`: no hex string, no Buffer. */
function writeUuid(out: Uint8Array, at: number, uuid: string): void {
  for (let i = 0; i < 16; i++) {
    const p = UUID_HEX_PAIRS[i]!;
    out[at + i] = (hexValue(uuid.charCodeAt(p)) << 4) | hexValue(uuid.charCodeAt(p + 1));
  }
}

/** The 16 bytes of a UUID string (already validated). */
export function uuidToBytes(uuid: string): Uint8Array {
  const out = new Uint8Array(16);
  writeUuid(out, 0, uuid);
  return out;
}

function writeHeader(out: Uint8Array, keyId: string, keyVersion: number, iv: Uint8Array): void {
  out[0] = BLOB_FORMAT_VERSION;
  writeUuid(out, 1, keyId);
  out[17] = keyVersion >>> 24;
  out[18] = (keyVersion >>> 16) & 0xff;
  out[19] = (keyVersion >>> 8) & 0xff;
  out[20] = keyVersion & 0xff;
  out.set(iv, 21);
}

/** The 33 header bytes for (key, version, iv). */
export function blobHeader(keyId: string, keyVersion: number, iv: Uint8Array): Uint8Array {
  const header = new Uint8Array(BLOB_HEADER_LENGTH);
  writeHeader(header, keyId, keyVersion, iv);
  return header;
}

/** AAD = header || serialized context. */
export function blobAad(header: Uint8Array, serializedContext: Uint8Array): Uint8Array {
  const aad = new Uint8Array(header.length + serializedContext.length);
  aad.set(header, 0);
  aad.set(serializedContext, header.length);
  return aad;
}

/** The AAD for a new blob, built in one buffer; `header` is a view of its first 33 bytes. */
export function newBlobAad(keyId: string, keyVersion: number, iv: Uint8Array, serializedContext: Uint8Array) {
  const aad = new Uint8Array(BLOB_HEADER_LENGTH + serializedContext.length);
  writeHeader(aad, keyId, keyVersion, iv);
  aad.set(serializedContext, BLOB_HEADER_LENGTH);
  return { header: aad.subarray(0, BLOB_HEADER_LENGTH), aad };
}

/** header || ciphertext || tag. */
export function assembleBlob(header: Uint8Array, body: Uint8Array): Uint8Array {
  const blob = new Uint8Array(header.length + body.length);
  blob.set(header, 0);
  blob.set(body, header.length);
  return blob;
}

function invalidCiphertext(): KmsError {
  // One message for every malformed blob: no oracle on which check failed.
  return new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS');
}

/** Splits a blob; InvalidCiphertextException when it cannot be one of ours. */
export function parseBlob(blob: Uint8Array): ParsedBlob {
  if (blob.length < BLOB_HEADER_LENGTH + GCM_TAG_LENGTH || blob.length > MAX_BLOB_LENGTH) throw invalidCiphertext();
  if (blob[0] !== BLOB_FORMAT_VERSION) throw invalidCiphertext();
  const keyVersion = ((blob[17]! << 24) | (blob[18]! << 16) | (blob[19]! << 8) | blob[20]!) >>> 0;
  if (keyVersion === 0) throw invalidCiphertext();
  return {
    keyId: uuidFromBytes(blob.subarray(1, 17)),
    keyVersion,
    iv: blob.slice(21, 33),
    header: blob.slice(0, BLOB_HEADER_LENGTH),
    body: blob.subarray(BLOB_HEADER_LENGTH),
  };
}
