/**
 * Key rotation for symmetric keys: EnableKeyRotation, DisableKeyRotation,
 * GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations, and the due
 * rotations that maintenance performs. A rotation adds a CMK version made in
 * the root; encrypt uses the newest, decrypt the one named in the blob.
 */
import { KmsError } from '../errors.js';
import type { KeyRecord, RotationType } from '../keystore/index.js';
import { retryOnConflict } from './conflict-retry.js';
import { keyArn } from './key-references.js';
import { checkUsable, type KmsContext } from './kms-context.js';
import { updateKey } from './key-updates.js';
import { checkRequest, optionalInt, optionalString } from './request-checks.js';
import * as domainKeys from './domain-keys.js';

const DAY_MS = 86_400_000;

function requireSymmetric(key: KeyRecord): void {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('UnsupportedOperationException', 'Only symmetric encryption keys can be rotated');
  }
}

export async function enableKeyRotation(ctx: KmsContext, request: { keyId: string; rotationPeriodInDays?: number }): Promise<void> {
  const req = checkRequest('request', request);
  const period = optionalInt('rotationPeriodInDays', req.rotationPeriodInDays, 90, 2560) ?? 365;
  const key = await ctx.resolver.resolve(req.keyId);
  requireSymmetric(key);
  await updateKey(ctx, key.keyId, (current) => {
    checkUsable(current);
    return { rotationEnabled: true, rotationPeriodInDays: period, nextRotationDate: new Date(ctx.now().getTime() + period * DAY_MS) };
  });
}

export async function disableKeyRotation(ctx: KmsContext, request: { keyId: string }): Promise<void> {
  const key = await ctx.resolver.resolve(checkRequest('request', request).keyId);
  requireSymmetric(key);
  await updateKey(ctx, key.keyId, (current) => {
    checkUsable(current);
    return { rotationEnabled: false, nextRotationDate: null };
  });
}

export interface KeyRotationStatus {
  keyId: string;
  keyRotationEnabled: boolean;
  rotationPeriodInDays?: number;
  nextRotationDate?: Date;
}

export async function getKeyRotationStatus(ctx: KmsContext, request: { keyId: string }): Promise<KeyRotationStatus> {
  const found = await ctx.resolver.resolve(checkRequest('request', request).keyId);
  requireSymmetric(found);
  const key = (await ctx.store.getKey(found.keyId)) ?? found;
  return {
    keyId: keyArn(key.keyId, ctx.arn),
    keyRotationEnabled: key.rotationEnabled,
    ...(key.rotationPeriodInDays !== null && { rotationPeriodInDays: key.rotationPeriodInDays }),
    ...(key.nextRotationDate !== null && key.rotationEnabled && { nextRotationDate: key.nextRotationDate }),
  };
}

/**
 * Makes the next version's material in the root and adds it as primary if
 * `current` is still the stored row version (else ConflictException).
 */
async function addNextVersion(ctx: KmsContext, current: KeyRecord, rotationType: RotationType): Promise<KeyRecord> {
  const domainVersion = await domainKeys.domainVersionForNewMaterial(ctx);
  const material = await ctx.root.generateKey(current.keySpec, current.keyUsage, domainVersion);
  const updated = await ctx.store.addKeyVersion(current.keyId, current.rowVersion, {
    keyId: current.keyId,
    version: current.primaryVersion + 1,
    createdAt: ctx.now(),
    domainKeyVersion: domainVersion,
    wrapped: material.blob,
    publicKey: null,
    rotationType,
  });
  ctx.resolver.forgetKey(current.keyId);
  return updated;
}

/** Adds one version (material made in the root); retries on a concurrent change so every request adds exactly one. */
export async function addVersion(ctx: KmsContext, keyId: string, rotationType: RotationType): Promise<KeyRecord> {
  return retryOnConflict(async () => {
    const current = await ctx.store.getKey(keyId);
    if (current === null) throw new KmsError('NotFoundException', 'The key does not exist');
    checkUsable(current);
    requireSymmetric(current);
    return addNextVersion(ctx, current, rotationType);
  });
}

