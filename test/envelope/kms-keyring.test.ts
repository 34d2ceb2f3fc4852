// The hsmkms keyring on a Kms over the soft root: the data key comes from
// generateDataKeyHandle (native only), extra CMKs wrap copies, decrypt picks
// this keyring's EDKs, and the KMS binds the message's context.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { envelope, KmsKeyring, MultiKeyring, RawAesKeyring, type Kms } from '../../dist/index.js';
import { makeHarness } from '../kms/kms-harness.js';

const harness = makeHarness('soft');
let kms: Kms;
let keyA: string;
let keyB: string;

beforeAll(async () => {
  ({ kms } = await harness.open());
  keyA = (await kms.createKey()).keyMetadata.arn;
  keyB = (await kms.createKey()).keyMetadata.keyId;
});
afterAll(() => harness.cleanup());

describe('KmsKeyring (soft root)', () => {
  it('round-trips with the generator only, EDK provider "hsmkms" naming the CMK', async () => {
    const keyring = new KmsKeyring({ kms, keyId: keyA });
    const plaintext = crypto.randomBytes(70_000);
    const { result, header } = await envelope.encrypt(plaintext, { keyring, encryptionContext: { tenant: 't1' } });
    expect(header.encryptedDataKeys).toHaveLength(1);
    expect(header.encryptedDataKeys[0]).toMatchObject({ providerId: 'hsmkms', providerInfo: keyA });
    const opened = await envelope.decrypt(result, { keyring, encryptionContext: { tenant: 't1' } });
    expect(opened.plaintext.equals(plaintext)).toBe(true);
  });

  it('wraps the same data key under additional CMKs; each one alone decrypts', async () => {
    const keyring = new KmsKeyring({ kms, keyId: keyA, additionalKeyIds: [keyB] });
    const { result, header } = await envelope.encrypt(Buffer.from('shared'), { keyring, algorithmSuite: 0x0578 });
    expect(header.encryptedDataKeys.map((e) => e.providerInfo)).toEqual([keyA, expect.stringContaining(keyB)]);
    for (const keyId of [keyA, keyB]) {
      const { plaintext } = await envelope.decrypt(result, { keyring: new KmsKeyring({ kms, keyId }) });
      expect(plaintext.toString()).toBe('shared');
    }
    // The copy under keyB was made from the handle: no KMS call that returns or takes plaintext bytes.
    const operations = (await kms.auditLog({ since: new Date(Date.now() - 60_000) })).map((r) => r.operation);
    expect(operations).toContain('EncryptDataKey');
    expect(operations).not.toContain('GenerateDataKey');
    expect(operations).not.toContain('Encrypt');
  });

  it('skips EDKs of CMKs it does not hold, and fails when none is its own', async () => {
    const { result } = await envelope.encrypt(Buffer.from('x'), { keyring: new KmsKeyring({ kms, keyId: keyA }) });
    await expect(envelope.decrypt(result, { keyring: new KmsKeyring({ kms, keyId: keyB }) })).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
  });

  it('works as a child of a multi-keyring with a raw AES generator', async () => {
    const aes = new RawAesKeyring({ keyName: 'k', keyNamespace: 'hsmkms-test', unencryptedMasterKey: crypto.randomBytes(32), utf8Sorting: true });
    const { result } = await envelope.encrypt(Buffer.from('multi'), { keyring: new MultiKeyring({ generator: aes, children: [new KmsKeyring({ kms, keyId: keyA })] }) });
    expect((await envelope.decrypt(result, { keyring: new KmsKeyring({ kms, keyId: keyA }) })).plaintext.toString()).toBe('multi');
    expect((await envelope.decrypt(result, { keyring: aes })).plaintext.toString()).toBe('multi');
  });
});
