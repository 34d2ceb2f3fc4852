/** CreateKey, DescribeKey, ListKeys, Enable/DisableKey, Schedule/CancelKeyDeletion, and the deletion sweep. */
import { randomUUID } from 'node:crypto';
import { KmsError } from '../errors.js';
import { KEY_SPECS, KEY_USAGES, type KeyRecord, type KeySpec, type KeyUsage, type Tag } from '../keystore/index.js';
import { invalidArgType } from '../validate.js';
import { keyArn } from './key-references.js';
import { keyMetadata, type KeyMetadata } from './key-metadata.js';
import { checkTags } from './tags.js';
import { updateKey } from './key-updates.js';
import type { KmsContext } from './kms-context.js';
import { checkRequest, invalid, oneOf, optionalInt, optionalString } from './request-checks.js';
import * as domainKeys from './domain-keys.js';

const DAY_MS = 86_400_000;

export interface CreateKeyRequest {
  keySpec?: KeySpec;
  keyUsage?: KeyUsage;
  description?: string;
  tags?: Tag[];
}

function checkSpecUsage(keySpec: KeySpec, keyUsage: KeyUsage): void {
  const ok =
    keySpec === 'SYMMETRIC_DEFAULT' ? keyUsage === 'ENCRYPT_DECRYPT'
    : keySpec.startsWith('ECC_') ? keyUsage === 'SIGN_VERIFY'
    : keySpec.startsWith('HMAC_') ? keyUsage === 'GENERATE_VERIFY_MAC'
    : keyUsage !== 'GENERATE_VERIFY_MAC';
  if (!ok) throw invalid(`Key spec ${keySpec} does not support key usage ${keyUsage}`);
}

export async function createKey(ctx: KmsContext, request: CreateKeyRequest = {}): Promise<{ keyMetadata: KeyMetadata }> {
  const req = checkRequest('request', request, false);
  const keySpec = oneOf('keySpec', req.keySpec, KEY_SPECS, 'SYMMETRIC_DEFAULT');
  const keyUsage = oneOf('keyUsage', req.keyUsage, KEY_USAGES, 'ENCRYPT_DECRYPT');
  checkSpecUsage(keySpec, keyUsage);
  const description = optionalString('description', req.description, 8192) ?? '';
  const tags = checkTags(req.tags ?? []);
  const keyId = randomUUID();
  const now = ctx.now();
  const domainVersion = await domainKeys.domainVersionForNewMaterial(ctx);
  // Material is made and wrapped inside the root; only the wrapped blob comes back.
  const material = await ctx.root.generateKey(keySpec, keyUsage, domainVersion);
  const record: Omit<KeyRecord, 'rowVersion'> = {
    keyId,
    description,
    keySpec,
    keyUsage,
    keyState: 'Enabled',
    creationDate: now,
    deletionDate: null,
    pendingWindowInDays: null,
    primaryVersion: 1,
    rotationEnabled: false,
    rotationPeriodInDays: null,
    nextRotationDate: null,
    origin: 'AWS_KMS',
  };
  const created = await ctx.store.createKey(
    record,
    { keyId, version: 1, createdAt: now, domainKeyVersion: domainVersion, wrapped: material.blob, publicKey: material.publicKey, rotationType: 'INITIAL' },
    tags,
  );
  return { keyMetadata: keyMetadata(ctx, created) };
}

export async function describeKey(ctx: KmsContext, request: { keyId: string }): Promise<{ keyMetadata: KeyMetadata }> {
  const req = checkRequest('request', request);
  const key = await ctx.resolver.resolve(req.keyId);
  // Describe reads through: callers expect to see their own last change.
  const fresh = (await ctx.store.getKey(key.keyId)) ?? key;
  return { keyMetadata: keyMetadata(ctx, fresh) };
}

export interface ListKeysResponse {
  keys: { keyId: string; keyArn: string }[];
  nextMarker?: string;
  truncated: boolean;
}

