/** The AWS-shaped `keyMetadata` of a key (camelCase member names). */
import type { KeyRecord } from '../keystore/index.js';
import { keyArn } from './key-references.js';
import type { KmsContext } from './kms-context.js';

export interface KeyMetadata {
  keyId: string;
  arn: string;
  awsAccountId: string;
  creationDate: Date;
  enabled: boolean;
  description: string;
  keyUsage: KeyRecord['keyUsage'];
  keyState: KeyRecord['keyState'];
  deletionDate?: Date;
  pendingDeletionWindowInDays?: number;
  origin: KeyRecord['origin'];
  keyManager: 'CUSTOMER';
  keySpec: KeyRecord['keySpec'];
  /** AWS's older name for keySpec, kept for SDK parity. */
  customerMasterKeySpec: KeyRecord['keySpec'];
  encryptionAlgorithms?: string[];
  signingAlgorithms?: string[];
  /** HMAC keys: the one MAC algorithm of the key spec. */
  macAlgorithms?: string[];
  multiRegion: false;
  /** The version encrypt uses (hsmkms: CMK versions are numbered from 1). */
  currentKeyVersion: number;
  /** What holds the domain keys: a PKCS#11 token, or the embedded `soft` root, which is not an HSM. */
  rootOfTrust: 'pkcs11' | 'soft';
}

export function encryptionAlgorithms(key: Pick<KeyRecord, 'keySpec' | 'keyUsage'>): string[] | undefined {
  if (key.keyUsage !== 'ENCRYPT_DECRYPT') return undefined;
  return key.keySpec === 'SYMMETRIC_DEFAULT' ? ['SYMMETRIC_DEFAULT'] : ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
}

export function signingAlgorithms(key: Pick<KeyRecord, 'keySpec' | 'keyUsage'>): string[] | undefined {
  if (key.keyUsage !== 'SIGN_VERIFY') return undefined;
  switch (key.keySpec) {
    case 'ECC_NIST_P256':
      return ['ECDSA_SHA_256'];
    case 'ECC_NIST_P384':
      return ['ECDSA_SHA_384'];
    default:
      return [
        'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
        'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
      ];
  }
}

export function macAlgorithms(key: Pick<KeyRecord, 'keySpec' | 'keyUsage'>): string[] | undefined {
  if (key.keyUsage !== 'GENERATE_VERIFY_MAC' || !key.keySpec.startsWith('HMAC_')) return undefined;
  return [`HMAC_SHA_${key.keySpec.slice('HMAC_'.length)}`];
}

export function keyMetadata(ctx: KmsContext, key: KeyRecord): KeyMetadata {
  const metadata: KeyMetadata = {
    keyId: key.keyId,
    arn: keyArn(key.keyId, ctx.arn),
    awsAccountId: ctx.arn.account,
    creationDate: key.creationDate,
    enabled: key.keyState === 'Enabled',
    description: key.description,
    keyUsage: key.keyUsage,
    keyState: key.keyState,
    origin: key.origin,
    keyManager: 'CUSTOMER',
    keySpec: key.keySpec,
    customerMasterKeySpec: key.keySpec,
    multiRegion: false,
    currentKeyVersion: key.primaryVersion,
    rootOfTrust: ctx.root.kind,
  };
  if (key.deletionDate !== null) metadata.deletionDate = key.deletionDate;
  if (key.pendingWindowInDays !== null && key.keyState === 'PendingDeletion') {
    metadata.pendingDeletionWindowInDays = key.pendingWindowInDays;
  }
  const enc = encryptionAlgorithms(key);
  if (enc) metadata.encryptionAlgorithms = enc;
  const sig = signingAlgorithms(key);
  if (sig) metadata.signingAlgorithms = sig;
  const mac = macAlgorithms(key);
  if (mac) metadata.macAlgorithms = mac;
  return metadata;
}
