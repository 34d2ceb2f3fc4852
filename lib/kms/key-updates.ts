/**
 * Read-modify-write of a key with optimistic concurrency: read the stored
 * record (never the cache), decide the change, write it if nobody changed the
 * key meanwhile, and try again on ConflictException.
 */
import { KmsError } from '../errors.js';
import type { KeyPatch, KeyRecord } from '../keystore/index.js';
import { retryOnConflict } from './conflict-retry.js';
import type { KmsContext } from './kms-context.js';

export async function updateKey(
  ctx: KmsContext,
  keyId: string,
  decide: (current: KeyRecord) => KeyPatch,
): Promise<KeyRecord> {
  return retryOnConflict(async () => {
    const current = await ctx.store.getKey(keyId);
    if (current === null) throw new KmsError('NotFoundException', 'The key does not exist');
    const updated = await ctx.store.updateKey(keyId, current.rowVersion, decide(current));
    ctx.resolver.forgetKey(keyId);
    return updated;
  });
}
