/**
 * The operation table: each AWS KMS operation the server speaks, the Kms
 * method that runs it, and what authorization must check first (which keys,
 * under which `kms:` action, with which encryption context).
 */
import type { Kms } from '../kms/kms.js';
import type { RequestParameters } from './policy.js';

type Request = Record<string, unknown>;
type Context = Record<string, string> | undefined;

/** Where a policy check finds its key. */
export type KeyLocator =
  | { kind: 'reference'; reference: unknown }
  /** A symmetric ciphertext blob names its key. */
  | { kind: 'blob'; blob: unknown }
  /** The key an alias points at now. */
  | { kind: 'alias'; aliasName: unknown };

/** One key-policy check. */
export interface KeyCheck {
  key: KeyLocator;
  action: string;
  context: Context;
  /** The request's algorithm parameters, for the kms:*Algorithm and kms:MessageType condition keys. */
  parameters?: RequestParameters;
}


export interface OperationSpec {
  /** Runs the operation on the Kms with a library-shaped request. */
  run(kms: Kms, request: Request): Promise<unknown>;
  /** The key checks; `null` for operations that name no key (the account policy decides). */
  checks(request: Request): KeyCheck[] | null;
  /** Operations that name no key: the request's values of condition keys, for the account policy. */
  parameters?(request: Request): RequestParameters;
}

const ctx = (value: unknown): Context =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, string>) : undefined;

