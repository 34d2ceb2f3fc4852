/**
 * Domain keys: the layer between the root and CMK versions. Created on first
 * open (`init`), versioned, rotated by kms.rotateDomainKey(), which makes a
 * new one and re-wraps every CMK version under it in a resumable job. An old
 * domain key is retired only once nothing is wrapped under it.
 */
import { KmsError, Pkcs11Error } from '../errors.js';
import type { DomainKeyRecord } from '../keystore/index.js';
import type { KmsContext } from './kms-context.js';
import { wrappedKey } from './kms-context.js';
import { withLease, withLeaseIfFree, type HeldLease } from './leases.js';

const INIT_LEASE = 'domain-key-init';
const REWRAP_LEASE = 'domain-key-rewrap';
const REWRAP_BATCH = 100;

function referenceBytes(record: DomainKeyRecord): Uint8Array {
  if (record.provider === 'soft') {
    if (record.sealed === null) throw new KmsError('KMSInternalException', `Domain key ${record.version} has no sealed material`);
    return record.sealed;
  }
  return Buffer.from(record.reference, 'hex');
}

function newestUsable(records: DomainKeyRecord[]): number {
  return Math.max(...records.filter((r) => r.state === 'active').map((r) => r.version));
}

/** Versions whose label a broken left-behind token object holds, skipped before a creation gives up. */
const MAX_SKIPPED_VERSIONS = 3;

/**
 * Records domain key `first`, or the next version whose token object is
 * sound: a crash during another process's creation can leave a torn object
 * under the label (SoftHSM2 writes token objects in place), and adopting it
 * made every later createKey fail.
 */
async function createVersion(ctx: KmsContext, first: number): Promise<DomainKeyRecord> {
  for (let version = first; version < first + MAX_SKIPPED_VERSIONS; version++) {
    const reference = await adoptOrCreate(ctx, version);
    if (reference === null) continue;
    const soft = ctx.root.kind === 'soft';
    return ctx.store.addDomainKey({
      version,
      provider: ctx.root.kind,
      reference: soft ? `soft:${version}` : Buffer.from(reference).toString('hex'),
      sealed: soft ? reference : null,
      state: 'active',
      createdAt: ctx.now(),
    });
  }
  throw new KmsError('KeyUnavailableException', `The token holds unusable objects under domain key versions ${first} to ${first + MAX_SKIPPED_VERSIONS - 1}`);
}

/**
 * A new domain key's reference: a token object a crash left behind is
 * adopted rather than twinned, once it has wrapped a key (null when it
 * cannot: the version is skipped); otherwise a new key.
 */
async function adoptOrCreate(ctx: KmsContext, version: number): Promise<Uint8Array | null> {
  const left = await ctx.root.findDomainKey(version);
  if (left === null) return ctx.root.createDomainKey(version);
  try {
    await ctx.root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', version);
    return left;
  } catch (error) {
    if (error instanceof Pkcs11Error && error.fn === 'C_WrapKey') return null;
    throw error;
  }
}

/** Opens every domain key in the root, creating the first one on first use; sets the active version. */
export async function openDomainKeys(ctx: KmsContext): Promise<void> {
  let records = await ctx.store.listDomainKeys();
  if (records.length === 0) {
    records = await withLease(ctx.store, INIT_LEASE, async () => {
      const again = await ctx.store.listDomainKeys();
      return again.length > 0 ? again : [await createVersion(ctx, 1)];
    });
  }
  const mismatched = records.find((r) => r.provider !== ctx.root.kind);
  if (mismatched !== undefined) {
    throw new KmsError('KMSInvalidStateException', `This key store's domain keys belong to a ${mismatched.provider} root, not ${ctx.root.kind}`);
  }
  await openNew(ctx, records);
  ctx.activeDomainVersion = newestUsable(records);
}

/** The domain key versions this KMS has opened in its root. */
const opened = new WeakMap<KmsContext, Set<number>>();

function openedIn(ctx: KmsContext): Set<number> {
  let set = opened.get(ctx);
  if (set === undefined) opened.set(ctx, (set = new Set()));
  return set;
}

async function openNew(ctx: KmsContext, records: DomainKeyRecord[]): Promise<number> {
  const set = openedIn(ctx);
  let count = 0;
  for (const record of records) {
    if (set.has(record.version)) continue;
    await ctx.root.openDomainKey(record.version, referenceBytes(record));
    set.add(record.version);
    count++;
  }
  return count;
}

/**
 * Opens domain keys another KMS on the same store made since this one
 * opened (its rotateDomainKey, and the re-wrap under it); true if any.
 */
