/**
 * GenerateMac and VerifyMac with HMAC CMKs (key specs HMAC_224..HMAC_512,
 * usage GENERATE_VERIFY_MAC), as AWS KMS shapes them. The HMAC runs inside
 * the root, and so does the comparison of a MAC to verify (the token's
 * C_Verify, or CRYPTO_memcmp in the soft root): the key never leaves it.
 */
import { KmsError } from '../errors.js';
import type { KeyRecord, KeyVersionRecord } from '../keystore/index.js';
import { MAC_ALGORITHMS, type MacAlgorithm } from '../root/root-of-trust.js';
import { keyArn } from './key-references.js';
import { macAlgorithms } from './key-metadata.js';
import { checkUsable, keyVersion, wrappedKey, type KmsContext } from './kms-context.js';
import { checkRequest, oneOf, requireBytes } from './request-checks.js';
import type { AuditFacts } from './symmetric-operations.js';

/** AWS KMS's limits: a message of 1 to 4096 bytes, a MAC of 1 to 6144. */
const MAX_MESSAGE = 4096;
const MAX_MAC = 6144;

export interface GenerateMacRequest {
  keyId: string;
  message: Uint8Array;
  macAlgorithm: MacAlgorithm;
}

export interface GenerateMacResponse {
  keyId: string;
  mac: Uint8Array;
  macAlgorithm: MacAlgorithm;
  keyVersion: number;
}

export interface VerifyMacRequest extends GenerateMacRequest {
  mac: Uint8Array;
}

export interface VerifyMacResponse {
  keyId: string;
  /** Always true: a MAC that does not verify rejects with KMSInvalidMacException, as in AWS KMS. */
  macValid: true;
  macAlgorithm: MacAlgorithm;
  keyVersion: number;
}

interface MacInputs {
  key: KeyRecord;
  version: KeyVersionRecord;
  message: Uint8Array;
  algorithm: MacAlgorithm;
}

/** Checks the request and the key (usable, an HMAC key of this algorithm) and finds its version. */
async function macInputs(ctx: KmsContext, request: Partial<GenerateMacRequest>, facts: AuditFacts): Promise<MacInputs> {
  const message = requireBytes('message', request.message, 1, MAX_MESSAGE);
  const algorithm = oneOf('macAlgorithm', request.macAlgorithm, MAC_ALGORITHMS);
  const key = ctx.resolver.peek(request.keyId) ?? (await ctx.resolver.resolve(request.keyId));
  facts.keyId = key.keyId;
  checkUsable(key);
  if (!(macAlgorithms(key) ?? []).includes(algorithm)) {
    throw new KmsError('InvalidKeyUsageException', `Key ${key.keyId} cannot make ${algorithm} MACs`);
  }
  // HMAC keys are never rotated: their one version is the primary one.
  const version = await keyVersion(ctx, key, key.primaryVersion);
  facts.keyVersion = version.version;
  return { key, version, message, algorithm };
}

export async function generateMac(ctx: KmsContext, request: GenerateMacRequest, facts: AuditFacts): Promise<GenerateMacResponse> {
  const inputs = await macInputs(ctx, checkRequest('request', request), facts);
  const mac = await ctx.root.generateMac(wrappedKey(inputs.key, inputs.version), inputs.algorithm, inputs.message);
  return { keyId: keyArn(inputs.key.keyId, ctx.arn), mac, macAlgorithm: inputs.algorithm, keyVersion: inputs.version.version };
}

export async function verifyMac(ctx: KmsContext, request: VerifyMacRequest, facts: AuditFacts): Promise<VerifyMacResponse> {
  const req = checkRequest('request', request);
  const mac = requireBytes('mac', req.mac, 1, MAX_MAC);
  const inputs = await macInputs(ctx, req, facts);
  const valid = await ctx.root.verifyMac(wrappedKey(inputs.key, inputs.version), inputs.algorithm, inputs.message, mac);
  if (!valid) throw new KmsError('KMSInvalidMacException', 'The MAC is not valid');
  return { keyId: keyArn(inputs.key.keyId, ctx.arn), macValid: true, macAlgorithm: inputs.algorithm, keyVersion: inputs.version.version };
}
