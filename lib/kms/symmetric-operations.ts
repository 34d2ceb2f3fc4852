/**
 * Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext),
 * GenerateDataKeyHandle, DecryptDataKey and GenerateRandom for symmetric
 * CMKs. AES-256-GCM runs inside the root; the blob format is in
 * ciphertext-blob.ts. Results name the key by ARN and carry the key version.
 */
import { AeadKey } from '../aead.js';
import { pooledRandomBytes } from '../random-pool.js';
import { checkEncryptionContext, encryptionContextKeys, serializeEncryptionContext, type EncryptionContext } from '../encryption-context.js';
import { KmsError } from '../errors.js';
import type { KeyRecord, KeyVersionRecord } from '../keystore/index.js';
import type { WrappedKey } from '../root/root-of-trust.js';
import {
  assembleBlob, blobAad, BLOB_HEADER_LENGTH, GCM_IV_LENGTH, GCM_TAG_LENGTH, MAX_BLOB_LENGTH, MAX_PLAINTEXT_LENGTH, newBlobAad, parseBlob, type ParsedBlob,
} from './ciphertext-blob.js';
import { keyArn } from './key-references.js';
import { checkUsable, keyVersion, wrappedKey, type KmsContext } from './kms-context.js';
import { checkRequest, invalid, oneOf, optionalInt, requireBytes } from './request-checks.js';

/**
 * A blob's GCM IV: 96 random bits from the host's OpenSSL DRBG. An IV must
 * be unique, not secret, and asking the HSM for it doubled the HSM round
 * trips of every encrypt; key material still comes from the HSM's RNG.
 */
function freshIv(): Uint8Array {
  return pooledRandomBytes(GCM_IV_LENGTH);
}

/** Byte equality of two IVs (not secret: no constant-time compare needed). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What an operation tells the audit trail (never values, never plaintext). */
export interface AuditFacts {
  keyId: string | null;
  keyVersion: number | null;
  contextKeys: string[];
}

export const SYMMETRIC_DEFAULT = 'SYMMETRIC_DEFAULT';
/** Bytes of a data key handle (AES-256). */
const DATA_KEY_LENGTH = 32;

export function checkSymmetricEncryptionKey(key: KeyRecord): void {
  checkUsable(key);
  if (key.keyUsage !== 'ENCRYPT_DECRYPT') throw new KmsError('InvalidKeyUsageException', `Key ${key.keyId} is not an encryption key`);
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `Key ${key.keyId} is asymmetric: give an RSAES_OAEP encryptionAlgorithm`);
  }
}

/** A blob about to be sealed: its header written, the root's ciphertext || tag to follow. */
export interface BlobDraft {
  readonly version: KeyVersionRecord;
  readonly wrapped: WrappedKey;
  readonly iv: Uint8Array;
  readonly aad: Uint8Array;
  readonly blob: Uint8Array;
  /** Where the root writes ciphertext || tag: straight behind the header, no second copy. */
  readonly body: Uint8Array;
}

/**
 * Checks the key, picks its primary version and a fresh IV, and lays out a
 * blob for `plaintextLength` bytes; no promise when the version is cached
 * (encrypt's hot path).
 */
export function draftBlob(ctx: KmsContext, key: KeyRecord, context: EncryptionContext, plaintextLength: number): BlobDraft | Promise<BlobDraft> {
  checkSymmetricEncryptionKey(key);
  const version = keyVersion(ctx, key, key.primaryVersion);
  if (version instanceof Promise) return version.then((loaded) => layOutBlob(ctx, key, context, plaintextLength, loaded));
  return layOutBlob(ctx, key, context, plaintextLength, version);
}

function layOutBlob(ctx: KmsContext, key: KeyRecord, context: EncryptionContext, plaintextLength: number, version: KeyVersionRecord): BlobDraft {
  const iv = freshIv();
  const { header, aad } = newBlobAad(key.keyId, version.version, iv, serializeEncryptionContext(context));
  const blob = new Uint8Array(BLOB_HEADER_LENGTH + plaintextLength + GCM_TAG_LENGTH);
  blob.set(header, 0);
  return { version, wrapped: wrappedKey(key, version), iv, aad, blob, body: blob.subarray(BLOB_HEADER_LENGTH) };
}

