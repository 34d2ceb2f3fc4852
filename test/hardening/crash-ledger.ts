// What the crash children claimed (their acknowledged facts) and the checks
// that every claim holds on a store reopened after a SIGKILL. An operation
// the child announced but did not acknowledge may or may not have landed;
// for aliases both outcomes are accepted and the one found becomes the truth.
import { expect } from 'vitest';
import type { Kms } from '../../dist/index.js';
import type { Fact } from './kill-child.js';
import type { SeededRandom } from './seeded-random.js';

interface BlobClaim {
  key: string;
  blob: string;
  plaintext: string;
  context: Record<string, string>;
}

/** Checks made by one verification. */
export interface Verified {
  blobs: number;
  keys: number;
  rotations: number;
  domainKeys: number;
  aliases: number;
}

/** Old claims re-checked on every verification (all of them at the end). */
const OLD_SAMPLE = 12;

/** What the next child checks on the store as the last kill left it (test/fixtures/crash-consistency-child.cjs). */
export interface ClaimsToCheck {
  blobs: BlobClaim[];
  keys: string[];
  rotations: [string, number][];
  domainVersions: number[];
  aliasNames: string[];
}

export class CrashLedger {
  readonly blobs: BlobClaim[] = [];
  readonly keys: string[] = [];
  readonly rotations = new Map<string, number>();
  readonly domainVersions = new Set<number>();
  /** Alias name → target key (null: no such alias), as last acknowledged or found. */
  readonly aliases = new Map<string, string | null>();
  #pendingAlias: { name: string; target: string | null } | null = null;
  #newBlobsFrom = 0;
  #newKeysFrom = 0;

  /** Takes in a run's facts, in the order the child printed them. */
  record(facts: Fact[]): void {
    for (const fact of facts) {
      switch (fact.t) {
        case 'intent':
          if (fact.op === 'alias') this.#pendingAlias = { name: fact.name!, target: fact.target ?? null };
          break;
        case 'alias':
          this.aliases.set(fact.name, fact.target);
          this.#pendingAlias = null;
          break;
        case 'blob':
          this.blobs.push({ key: fact.key, blob: fact.blob, plaintext: fact.plaintext, context: fact.context });
          break;
        case 'key':
          this.keys.push(fact.key);
          break;
        case 'rotated':
          this.rotations.set(fact.key, Math.max(fact.version, this.rotations.get(fact.key) ?? 0));
          break;
        case 'domain':
          this.domainVersions.add(fact.version);
          break;
        default:
          break;
      }
    }
  }

  /** The claims for the next child to check: every new one and a sample of the old. */
  toCheck(random: SeededRandom): ClaimsToCheck {
    const claims = {
      blobs: this.#choose(this.blobs, this.#newBlobsFrom, random, false),
      keys: this.#choose(this.keys, this.#newKeysFrom, random, false),
      rotations: [...this.rotations],
      domainVersions: [...this.domainVersions],
      aliasNames: [...this.aliases.keys()],
    };
    this.#newBlobsFrom = this.blobs.length;
    this.#newKeysFrom = this.keys.length;
    return claims;
  }

  /** Judges a child's check: nothing failed, and each alias is where an acknowledged (or the one pending) change put it. */
  judge(report: Extract<Fact, { t: 'checked' }>, where: string): number {
    expect(report.failures, where).toEqual([]);
    const pending = this.#pendingAlias;
    for (const [name, acknowledged] of this.aliases) {
      const actual = report.aliases[name] ?? null;
      const allowed = pending?.name === name ? [acknowledged, pending.target] : [acknowledged];
      expect(allowed, `${where}: alias ${name}`).toContain(actual);
      this.aliases.set(name, actual);
    }
    this.#pendingAlias = null;
    return Object.values(report.counts).reduce((a, b) => a + b, 0);
  }

  /** Every new claim, a sample of the old ones (or all with `everything`), on a freshly opened Kms. */
  async verify(kms: Kms, random: SeededRandom, everything = false): Promise<Verified> {
    const blobs = this.#choose(this.blobs, this.#newBlobsFrom, random, everything);
    for (const claim of blobs) {
      const out = await kms.decrypt({ ciphertextBlob: Buffer.from(claim.blob, 'base64'), encryptionContext: claim.context });
      expect(out.keyId).toContain(claim.key);
      expect(Buffer.from(out.plaintext).toString('base64')).toBe(claim.plaintext);
    }
    this.#newBlobsFrom = this.blobs.length;

    const keys = this.#choose(this.keys, this.#newKeysFrom, random, everything);
    for (const keyId of keys) expect((await kms.describeKey({ keyId })).keyMetadata.keyState).toBe('Enabled');
    this.#newKeysFrom = this.keys.length;

    for (const [keyId, version] of this.rotations) {
      expect((await kms.describeKey({ keyId })).keyMetadata.currentKeyVersion).toBeGreaterThanOrEqual(version);
    }

    if (this.domainVersions.size > 0) {
      const present = new Set((await kms.describe()).domainKeys.map((d) => d.version));
      for (const version of this.domainVersions) expect(present.has(version)).toBe(true);
    }

    await this.#verifyAliases(kms);
    return { blobs: blobs.length, keys: keys.length, rotations: this.rotations.size, domainKeys: this.domainVersions.size, aliases: this.aliases.size };
  }

  /** Each alias is where the last acknowledged change put it (or where the one unacknowledged change would), and points at a usable key. */
  async #verifyAliases(kms: Kms): Promise<void> {
    if (this.aliases.size === 0) return;
    const { aliases: listed } = await kms.listAliases({ limit: 100 });
    const found = new Map(listed.map((a) => [a.aliasName, a.targetKeyId]));
    const pending = this.#pendingAlias;
    for (const [name, acknowledged] of this.aliases) {
      const actual = found.get(name) ?? null;
      const allowed = pending?.name === name ? [acknowledged, pending.target] : [acknowledged];
      expect(allowed, `alias ${name}`).toContain(actual);
      this.aliases.set(name, actual);
      if (actual !== null) {
        const { keyId } = await kms.encrypt({ keyId: name, plaintext: new Uint8Array([1]) });
        expect(keyId).toContain(actual);
      }
    }
    this.#pendingAlias = null;
  }

  #choose<T>(list: T[], newFrom: number, random: SeededRandom, everything: boolean): T[] {
    if (everything) return list;
    const old = Array.from({ length: Math.min(OLD_SAMPLE, newFrom) }, () => list[random.int(0, newFrom - 1)]!);
    return [...old, ...list.slice(newFrom)];
  }
}