const SYMMETRIC: RequestParameters = { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' };

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The algorithm parameters of a request, as AWS KMS gives them to conditions:
 * an encryption algorithm defaults to SYMMETRIC_DEFAULT where the operation
 * encrypts or decrypts, a message type to RAW where it signs.
 */
function parametersOf(operation: string, r: Request): RequestParameters {
  const out: { -readonly [K in keyof RequestParameters]: RequestParameters[K] } = {};
  if (['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext'].includes(operation)) {
    out['kms:EncryptionAlgorithm'] = text(r.encryptionAlgorithm) ?? 'SYMMETRIC_DEFAULT';
  }
  if (operation === 'Sign' || operation === 'Verify') {
    const algorithm = text(r.signingAlgorithm);
    if (algorithm !== undefined) out['kms:SigningAlgorithm'] = algorithm;
    out['kms:MessageType'] = text(r.messageType) ?? 'RAW';
  }
  if (operation === 'GenerateMac' || operation === 'VerifyMac') {
    const algorithm = text(r.macAlgorithm);
    if (algorithm !== undefined) out['kms:MacAlgorithm'] = algorithm;
  }
  return out;
}

/** The usual shape: one key named by `KeyId`, checked under `kms:<Operation>`. */
function onKey(operation: string, run: (kms: Kms, request: never) => Promise<unknown>): [string, OperationSpec] {
  return [
    operation,
    {
      run: run as OperationSpec['run'],
      checks: (r) => [{
        key: { kind: 'reference', reference: r.keyId },
        action: `kms:${operation}`,
        context: ctx(r.encryptionContext),
        parameters: parametersOf(operation, r),
      }],
    },
  ];
}

function onAccount(
  operation: string,
  run: (kms: Kms, request: never) => Promise<unknown>,
  parameters?: (request: Request) => RequestParameters,
): [string, OperationSpec] {
  return [operation, { run: run as OperationSpec['run'], checks: () => null, ...(parameters && { parameters }) }];
}

/** CreateKey's kms:KeySpec and kms:KeyUsage, with its defaults (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT). */
const newKeyParameters = (r: Request): RequestParameters => ({
  'kms:KeySpec': text(r.keySpec) ?? 'SYMMETRIC_DEFAULT',
  'kms:KeyUsage': text(r.keyUsage) ?? 'ENCRYPT_DECRYPT',
});

const isOaep = (value: unknown): boolean => typeof value === 'string' && value.startsWith('RSAES_OAEP');

/** Every operation, by its AWS name. */
export const OPERATIONS: ReadonlyMap<string, OperationSpec> = new Map<string, OperationSpec>([
  onAccount('CreateKey', (kms, r) => kms.createKey(r), newKeyParameters),
  onAccount('ListKeys', (kms, r) => kms.listKeys(r)),
  onAccount('ListAliases', (kms, r) => kms.listAliases(r)),
  onAccount('GenerateRandom', (kms, r) => kms.generateRandom(r)),
  onKey('DescribeKey', (kms, r) => kms.describeKey(r)),
  onKey('EnableKey', (kms, r) => kms.enableKey(r)),
  onKey('DisableKey', (kms, r) => kms.disableKey(r)),
  onKey('ScheduleKeyDeletion', (kms, r) => kms.scheduleKeyDeletion(r)),
  onKey('CancelKeyDeletion', (kms, r) => kms.cancelKeyDeletion(r)),
  onKey('TagResource', (kms, r) => kms.tagResource(r)),
  onKey('UntagResource', (kms, r) => kms.untagResource(r)),
  onKey('ListResourceTags', (kms, r) => kms.listResourceTags(r)),
  onKey('EnableKeyRotation', (kms, r) => kms.enableKeyRotation(r)),
  onKey('DisableKeyRotation', (kms, r) => kms.disableKeyRotation(r)),
  onKey('GetKeyRotationStatus', (kms, r) => kms.getKeyRotationStatus(r)),
  onKey('RotateKeyOnDemand', (kms, r) => kms.rotateKeyOnDemand(r)),
  onKey('ListKeyRotations', (kms, r) => kms.listKeyRotations(r)),
  onKey('Encrypt', (kms, r) => kms.encrypt(r)),
  onKey('GenerateDataKey', (kms, r) => kms.generateDataKey(r)),
  onKey('GenerateDataKeyWithoutPlaintext', (kms, r) => kms.generateDataKeyWithoutPlaintext(r)),
  onKey('Sign', (kms, r) => kms.sign(r)),
  onKey('Verify', (kms, r) => kms.verify(r)),
  onKey('GenerateMac', (kms, r) => kms.generateMac(r)),
  onKey('VerifyMac', (kms, r) => kms.verifyMac(r)),
  onKey('GetPublicKey', (kms, r) => kms.getPublicKey(r)),
  onKey('GetKeyPolicy', (kms, r) => kms.getKeyPolicy(r)),
  onKey('PutKeyPolicy', (kms, r) => kms.putKeyPolicy(r)),
  [
    'Decrypt',
    {
      run: (kms, r) => kms.decrypt(r as never),
      // RSA ciphertext names no key: the request's KeyId does. A symmetric blob names its own.
      checks: (r) => [{
        key: isOaep(r.encryptionAlgorithm) ? { kind: 'reference', reference: r.keyId } : { kind: 'blob', blob: r.ciphertextBlob },
        action: 'kms:Decrypt',
        context: ctx(r.encryptionContext),
        parameters: parametersOf('Decrypt', r),
      }],
    },
  ],
  [
    'ReEncrypt',
    {
      run: (kms, r) => kms.reEncrypt(r as never),
      // Both sides are symmetric keys: SYMMETRIC_DEFAULT for kms:EncryptionAlgorithm.
      checks: (r) => [
        { key: { kind: 'blob', blob: r.ciphertextBlob }, action: 'kms:ReEncryptFrom', context: ctx(r.sourceEncryptionContext), parameters: SYMMETRIC },
        { key: { kind: 'reference', reference: r.destinationKeyId }, action: 'kms:ReEncryptTo', context: ctx(r.destinationEncryptionContext), parameters: SYMMETRIC },
      ],
    },
  ],
  [
    'CreateAlias',
    { run: (kms, r) => kms.createAlias(r as never), checks: (r) => [{ key: { kind: 'reference', reference: r.targetKeyId }, action: 'kms:CreateAlias', context: undefined }] },
  ],
  [
    'UpdateAlias',
    {
      run: (kms, r) => kms.updateAlias(r as never),
      // As in AWS: permission on both the key the alias leaves and the key it moves to.
      checks: (r) => [
        { key: { kind: 'alias', aliasName: r.aliasName }, action: 'kms:UpdateAlias', context: undefined },
        { key: { kind: 'reference', reference: r.targetKeyId }, action: 'kms:UpdateAlias', context: undefined },
      ],
    },
  ],
  [
    'DeleteAlias',
    { run: (kms, r) => kms.deleteAlias(r as never), checks: (r) => [{ key: { kind: 'alias', aliasName: r.aliasName }, action: 'kms:DeleteAlias', context: undefined }] },
  ],
]);
