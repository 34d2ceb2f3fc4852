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

/** The 16 bytes of a UUID string (already validated). */
export function uuidToBytes(uuid: string): Uint8Array {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** The 33 header bytes for (key, version, iv). */
export function blobHeader(keyId: string, keyVersion: number, iv: Uint8Array): Uint8Array {
  const header = new Uint8Array(BLOB_HEADER_LENGTH);
  header[0] = BLOB_FORMAT_VERSION;
  header.set(uuidToBytes(keyId), 1);
  new DataView(header.buffer).setUint32(17, keyVersion);
  header.set(iv, 21);
  return header;
}

/** AAD = header || serialized context. */
export function blobAad(header: Uint8Array, serializedContext: Uint8Array): Uint8Array {
  const aad = new Uint8Array(header.length + serializedContext.length);
  aad.set(header, 0);
  aad.set(serializedContext, header.length);
  return aad;
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
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const keyVersion = view.getUint32(17);
  if (keyVersion === 0) throw invalidCiphertext();
  return {
    keyId: uuidFromBytes(blob.subarray(1, 17)),
    keyVersion,
    iv: blob.slice(21, 33),
    header: blob.slice(0, BLOB_HEADER_LENGTH),
    body: blob.subarray(BLOB_HEADER_LENGTH),
  };
}
