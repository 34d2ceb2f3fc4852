/**
 * kms.describe(): what this KMS stands on — its root of trust (and whether
 * that is an HSM), its key store and its domain keys — for operators, the
 * CLI and the demo. Carries no secret: no PIN, passphrase or key bytes.
 */
import type { KeyStore } from '../keystore/index.js';
import type { RootOptions } from './kms-options.js';
import type { KmsContext } from './kms-context.js';

/** The root of trust, as {@link KmsDescription} shows it. */
export interface RootDescription {
  kind: 'pkcs11' | 'soft';
  /** False for the embedded `soft` root: it is not an HSM. */
  isHsm: boolean;
  /** One line for people. */
  summary: string;
  /** PKCS#11: the module path and token label. */
  module?: string;
  tokenLabel?: string;
  /** soft: the directory of its root key file (or salt), and whether the key comes from a passphrase. */
  dir?: string;
  passphrase?: boolean;
}

/** The result of {@link Kms.describe}. */
export interface KmsDescription {
  rootOfTrust: RootDescription;
  /** `sqlite` with its file, `postgres` (with the URL, password masked, when one was given), or `custom` for a KeyStore the caller opened. */
  store: { kind: 'sqlite' | 'postgres' | 'custom'; location?: string };
  /** The domain key new material is wrapped under. */
  activeDomainKeyVersion: number;
  /** Every domain key, with the CMK versions wrapped under it. */
  domainKeys: { version: number; state: string; createdAt: Date; cmkVersions: number }[];
}

/** The static half, fixed at open. */
export function describeSetup(root: RootOptions, dir: string, store: string | KeyStore | { postgres: object }): Pick<KmsDescription, 'rootOfTrust' | 'store'> {
  let rootOfTrust: RootDescription;
  if ('pkcs11' in root) {
    const { module, tokenLabel } = root.pkcs11;
    rootOfTrust = { kind: 'pkcs11', isHsm: true, summary: `PKCS#11 token "${tokenLabel}" through ${module}`, module, tokenLabel };
  } else {
    const passphrase = root.soft.passphrase !== undefined;
    const where = root.soft.dir ?? dir;
    rootOfTrust = {
      kind: 'soft',
      isHsm: false,
      summary: `soft root (NOT an HSM): domain keys sealed under a ${passphrase ? 'passphrase-derived key' : 'key file'} in ${where}; for development and tests`,
      dir: where,
      passphrase,
    };
  }
  if (typeof store === 'object' && 'postgres' in store) return { rootOfTrust, store: { kind: 'postgres' } };
  if (typeof store !== 'string') return { rootOfTrust, store: { kind: 'custom' } };
  // Never show a password a connection string may carry.
  if (/^postgres(ql)?:/.test(store)) return { rootOfTrust, store: { kind: 'postgres', location: store.replace(/\/\/[^@/]*@/, '//***@') } };
  return { rootOfTrust, store: { kind: 'sqlite', location: store.replace(/^sqlite:/, '') } };
}

/** The live half: domain keys and what they hold. */
export async function describeDomainKeys(ctx: KmsContext): Promise<Pick<KmsDescription, 'activeDomainKeyVersion' | 'domainKeys'>> {
  const records = await ctx.store.listDomainKeys();
  const domainKeys = [];
  for (const record of records) {
    domainKeys.push({
      version: record.version,
      state: record.state,
      createdAt: record.createdAt,
      cmkVersions: await ctx.store.countVersionsWrappedUnder(record.version),
    });
  }
  return { activeDomainKeyVersion: ctx.activeDomainVersion, domainKeys };
}
