/**
 * Read-modify-write of a key with optimistic concurrency: read the stored
 * record (never the cache), decide the change, write it if nobody changed the
 * key meanwhile, and try again on ConflictException.
 */
import { KmsError } from '../errors.js';
import type { KeyPatch, KeyRecord } from '../keystore/index.js';
import type { KmsContext } from './kms-context.js';

const MAX_ATTEMPTS = 8;

export async function updateKey(
  ctx: KmsContext,
  keyId: string,
  decide: (current: KeyRecord) => KeyPatch,
): Promise<KeyRecord> {
  for (let attempt = 1; ; attempt++) {
    const current = await ctx.store.getKey(keyId);
    if (current === null) throw new KmsError('NotFoundException', 'The key does not exist');
    const patch = decide(current);
    try {
      const updated = await ctx.store.updateKey(keyId, current.rowVersion, patch);
      ctx.resolver.forgetKey(keyId);
      return updated;
    } catch (error) {
      if ((error as KmsError).code !== 'ConflictException' || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}
