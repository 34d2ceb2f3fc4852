// The published AWS Encryption SDK vectors under ../shared/vectors/esdk:
// every raw-key message decrypts to its plaintext (those needing AWS KMS, an
// ECDH keyring or PKCS#1 v1.5 decryption are counted as out of scope), and
// every message of invalid-Net-4.0.0.zip (written by ESDK-.NET 4.0.0 with its
// header-AAD and v1-KDF bugs) is rejected.
import { describe, expect, it } from 'vitest';
import { envelope } from '../../dist/index.js';
import { fromDafnyCases, netZipCases, type VectorCase } from './helpers/vectors.js';

function outOfScopeCounts(cases: VectorCase[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of cases) if (c.outOfScope) counts[c.outOfScope] = (counts[c.outOfScope] ?? 0) + 1;
  return counts;
}

async function decryptAll(cases: VectorCase[]): Promise<string[]> {
  const failures: string[] = [];
  for (const c of cases.filter((v) => v.keyring !== undefined)) {
    try {
      const { plaintext } = await envelope.decrypt(c.message, { keyring: c.keyring!, encryptionContext: c.encryptionContext, allowV1: true });
      if (!plaintext.equals(c.plaintext!)) failures.push(`${c.name}: wrong plaintext`);
    } catch (error) {
      failures.push(`${c.name}: ${(error as Error).message}`);
    }
  }
  return failures;
}

describe('ESDK decrypt vectors', () => {
  it('from-dafny: every raw-key message decrypts (187 raw, 11 of them PKCS#1 v1.5)', async () => {
    const cases = fromDafnyCases();
    const inScope = cases.filter((c) => c.keyring !== undefined);
    expect(await decryptAll(cases)).toEqual([]);
    console.log(`from-dafny: ${inScope.length} decrypted, out of scope:`, outOfScopeCounts(cases));
    expect(cases.length).toBe(487);
    expect(inScope).toHaveLength(176);
  });

  it('valid-Net-4.0.0.zip: every message decrypts', async () => {
    const cases = netZipCases('valid-Net-4.0.0.zip');
    expect(await decryptAll(cases)).toEqual([]);
    expect(cases.filter((c) => c.keyring !== undefined)).toHaveLength(5);
  });

  it('v4-Net-4.0.1.zip: every raw-key message decrypts', async () => {
    const cases = netZipCases('v4-Net-4.0.1.zip');
    const inScope = cases.filter((c) => c.keyring !== undefined);
    expect(await decryptAll(cases)).toEqual([]);
    console.log(`v4-Net-4.0.1: ${inScope.length} decrypted, out of scope:`, outOfScopeCounts(cases));
    expect(inScope).toHaveLength(99);
  });

  it('invalid-Net-4.0.0.zip: every message is rejected', async () => {
    const cases = netZipCases('invalid-Net-4.0.0.zip');
    expect(cases).toHaveLength(28);
    for (const c of cases) {
      await expect(
        envelope.decrypt(c.message, { keyring: c.keyring!, encryptionContext: c.encryptionContext, allowV1: true }),
        c.name,
      ).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
    }
  });
});