export async function refreshDomainKeys(ctx: KmsContext): Promise<boolean> {
  const records = await ctx.store.listDomainKeys();
  const count = await openNew(ctx, records);
  ctx.activeDomainVersion = Math.max(ctx.activeDomainVersion, newestUsable(records));
  return count > 0;
}

/** Makes a new domain key version; new material is wrapped under it from now on. */
export async function rotateDomainKey(ctx: KmsContext): Promise<number> {
  return withLease(ctx.store, INIT_LEASE, async () => {
    const records = await ctx.store.listDomainKeys();
    const record = await createVersion(ctx, Math.max(0, ...records.map((r) => r.version)) + 1);
    await openNew(ctx, [record]);
    ctx.activeDomainVersion = record.version;
    return record.version;
  });
}

/**
 * Re-wraps every CMK version held under an older domain key so that it is
 * held under the newest, then retires the emptied domain keys. Resumable:
 * each version is re-wrapped with a compare-and-set, so a crash loses nothing
 * and a second run continues where the first stopped. `shouldStop` lets
 * close() end it between batches. With `onlyIfFree`, it returns 0 at once
 * when another live process holds the re-wrap lease (it is doing the job).
 */
export async function rewrapToNewest(
  ctx: KmsContext,
  shouldStop: () => boolean = () => false,
  onlyIfFree = false,
): Promise<number> {
  const run = (lease: HeldLease) => rewrapUnderLease(ctx, lease, shouldStop);
  return onlyIfFree ? ((await withLeaseIfFree(ctx.store, REWRAP_LEASE, run)) ?? 0) : withLease(ctx.store, REWRAP_LEASE, run);
}

async function rewrapUnderLease(ctx: KmsContext, lease: HeldLease, shouldStop: () => boolean): Promise<number> {
  const records = await ctx.store.listDomainKeys();
  const target = newestUsable(records);
  ctx.activeDomainVersion = Math.max(ctx.activeDomainVersion, target);
  // A token cannot re-wrap (root-of-trust.ts rewrapKey): older domain keys stay to unwrap what they hold.
  if (!canRewrap(ctx)) return 0;
  let rewrapped = 0;
  for (const record of records) {
    // A retired domain key is visited too: a KMS that had not yet seen the
    // rotation may have wrapped a new key under it after it was emptied.
    if (record.version === target) continue;
    for (;;) {
      // A holder that lost its lease (a pause longer than it) stops: another process may run the job now.
      if (shouldStop() || !(await lease.stillHeld())) return rewrapped;
      const batch = await ctx.store.listVersionsWrappedUnder(record.version, REWRAP_BATCH);
      if (batch.length === 0) break;
      for (const version of batch) {
        const key = await ctx.store.getKey(version.keyId);
        if (key === null) continue;
        const moved = await ctx.root.rewrapKey(wrappedKey(key, version), target);
        await ctx.store.rewrapKeyVersion(version.keyId, version.version, record.version, target, moved.blob);
        ctx.resolver.forgetVersion(version.keyId, version.version);
        rewrapped++;
      }
    }
    if (record.state === 'active' && (await ctx.store.countVersionsWrappedUnder(record.version)) === 0) {
      await ctx.store.setDomainKeyState(record.version, 'retired');
    }
  }
  return rewrapped;
}

/**
 * Whether the root can move CMK material to another domain key. A PKCS#11
 * domain key unwraps CMKs as non-extractable (native/core/pkcs11/hsm.cc), so
 * on a token CMK versions stay under the domain key that made them and CMK
 * rotation moves keys to the newest one.
 */
function canRewrap(ctx: KmsContext): boolean {
  return ctx.root.kind !== 'pkcs11';
}

/** Whether an older domain key still holds CMK versions (a re-wrap is due or was interrupted). */
export async function rewrapPending(ctx: KmsContext): Promise<boolean> {
  if (!canRewrap(ctx)) return false;
  const records = await ctx.store.listDomainKeys();
  const target = newestUsable(records);
  for (const r of records) {
    if (r.version === target) continue;
    if (r.state === 'active' || (await ctx.store.countVersionsWrappedUnder(r.version)) > 0) return true;
  }
  return false;
}

/**
 * The domain key to wrap new material under, after a look at the store: a
 * rotation made by another KMS on the same store is followed at once (one
 * query; key creation and rotation are not the hot path).
 */
export async function domainVersionForNewMaterial(ctx: KmsContext): Promise<number> {
  await refreshDomainKeys(ctx);
  return ctx.activeDomainVersion;
}
