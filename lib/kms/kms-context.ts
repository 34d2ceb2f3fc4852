/** What every KMS operation works with. */
import type { KeyRecord, KeyStore, KeyVersionRecord } from '../keystore/index.js';
import { KmsError } from '../errors.js';
import type { AuditWriter } from './audit-writer.js';
import type { ArnSettings } from './key-references.js';
import type { KeyResolver } from './key-resolver.js';
import type { RootOfTrust, WrappedKey } from '../root/root-of-trust.js';

export interface KmsContext {
  readonly store: KeyStore;
  readonly root: RootOfTrust;
  readonly resolver: KeyResolver;
  readonly audit: AuditWriter;
  readonly arn: ArnSettings;
  /** The domain key new material is wrapped under. */
  activeDomainVersion: number;
  now(): Date;
}

/** How every root wraps CMK material (RFC 5649); kept per blob so other schemes can come. */
export const WRAP_ALGORITHM = 'AES_KWP_RFC5649';

// One WrappedKey object per version record (the resolver keeps those for an
// hour): the root parses a wrapped key once per object (a WeakMap of native
// references), so a fresh object per operation cost a parse and a native
// reference on every call.
const wrappedKeys = new WeakMap<KeyVersionRecord, WrappedKey>();

export function wrappedKey(key: KeyRecord, version: KeyVersionRecord): WrappedKey {
  const cached = wrappedKeys.get(version);
  if (
    cached !== undefined && cached.id === key.keyId && cached.keySpec === key.keySpec && cached.keyUsage === key.keyUsage &&
    cached.version === version.version && cached.domainVersion === version.domainKeyVersion && cached.blob === version.wrapped
  ) {
    return cached;
  }
  const made: WrappedKey = {
    id: key.keyId,
    version: version.version,
    domainVersion: version.domainKeyVersion,
    keySpec: key.keySpec,
    keyUsage: key.keyUsage,
    algorithm: WRAP_ALGORITHM,
    blob: version.wrapped,
  };
  wrappedKeys.set(version, made);
  return made;
}

/** Refuses a key that cannot be used for cryptographic operations now. */
export function checkUsable(key: KeyRecord): void {
  if (key.keyState === 'Disabled') throw new KmsError('DisabledException', `Key ${key.keyId} is disabled`);
  if (key.keyState !== 'Enabled') {
    throw new KmsError('KMSInvalidStateException', `Key ${key.keyId} is ${key.keyState}`);
  }
}

/** The version record of a key, or KMSInternalException if the store lost it. */
export function keyVersion(ctx: KmsContext, key: KeyRecord, version: number): KeyVersionRecord | Promise<KeyVersionRecord> {
  // Cached (the usual case): no promise at all.
  return ctx.resolver.peekVersion(key.keyId, version) ?? loadKeyVersion(ctx, key, version);
}

async function loadKeyVersion(ctx: KmsContext, key: KeyRecord, version: number): Promise<KeyVersionRecord> {
  const record = await ctx.resolver.version(key.keyId, version);
  if (record === null) throw new KmsError('KMSInternalException', `Version ${version} of key ${key.keyId} is missing`);
  return record;
}
