/**
 * Asymmetric CMKs: RSA encryption (OAEP on the host with the public key, as
 * anyone holding it could; decryption in the root), signing in the root,
 * verification and GetPublicKey on the host. Shapes follow AWS KMS.
 */
import { KmsError } from '../errors.js';
import type { KeyRecord } from '../keystore/index.js';
import { keyArn } from './key-references.js';
import { encryptionAlgorithms, signingAlgorithms } from './key-metadata.js';
import { checkUsable, keyVersion, wrappedKey, type KmsContext } from './kms-context.js';
import type { MessageType, OaepHash, SigningAlgorithm } from '../root/root-of-trust.js';
import { checkRequest, invalid, oneOf, requireBytes } from './request-checks.js';

export const OAEP_ALGORITHMS: readonly OaepHash[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256', 'ECDSA_SHA_384',
];
const MAX_MESSAGE = 4096;

function modulusBytes(key: KeyRecord): number {
  return key.keySpec === 'RSA_2048' ? 256 : key.keySpec === 'RSA_3072' ? 384 : 512;
}

/** OAEP's plaintext limit: k - 2*hLen - 2. */
function maxOaepPlaintext(key: KeyRecord, hash: OaepHash): number {
  return modulusBytes(key) - 2 * (hash === 'RSAES_OAEP_SHA_1' ? 20 : 32) - 2;
}

function requireRsaEncryptionKey(key: KeyRecord): void {
  checkUsable(key);
  if (key.keyUsage !== 'ENCRYPT_DECRYPT' || !key.keySpec.startsWith('RSA_')) {
    throw new KmsError('InvalidKeyUsageException', `Key ${key.keyId} cannot be used for RSA encryption`);
  }
}

async function publicKeyOf(ctx: KmsContext, key: KeyRecord): Promise<Uint8Array> {
  const version = await keyVersion(ctx, key, key.primaryVersion);
  if (version.publicKey === null) throw new KmsError('KMSInternalException', `Key ${key.keyId} has no public key`);
  return version.publicKey;
}

export async function encryptAsymmetric(ctx: KmsContext, key: KeyRecord, plaintext: Uint8Array, algorithm: OaepHash) {
  requireRsaEncryptionKey(key);
  if (plaintext.length > maxOaepPlaintext(key, algorithm)) {
    throw invalid(`${algorithm} with ${key.keySpec} encrypts at most ${maxOaepPlaintext(key, algorithm)} bytes`);
  }
  const ciphertextBlob = await ctx.root.encryptOaep(await publicKeyOf(ctx, key), algorithm, plaintext);
  return { ciphertextBlob, keyId: keyArn(key.keyId, ctx.arn), encryptionAlgorithm: algorithm, keyVersion: key.primaryVersion };
}

export async function decryptAsymmetric(ctx: KmsContext, key: KeyRecord, ciphertext: Uint8Array, algorithm: OaepHash) {
  requireRsaEncryptionKey(key);
  if (ciphertext.length !== modulusBytes(key)) {
    throw new KmsError('InvalidCiphertextException', 'The ciphertext is invalid for this key');
  }
  const version = await keyVersion(ctx, key, key.primaryVersion);
  const plaintext = await ctx.root.rsaDecrypt(wrappedKey(key, version), algorithm, ciphertext);
  return { plaintext, keyId: keyArn(key.keyId, ctx.arn), encryptionAlgorithm: algorithm, keyVersion: key.primaryVersion };
}

interface SignInputs {
  key: KeyRecord;
  message: Uint8Array;
  messageType: MessageType;
  algorithm: SigningAlgorithm;
}

async function signInputs(ctx: KmsContext, request: { keyId?: string; message?: Uint8Array; messageType?: string; signingAlgorithm?: string }): Promise<SignInputs> {
  const message = requireBytes('message', request.message, 1, MAX_MESSAGE);
  const messageType = oneOf('messageType', request.messageType, ['RAW', 'DIGEST'] as const, 'RAW');
  const algorithm = oneOf('signingAlgorithm', request.signingAlgorithm, SIGNING_ALGORITHMS);
  const key = ctx.resolver.peek(request.keyId) ?? (await ctx.resolver.resolve(request.keyId));
  checkUsable(key);
  if (key.keyUsage !== 'SIGN_VERIFY' || !(signingAlgorithms(key) ?? []).includes(algorithm)) {
    throw new KmsError('InvalidKeyUsageException', `Key ${key.keyId} cannot sign with ${algorithm}`);
  }
  if (messageType === 'DIGEST') {
    const bits = Number(algorithm.slice(-3));
    if (message.length !== bits / 8) throw invalid(`A ${algorithm} digest is ${bits / 8} bytes long`);
  }
  return { key, message, messageType, algorithm };
}

export async function sign(ctx: KmsContext, request: { keyId: string; message: Uint8Array; messageType?: MessageType; signingAlgorithm: SigningAlgorithm }) {
  const inputs = await signInputs(ctx, checkRequest('request', request));
  const version = await keyVersion(ctx, inputs.key, inputs.key.primaryVersion);
  const signature = await ctx.root.sign(wrappedKey(inputs.key, version), inputs.algorithm, inputs.messageType, inputs.message);
  return { keyId: keyArn(inputs.key.keyId, ctx.arn), signature, signingAlgorithm: inputs.algorithm, keyVersion: version.version };
}

export async function verify(
  ctx: KmsContext,
  request: { keyId: string; message: Uint8Array; messageType?: MessageType; signature: Uint8Array; signingAlgorithm: SigningAlgorithm },
) {
  const req = checkRequest('request', request);
  const inputs = await signInputs(ctx, req);
  const signature = requireBytes('signature', req.signature, 1, 6144);
  const valid = await ctx.root.verify(await publicKeyOf(ctx, inputs.key), inputs.algorithm, inputs.messageType, inputs.message, signature);
  // As AWS KMS does: an invalid signature is an error, not `signatureValid: false`.
  if (!valid) throw new KmsError('KMSInvalidSignatureException', 'The signature is not valid');
  return { keyId: keyArn(inputs.key.keyId, ctx.arn), signatureValid: true as const, signingAlgorithm: inputs.algorithm };
}

export async function getPublicKey(ctx: KmsContext, request: { keyId: string }) {
  const key = await ctx.resolver.resolve(checkRequest('request', request).keyId);
  if (key.keySpec === 'SYMMETRIC_DEFAULT' || key.keyUsage === 'GENERATE_VERIFY_MAC') {
    throw new KmsError('UnsupportedOperationException', 'Symmetric and HMAC keys have no public key');
  }
  if (key.keyState === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `Key ${key.keyId} is pending deletion`);
  if (key.keyState === 'Disabled') throw new KmsError('DisabledException', `Key ${key.keyId} is disabled`);
  const enc = encryptionAlgorithms(key);
  const sig = signingAlgorithms(key);
  return {
    keyId: keyArn(key.keyId, ctx.arn),
    publicKey: await publicKeyOf(ctx, key),
    keySpec: key.keySpec,
    customerMasterKeySpec: key.keySpec,
    keyUsage: key.keyUsage,
    ...(enc && { encryptionAlgorithms: enc }),
    ...(sig && { signingAlgorithms: sig }),
  };
}

export function isOaep(value: unknown): value is OaepHash {
  return typeof value === 'string' && (OAEP_ALGORITHMS as readonly string[]).includes(value);
}