/** The header (and so the AAD) names the IV: a token that picks its own cannot be used. */
function checkSameIv(used: Uint8Array, draft: BlobDraft): void {
  if (!sameBytes(used, draft.iv)) {
    throw new KmsError('KMSInternalException', 'The HSM chose its own GCM IV; this token is not supported for symmetric keys');
  }
}

/**
 * Seals `plaintext` under the key's primary version into a ciphertext blob.
 * A data key handle is sealed from native memory: its bytes never reach JavaScript.
 */
export async function sealBlob(ctx: KmsContext, key: KeyRecord, plaintext: Uint8Array | AeadKey, context: EncryptionContext) {
  const draft = await draftBlob(ctx, key, context, plaintext instanceof Uint8Array ? plaintext.length : DATA_KEY_LENGTH);
  const sealed =
    plaintext instanceof Uint8Array
      ? await ctx.root.encrypt(draft.wrapped, draft.iv, draft.aad, plaintext, draft.body)
      : await ctx.root.encryptDataKey(draft.wrapped, draft.iv, draft.aad, plaintext);
  checkSameIv(sealed.iv, draft);
  if (sealed.ciphertext !== draft.body) draft.body.set(sealed.ciphertext);
  return { blob: draft.blob, keyVersion: draft.version.version };
}

export interface OpenedBlob {
  key: KeyRecord;
  parsed: ParsedBlob;
  aad: Uint8Array;
}

/** Finds the key and version a blob names, checking a caller's keyId matches. */
export async function locateBlob(ctx: KmsContext, blob: Uint8Array, context: EncryptionContext, expectedKeyId: unknown): Promise<OpenedBlob> {
  const parsed = parseBlob(blob);
  let key: KeyRecord;
  try {
    key = ctx.resolver.peek(parsed.keyId) ?? (await ctx.resolver.byId(parsed.keyId));
  } catch (error) {
    // A blob naming a key this KMS does not have (another instance's) is just an invalid ciphertext.
    if ((error as KmsError).code === 'NotFoundException') {
      throw new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS');
    }
    throw error;
  }
  if (expectedKeyId !== undefined) {
    const expected = await ctx.resolver.resolve(expectedKeyId);
    if (expected.keyId !== key.keyId) throw new KmsError('IncorrectKeyException', 'The ciphertext was encrypted under a different key');
  }
  checkSymmetricEncryptionKey(key);
  return { key, parsed, aad: blobAad(parsed.header, serializeEncryptionContext(context)) };
}

async function openBlob(ctx: KmsContext, opened: OpenedBlob): Promise<Uint8Array> {
  const version = await ctx.resolver.version(opened.key.keyId, opened.parsed.keyVersion);
  if (version === null) throw new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS');
  return ctx.root.decrypt(wrappedKey(opened.key, version), opened.parsed.iv, opened.aad, opened.parsed.body);
}

export interface EncryptRequest {
  keyId: string;
  plaintext: Uint8Array;
  encryptionContext?: Record<string, string>;
  encryptionAlgorithm?: string;
}

export interface EncryptResponse {
  ciphertextBlob: Uint8Array;
  keyId: string;
  encryptionAlgorithm: string;
  keyVersion: number;
}

export async function encryptSymmetric(ctx: KmsContext, key: KeyRecord, plaintext: Uint8Array | AeadKey, context: EncryptionContext, facts: AuditFacts): Promise<EncryptResponse> {
  const sealed = await sealBlob(ctx, key, plaintext, context);
  facts.keyVersion = sealed.keyVersion;
  return { ciphertextBlob: sealed.blob, keyId: keyArn(key.keyId, ctx.arn), encryptionAlgorithm: SYMMETRIC_DEFAULT, keyVersion: sealed.keyVersion };
}

export interface DecryptRequest {
  ciphertextBlob: Uint8Array;
  encryptionContext?: Record<string, string>;
  keyId?: string;
  encryptionAlgorithm?: string;
}

export interface DecryptResponse {
  plaintext: Uint8Array;
  keyId: string;
  encryptionAlgorithm: string;
  keyVersion: number;
}