export async function rotateKeyOnDemand(ctx: KmsContext, request: { keyId: string }): Promise<{ keyId: string; keyVersion: number }> {
  const key = await ctx.resolver.resolve(checkRequest('request', request).keyId);
  requireSymmetric(key);
  const updated = await addVersion(ctx, key.keyId, 'ON_DEMAND');
  return { keyId: keyArn(updated.keyId, ctx.arn), keyVersion: updated.primaryVersion };
}

export interface KeyRotationEntry {
  keyId: string;
  keyVersion: number;
  rotationDate: Date;
  rotationType: 'AUTOMATIC' | 'ON_DEMAND';
}

export async function listKeyRotations(
  ctx: KmsContext,
  request: { keyId: string; limit?: number; marker?: string },
): Promise<{ rotations: KeyRotationEntry[]; nextMarker?: string; truncated: boolean }> {
  const req = checkRequest('request', request);
  const limit = optionalInt('limit', req.limit, 1, 1000);
  const marker = optionalString('marker', req.marker, 1024);
  const key = await ctx.resolver.resolve(req.keyId);
  requireSymmetric(key);
  const page = await ctx.store.listKeyVersions(key.keyId, { ...(limit !== undefined && { limit }), ...(marker !== undefined && { marker }) });
  const rotations: KeyRotationEntry[] = [];
  for (const v of page.versions) {
    if (v.rotationType === 'INITIAL') continue;
    rotations.push({ keyId: keyArn(key.keyId, ctx.arn), keyVersion: v.version, rotationDate: v.createdAt, rotationType: v.rotationType });
  }
  return { rotations, ...(page.nextMarker !== undefined && { nextMarker: page.nextMarker }), truncated: page.nextMarker !== undefined };
}

/**
 * Performs every rotation that is due. Crash-safe and race-safe without
 * double rotation: each step is a compare-and-set on the key's row version,
 * re-decided from a fresh read after a conflict, so concurrent maintenance
 * runs (in this process or another on the same store) add one version per
 * due date between them; a key whose newest version is already newer than
 * its due date (a crash between the two steps) only has its next date advanced.
 */
export async function performDueRotations(ctx: KmsContext): Promise<string[]> {
  const now = ctx.now().getTime();
  const rotated: string[] = [];
  let marker: string | undefined;
  do {
    const page = await ctx.store.listKeys({ limit: 1000, ...(marker !== undefined && { marker }) });
    for (const key of page.keys) {
      if (!key.rotationEnabled || key.nextRotationDate === null || key.keyState !== 'Enabled') continue;
      if (key.nextRotationDate.getTime() > now) continue;
      if (await rotateIfDue(ctx, key.keyId, now)) rotated.push(key.keyId);
    }
    marker = page.nextMarker;
  } while (marker !== undefined);
  return rotated;
}

/** One key's due rotation; true if this call added the version. */
async function rotateIfDue(ctx: KmsContext, keyId: string, now: number): Promise<boolean> {
  let added = false;
  return retryOnConflict(async () => {
    let current = await ctx.store.getKey(keyId);
    if (current === null || !current.rotationEnabled || current.nextRotationDate === null || current.keyState !== 'Enabled') return added;
    const due = current.nextRotationDate.getTime();
    if (due > now) return added; // done, by us or by a concurrent run
    const newest = await ctx.store.getKeyVersion(keyId, current.primaryVersion);
    if (newest === null || newest.createdAt.getTime() < due) {
      current = await addNextVersion(ctx, current, 'AUTOMATIC');
      added = true;
    }
    const period = (current.rotationPeriodInDays ?? 365) * DAY_MS;
    await ctx.store.updateKey(keyId, current.rowVersion, { nextRotationDate: new Date(Math.max(now, due) + period) });
    ctx.resolver.forgetKey(keyId);
    return added;
  });
}
