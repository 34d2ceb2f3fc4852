/** TagResource, UntagResource, ListResourceTags, with AWS's limits. */
import { KmsError } from '../errors.js';
import type { Tag } from '../keystore/index.js';
import type { KmsContext } from './kms-context.js';
import { checkRequest, invalid, optionalInt, optionalString } from './request-checks.js';

const MAX_TAGS = 50;

export function checkTags(value: unknown): Tag[] {
  if (!Array.isArray(value)) throw invalid('tags must be an array of { tagKey, tagValue }');
  if (value.length > MAX_TAGS) throw invalid(`A key has at most ${MAX_TAGS} tags`);
  const seen = new Set<string>();
  return value.map((tag: unknown) => {
    const t = tag as Partial<Tag> | null;
    if (t === null || typeof t !== 'object' || typeof t.tagKey !== 'string' || typeof t.tagValue !== 'string') {
      throw invalid('Each tag is { tagKey: string, tagValue: string }');
    }
    if (t.tagKey.length < 1 || t.tagKey.length > 128) throw invalid('tagKey must be 1 to 128 characters');
    if (t.tagValue.length > 256) throw invalid('tagValue must be at most 256 characters');
    if (t.tagKey.startsWith('aws:')) throw invalid('Tag keys beginning with "aws:" are reserved');
    if (seen.has(t.tagKey)) throw invalid(`Duplicate tag key ${t.tagKey}`);
    seen.add(t.tagKey);
    return { tagKey: t.tagKey, tagValue: t.tagValue };
  });
}

export async function tagResource(ctx: KmsContext, request: { keyId: string; tags: Tag[] }): Promise<string> {
  const req = checkRequest('request', request);
  const tags = checkTags(req.tags);
  const key = await ctx.resolver.resolve(req.keyId);
  const existing = await ctx.store.listResourceTags(key.keyId, { limit: 1000 });
  const names = new Set(existing.tags.map((t) => t.tagKey));
  for (const t of tags) names.add(t.tagKey);
  if (names.size > MAX_TAGS) throw new KmsError('LimitExceededException', `A key has at most ${MAX_TAGS} tags`);
  await ctx.store.tagResource(key.keyId, tags);
  return key.keyId;
}

export async function untagResource(ctx: KmsContext, request: { keyId: string; tagKeys: string[] }): Promise<string> {
  const req = checkRequest('request', request);
  if (!Array.isArray(req.tagKeys) || req.tagKeys.some((k) => typeof k !== 'string')) throw invalid('tagKeys must be an array of strings');
  const key = await ctx.resolver.resolve(req.keyId);
  await ctx.store.untagResource(key.keyId, req.tagKeys);
  return key.keyId;
}

export async function listResourceTags(
  ctx: KmsContext,
  request: { keyId: string; limit?: number; marker?: string },
): Promise<{ tags: Tag[]; nextMarker?: string; truncated: boolean }> {
  const req = checkRequest('request', request);
  const limit = optionalInt('limit', req.limit, 1, 50);
  const marker = optionalString('marker', req.marker, 1024);
  const key = await ctx.resolver.resolve(req.keyId);
  const page = await ctx.store.listResourceTags(key.keyId, { ...(limit !== undefined && { limit }), ...(marker !== undefined && { marker }) });
  return { tags: page.tags, ...(page.nextMarker !== undefined && { nextMarker: page.nextMarker }), truncated: page.nextMarker !== undefined };
}