export async function decryptSymmetric(ctx: KmsContext, blob: Uint8Array, context: EncryptionContext, keyId: unknown, facts: AuditFacts): Promise<DecryptResponse> {
  const opened = await locateBlob(ctx, blob, context, keyId);
  facts.keyId = opened.key.keyId;
  facts.keyVersion = opened.parsed.keyVersion;
  const plaintext = await openBlob(ctx, opened);
  return { plaintext, keyId: keyArn(opened.key.keyId, ctx.arn), encryptionAlgorithm: SYMMETRIC_DEFAULT, keyVersion: opened.parsed.keyVersion };
}

export interface ReEncryptRequest {
  ciphertextBlob: Uint8Array;
  sourceEncryptionContext?: Record<string, string>;
  sourceKeyId?: string;
  destinationKeyId: string;
  destinationEncryptionContext?: Record<string, string>;
}

export interface ReEncryptResponse {
  ciphertextBlob: Uint8Array;
  sourceKeyId: string;
  keyId: string;
  sourceEncryptionAlgorithm: string;
  destinationEncryptionAlgorithm: string;
  sourceKeyVersion: number;
  keyVersion: number;
}

export async function reEncrypt(ctx: KmsContext, request: ReEncryptRequest, facts: AuditFacts): Promise<ReEncryptResponse> {
  const req = checkRequest('request', request);
  const blob = requireBytes('ciphertextBlob', req.ciphertextBlob, 1, MAX_BLOB_LENGTH);
  const sourceContext = checkEncryptionContext(req.sourceEncryptionContext);
  const destinationContext = checkEncryptionContext(req.destinationEncryptionContext);
  facts.contextKeys = encryptionContextKeys(destinationContext);
  const destination = await ctx.resolver.resolve(req.destinationKeyId);
  checkSymmetricEncryptionKey(destination);
  const opened = await locateBlob(ctx, blob, sourceContext, req.sourceKeyId);
  const sourceVersion = await ctx.resolver.version(opened.key.keyId, opened.parsed.keyVersion);
  if (sourceVersion === null) throw new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS');
  const destinationVersion = await keyVersion(ctx, destination, destination.primaryVersion);
  const iv = freshIv();
  const { header, aad } = newBlobAad(destination.keyId, destinationVersion.version, iv, serializeEncryptionContext(destinationContext));
  // The plaintext stays inside the native layer: decrypted into locked memory, sealed again, wiped.
  const ciphertext = await ctx.root.reEncrypt(
    wrappedKey(opened.key, sourceVersion), opened.parsed.iv, opened.aad, opened.parsed.body,
    wrappedKey(destination, destinationVersion), iv, aad,
  );
  facts.keyId = destination.keyId;
  facts.keyVersion = destinationVersion.version;
  return {
    ciphertextBlob: assembleBlob(header, ciphertext),
    sourceKeyId: keyArn(opened.key.keyId, ctx.arn),
    keyId: keyArn(destination.keyId, ctx.arn),
    sourceEncryptionAlgorithm: SYMMETRIC_DEFAULT,
    destinationEncryptionAlgorithm: SYMMETRIC_DEFAULT,
    sourceKeyVersion: opened.parsed.keyVersion,
    keyVersion: destinationVersion.version,
  };
}

export interface GenerateDataKeyRequest {
  keyId: string;
  keySpec?: 'AES_256' | 'AES_128';
  numberOfBytes?: number;
  encryptionContext?: Record<string, string>;
}

function dataKeyLength(req: Partial<GenerateDataKeyRequest>): number {
  if (req.keySpec !== undefined && req.numberOfBytes !== undefined) throw invalid('Give keySpec or numberOfBytes, not both');
  if (req.numberOfBytes !== undefined) return optionalInt('numberOfBytes', req.numberOfBytes, 1, 1024)!;
  return oneOf('keySpec', req.keySpec, ['AES_256', 'AES_128'] as const, 'AES_256') === 'AES_256' ? 32 : 16;
}

