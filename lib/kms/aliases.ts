/** CreateAlias, UpdateAlias, DeleteAlias, ListAliases (AWS naming rules). */
import { aliasArn, checkAliasName } from './key-references.js';
import type { KmsContext } from './kms-context.js';
import { checkRequest, invalid, optionalInt, optionalString } from './request-checks.js';

export interface AliasEntry {
  aliasName: string;
  aliasArn: string;
  targetKeyId: string;
  creationDate: Date;
  lastUpdatedDate: Date;
}

export async function createAlias(ctx: KmsContext, request: { aliasName: string; targetKeyId: string }): Promise<void> {
  const req = checkRequest('request', request);
  const aliasName = checkAliasName(req.aliasName, true);
  const key = await ctx.resolver.resolve(req.targetKeyId);
  await ctx.store.createAlias(aliasName, key.keyId);
  ctx.resolver.forgetAlias(aliasName);
}

export async function updateAlias(ctx: KmsContext, request: { aliasName: string; targetKeyId: string }): Promise<void> {
  const req = checkRequest('request', request);
  const aliasName = checkAliasName(req.aliasName, true);
  const key = await ctx.resolver.resolve(req.targetKeyId);
  // AWS's rule: the new target has the current one's type (symmetric or not) and usage, so code using the alias keeps working.
  const currentId = (await ctx.store.getAlias(aliasName))?.keyId;
  const current = currentId === undefined ? null : await ctx.store.getKey(currentId);
  if (current !== null && ((current.keySpec === 'SYMMETRIC_DEFAULT') !== (key.keySpec === 'SYMMETRIC_DEFAULT') || current.keyUsage !== key.keyUsage)) {
    throw invalid(`${aliasName} points at a ${current.keySpec} ${current.keyUsage} key: it cannot move to a ${key.keySpec} ${key.keyUsage} key`);
  }
  await ctx.store.updateAlias(aliasName, key.keyId);
  ctx.resolver.forgetAlias(aliasName);
}

export async function deleteAlias(ctx: KmsContext, request: { aliasName: string }): Promise<void> {
  const aliasName = checkAliasName(checkRequest('request', request).aliasName);
  await ctx.store.deleteAlias(aliasName);
  ctx.resolver.forgetAlias(aliasName);
}

export async function listAliases(
  ctx: KmsContext,
  request: { keyId?: string; limit?: number; marker?: string } = {},
): Promise<{ aliases: AliasEntry[]; nextMarker?: string; truncated: boolean }> {
  const req = checkRequest('request', request, false);
  const limit = optionalInt('limit', req.limit, 1, 100);
  const marker = optionalString('marker', req.marker, 1024);
  const keyId = req.keyId === undefined ? undefined : (await ctx.resolver.resolve(req.keyId)).keyId;
  const page = await ctx.store.listAliases({
    ...(keyId !== undefined && { keyId }),
    ...(limit !== undefined && { limit }),
    ...(marker !== undefined && { marker }),
  });
  return {
    aliases: page.aliases.map((a) => ({
      aliasName: a.aliasName,
      aliasArn: aliasArn(a.aliasName, ctx.arn),
      targetKeyId: a.keyId,
      creationDate: a.creationDate,
      lastUpdatedDate: a.lastUpdatedDate,
    })),
    ...(page.nextMarker !== undefined && { nextMarker: page.nextMarker }),
    truncated: page.nextMarker !== undefined,
  };
}