export async function listKeys(ctx: KmsContext, request: { limit?: number; marker?: string } = {}): Promise<ListKeysResponse> {
  const req = checkRequest('request', request, false);
  const limit = optionalInt('limit', req.limit, 1, 1000);
  const marker = optionalString('marker', req.marker, 1024);
  const page = await ctx.store.listKeys({ ...(limit !== undefined && { limit }), ...(marker !== undefined && { marker }) });
  const response: ListKeysResponse = {
    keys: page.keys.map((k) => ({ keyId: k.keyId, keyArn: keyArn(k.keyId, ctx.arn) })),
    truncated: page.nextMarker !== undefined,
  };
  if (page.nextMarker !== undefined) response.nextMarker = page.nextMarker;
  return response;
}

function refusePendingDeletion(key: KeyRecord): void {
  if (key.keyState === 'PendingDeletion') {
    throw new KmsError('KMSInvalidStateException', `Key ${key.keyId} is pending deletion`);
  }
}

export async function enableKey(ctx: KmsContext, request: { keyId: string }): Promise<KeyRecord> {
  const key = await ctx.resolver.resolve(checkRequest('request', request).keyId);
  return updateKey(ctx, key.keyId, (current) => {
    refusePendingDeletion(current);
    return { keyState: 'Enabled' };
  });
}

export async function disableKey(ctx: KmsContext, request: { keyId: string }): Promise<KeyRecord> {
  const key = await ctx.resolver.resolve(checkRequest('request', request).keyId);
  return updateKey(ctx, key.keyId, (current) => {
    refusePendingDeletion(current);
    return { keyState: 'Disabled' };
  });
}

export interface ScheduleKeyDeletionResponse {
  keyId: string;
  deletionDate: Date;
  keyState: 'PendingDeletion';
  pendingWindowInDays: number;
}

export async function scheduleKeyDeletion(
  ctx: KmsContext,
  request: { keyId: string; pendingWindowInDays?: number },
): Promise<ScheduleKeyDeletionResponse> {
  const req = checkRequest('request', request);
  const window = optionalInt('pendingWindowInDays', req.pendingWindowInDays, 7, 30) ?? 30;
  const key = await ctx.resolver.resolve(req.keyId);
  const deletionDate = new Date(ctx.now().getTime() + window * DAY_MS);
  const updated = await updateKey(ctx, key.keyId, (current) => {
    refusePendingDeletion(current);
    return { keyState: 'PendingDeletion', deletionDate, pendingWindowInDays: window };
  });
  return { keyId: keyArn(updated.keyId, ctx.arn), deletionDate, keyState: 'PendingDeletion', pendingWindowInDays: window };
}

export async function cancelKeyDeletion(ctx: KmsContext, request: { keyId: string }): Promise<{ keyId: string }> {
  const key = await ctx.resolver.resolve(checkRequest('request', request).keyId);
  const updated = await updateKey(ctx, key.keyId, (current) => {
    if (current.keyState !== 'PendingDeletion') {
      throw new KmsError('KMSInvalidStateException', `Key ${current.keyId} is not pending deletion`);
    }
    // As in AWS KMS, a key whose deletion is cancelled comes back disabled.
    return { keyState: 'Disabled', deletionDate: null, pendingWindowInDays: null };
  });
  return { keyId: keyArn(updated.keyId, ctx.arn) };
}

/** Deletes every key whose pending window has passed; resolves to their ids. */
export async function purgeDeletedKeys(ctx: KmsContext): Promise<string[]> {
  const now = ctx.now().getTime();
  const purged: string[] = [];
  let marker: string | undefined;
  do {
    const page = await ctx.store.listKeys({ limit: 1000, ...(marker !== undefined && { marker }) });
    for (const key of page.keys) {
      if (key.keyState !== 'PendingDeletion' || key.deletionDate === null || key.deletionDate.getTime() > now) continue;
      try {
        // The row version guards against a cancellation that raced with us.
        await ctx.store.deleteKey(key.keyId, key.rowVersion);
      } catch (error) {
        if ((error as KmsError).code === 'ConflictException' || (error as KmsError).code === 'NotFoundException') continue;
        throw error;
      }
      for (let v = 1; v <= key.primaryVersion; v++) {
        void ctx.root.evictKey(key.keyId, v);
        ctx.resolver.forgetVersion(key.keyId, v);
      }
      ctx.resolver.forgetKey(key.keyId);
      purged.push(key.keyId);
    }
    marker = page.nextMarker;
  } while (marker !== undefined);
  return purged;
}

export function checkKeyIdArg(value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType('keyId', 'of type string', value);
  return value;
}