export async function generateDataKey(
  ctx: KmsContext,
  request: GenerateDataKeyRequest,
  withPlaintext: boolean,
  facts: AuditFacts,
): Promise<{ ciphertextBlob: Uint8Array; plaintext?: Uint8Array; keyId: string; keyVersion: number }> {
  const req = checkRequest('request', request);
  const length = dataKeyLength(req);
  const context = checkEncryptionContext(req.encryptionContext);
  facts.contextKeys = encryptionContextKeys(context);
  const key = ctx.resolver.peek(req.keyId) ?? (await ctx.resolver.resolve(req.keyId));
  facts.keyId = key.keyId;
  const draft = await draftBlob(ctx, key, context, length);
  // The data key comes from the root's RNG (the HSM's, on a token) and is sealed in the same call.
  const made = await ctx.root.generateDataKey(draft.wrapped, draft.iv, draft.aad, length, draft.body);
  try {
    checkSameIv(made.iv, draft);
  } catch (error) {
    made.plaintext.fill(0);
    throw error;
  }
  facts.keyVersion = draft.version.version;
  const response = { ciphertextBlob: draft.blob, keyId: keyArn(key.keyId, ctx.arn), keyVersion: draft.version.version };
  if (withPlaintext) return { ...response, plaintext: made.plaintext };
  made.plaintext.fill(0);
  return response;
}

export async function generateDataKeyHandle(
  ctx: KmsContext,
  request: { keyId: string; encryptionContext?: Record<string, string> },
  facts: AuditFacts,
): Promise<{ dataKey: AeadKey; ciphertextBlob: Uint8Array; keyId: string; keyVersion: number }> {
  const req = checkRequest('request', request);
  const context = checkEncryptionContext(req.encryptionContext);
  facts.contextKeys = encryptionContextKeys(context);
  const key = ctx.resolver.peek(req.keyId) ?? (await ctx.resolver.resolve(req.keyId));
  facts.keyId = key.keyId;
  const draft = await draftBlob(ctx, key, context, DATA_KEY_LENGTH);
  const made = await ctx.root.generateDataKeyHandle(draft.wrapped, draft.iv, draft.aad, DATA_KEY_LENGTH);
  try {
    checkSameIv(made.iv, draft);
  } catch (error) {
    made.dataKey.destroy();
    throw error;
  }
  draft.body.set(made.ciphertext);
  facts.keyVersion = draft.version.version;
  return { dataKey: made.dataKey, ciphertextBlob: draft.blob, keyId: keyArn(key.keyId, ctx.arn), keyVersion: draft.version.version };
}

export async function decryptDataKey(
  ctx: KmsContext,
  request: { ciphertextBlob: Uint8Array; encryptionContext?: Record<string, string>; keyId?: string },
  facts: AuditFacts,
): Promise<{ dataKey: AeadKey; keyId: string; keyVersion: number }> {
  const req = checkRequest('request', request);
  const blob = requireBytes('ciphertextBlob', req.ciphertextBlob, 1, MAX_BLOB_LENGTH);
  const context = checkEncryptionContext(req.encryptionContext);
  facts.contextKeys = encryptionContextKeys(context);
  const opened = await locateBlob(ctx, blob, context, req.keyId);
  facts.keyId = opened.key.keyId;
  facts.keyVersion = opened.parsed.keyVersion;
  const version = await ctx.resolver.version(opened.key.keyId, opened.parsed.keyVersion);
  if (version === null) throw new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS');
  const dataKey = await ctx.root.decryptToAeadKey(wrappedKey(opened.key, version), opened.parsed.iv, opened.aad, opened.parsed.body);
  return { dataKey, keyId: keyArn(opened.key.keyId, ctx.arn), keyVersion: opened.parsed.keyVersion };
}

export async function generateRandom(ctx: KmsContext, request: { numberOfBytes: number }): Promise<{ plaintext: Uint8Array }> {
  const req = checkRequest('request', request);
  if (req.numberOfBytes === undefined) throw invalid('numberOfBytes is required');
  const length = optionalInt('numberOfBytes', req.numberOfBytes, 1, 1024)!;
  return { plaintext: await ctx.root.generateRandom(length) };
}

export { MAX_PLAINTEXT_LENGTH };
