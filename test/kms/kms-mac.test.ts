// HMAC CMKs on both roots: key specs HMAC_224..HMAC_512 with usage
// GENERATE_VERIFY_MAC, generateMac / verifyMac (AWS KMS's shapes and codes),
// the refusals every other operation gives them, the audit trail, and MACs
// that stay the same across reopening and a domain-key rotation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kms } from '../../dist/index.js';
import { bytes, codeOf, makeHarness, removeToken, ROOTS, type Harness } from './kms-harness.js';

afterAll(() => removeToken());

const SPECS = [
  { keySpec: 'HMAC_224', macAlgorithm: 'HMAC_SHA_224', length: 28 },
  { keySpec: 'HMAC_256', macAlgorithm: 'HMAC_SHA_256', length: 32 },
  { keySpec: 'HMAC_384', macAlgorithm: 'HMAC_SHA_384', length: 48 },
  { keySpec: 'HMAC_512', macAlgorithm: 'HMAC_SHA_512', length: 64 },
] as const;

const flipped = (mac: Uint8Array, bit: number): Uint8Array => {
  const copy = Uint8Array.from(mac);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
};

describe.each(ROOTS)('HMAC keys on the %s root', (kind) => {
  let h: Harness;
  let kms: Kms;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    h = makeHarness(kind);
    ({ kms } = await h.open());
    for (const { keySpec } of SPECS) keys[keySpec] = (await kms.createKey({ keySpec, keyUsage: 'GENERATE_VERIFY_MAC' })).keyMetadata.keyId;
  }, 60_000);

  afterAll(async () => {
    await h.cleanup();
  });

  it('creates every HMAC spec with its one MAC algorithm and no other', async () => {
    for (const { keySpec, macAlgorithm } of SPECS) {
      const m = (await kms.describeKey({ keyId: keys[keySpec]! })).keyMetadata;
      expect(m).toMatchObject({ keySpec, keyUsage: 'GENERATE_VERIFY_MAC', keyState: 'Enabled', currentKeyVersion: 1 });
      expect(m.macAlgorithms).toEqual([macAlgorithm]);
      expect(m.encryptionAlgorithms).toBeUndefined();
      expect(m.signingAlgorithms).toBeUndefined();
    }
  });

  it('refuses spec and usage pairs AWS KMS refuses', async () => {
    // The default usage (ENCRYPT_DECRYPT) does not fit an HMAC spec.
    expect(await codeOf(kms.createKey({ keySpec: 'HMAC_256' }))).toBe('ValidationException');
    expect(await codeOf(kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'SIGN_VERIFY' }))).toBe('ValidationException');
    expect(await codeOf(kms.createKey({ keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'GENERATE_VERIFY_MAC' }))).toBe('ValidationException');
    expect(await codeOf(kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'GENERATE_VERIFY_MAC' }))).toBe('ValidationException');
    expect(await codeOf(kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'GENERATE_VERIFY_MAC' }))).toBe('ValidationException');
    expect(await codeOf(kms.createKey({ keySpec: 'HMAC_128' as never, keyUsage: 'GENERATE_VERIFY_MAC' }))).toBe('ValidationException');
  });

  it('makes digest-sized MACs that verify, the same for the same message, different for another message or key', async () => {
    const message = bytes('what do ya want for nothing?');
    for (const { keySpec, macAlgorithm, length } of SPECS) {
      const keyId = keys[keySpec]!;
      const made = await kms.generateMac({ keyId, message, macAlgorithm });
      expect(made).toMatchObject({ keyId: `arn:aws:kms:local:000000000000:key/${keyId}`, macAlgorithm, keyVersion: 1 });
      expect(made.mac).toBeInstanceOf(Uint8Array);
      expect(made.mac.length).toBe(length);
      const again = await kms.generateMac({ keyId, message, macAlgorithm });
      expect(Buffer.from(again.mac).equals(Buffer.from(made.mac))).toBe(true);
      const other = await kms.generateMac({ keyId, message: bytes('what do ya want for nothing!'), macAlgorithm });
      expect(Buffer.from(other.mac).equals(Buffer.from(made.mac))).toBe(false);

      const verified = await kms.verifyMac({ keyId, message, mac: made.mac, macAlgorithm });
      expect(verified).toEqual({ keyId: made.keyId, macValid: true, macAlgorithm, keyVersion: 1 });
    }
    // Another key of the same spec: another MAC.
    const twin = (await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' })).keyMetadata.keyId;
    const a = await kms.generateMac({ keyId: keys.HMAC_256!, message, macAlgorithm: 'HMAC_SHA_256' });
    const b = await kms.generateMac({ keyId: twin, message, macAlgorithm: 'HMAC_SHA_256' });
    expect(Buffer.from(a.mac).equals(Buffer.from(b.mac))).toBe(false);
    expect(await codeOf(kms.verifyMac({ keyId: twin, message, mac: a.mac, macAlgorithm: 'HMAC_SHA_256' }))).toBe('KMSInvalidMacException');
  });

  it('rejects every single-bit flip, a truncated or extended MAC and another message with KMSInvalidMacException', async () => {
    const keyId = keys.HMAC_256!;
    const message = bytes('pay 100 to alice');
    const { mac } = await kms.generateMac({ keyId, message, macAlgorithm: 'HMAC_SHA_256' });
    for (let bit = 0; bit < mac.length * 8; bit++) {
      expect(await codeOf(kms.verifyMac({ keyId, message, mac: flipped(mac, bit), macAlgorithm: 'HMAC_SHA_256' })), `bit ${bit}`).toBe('KMSInvalidMacException');
    }
    expect(await codeOf(kms.verifyMac({ keyId, message, mac: mac.subarray(0, 31), macAlgorithm: 'HMAC_SHA_256' }))).toBe('KMSInvalidMacException');
    expect(await codeOf(kms.verifyMac({ keyId, message, mac: Buffer.concat([mac, Buffer.from([0])]), macAlgorithm: 'HMAC_SHA_256' }))).toBe('KMSInvalidMacException');
    expect(await codeOf(kms.verifyMac({ keyId, message: bytes('pay 900 to alice'), mac, macAlgorithm: 'HMAC_SHA_256' }))).toBe('KMSInvalidMacException');
    // The MAC still verifies after all those failures.
    expect((await kms.verifyMac({ keyId, message, mac, macAlgorithm: 'HMAC_SHA_256' })).macValid).toBe(true);
  });

  it('takes the key by alias and by ARN', async () => {
    const keyId = keys.HMAC_384!;
    await kms.createAlias({ aliasName: 'alias/mac-key', targetKeyId: keyId });
    const message = bytes('by reference');
    const byId = await kms.generateMac({ keyId, message, macAlgorithm: 'HMAC_SHA_384' });
    const byAlias = await kms.generateMac({ keyId: 'alias/mac-key', message, macAlgorithm: 'HMAC_SHA_384' });
    const byArn = await kms.verifyMac({ keyId: byId.keyId, message, mac: byAlias.mac, macAlgorithm: 'HMAC_SHA_384' });
    expect(Buffer.from(byAlias.mac).equals(Buffer.from(byId.mac))).toBe(true);
    expect(byArn.macValid).toBe(true);
  });

  it('refuses bad requests with ValidationException and unknown keys with NotFoundException', async () => {
    const keyId = keys.HMAC_256!;
    const macAlgorithm = 'HMAC_SHA_256';
    expect(await codeOf(kms.generateMac({ keyId, message: new Uint8Array(0), macAlgorithm }))).toBe('ValidationException');
    expect(await codeOf(kms.generateMac({ keyId, message: new Uint8Array(4097), macAlgorithm }))).toBe('ValidationException');
    expect((await kms.generateMac({ keyId, message: new Uint8Array(4096), macAlgorithm })).mac.length).toBe(32);
    expect(await codeOf(kms.generateMac({ keyId, message: bytes('m') } as never))).toBe('ValidationException');
    expect(await codeOf(kms.generateMac({ keyId, message: bytes('m'), macAlgorithm: 'HMAC_MD5' as never }))).toBe('ValidationException');
    expect(await codeOf(kms.verifyMac({ keyId, message: bytes('m'), macAlgorithm } as never))).toBe('ValidationException');
    expect(await codeOf(kms.verifyMac({ keyId, message: bytes('m'), mac: new Uint8Array(0), macAlgorithm }))).toBe('ValidationException');
    expect(await codeOf(kms.generateMac({ keyId: '00000000-0000-4000-8000-000000000000', message: bytes('m'), macAlgorithm }))).toBe('NotFoundException');
    expect(await codeOf(kms.generateMac({ keyId: 'not a key', message: bytes('m'), macAlgorithm }))).toBe('ValidationException');
    await expect(kms.generateMac(null as never)).rejects.toThrow(TypeError);
  });

  it('refuses the wrong MAC algorithm, other keys for MACs and HMAC keys for everything else', async () => {
    const mac = keys.HMAC_256!;
    const message = bytes('m');
    expect(await codeOf(kms.generateMac({ keyId: mac, message, macAlgorithm: 'HMAC_SHA_512' }))).toBe('InvalidKeyUsageException');
    const { mac: good } = await kms.generateMac({ keyId: mac, message, macAlgorithm: 'HMAC_SHA_256' });
    expect(await codeOf(kms.verifyMac({ keyId: mac, message, mac: good, macAlgorithm: 'HMAC_SHA_384' }))).toBe('InvalidKeyUsageException');

    const symmetric = (await kms.createKey()).keyMetadata.keyId;
    expect(await codeOf(kms.generateMac({ keyId: symmetric, message, macAlgorithm: 'HMAC_SHA_256' }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.verifyMac({ keyId: symmetric, message, mac: good, macAlgorithm: 'HMAC_SHA_256' }))).toBe('InvalidKeyUsageException');

    expect(await codeOf(kms.encrypt({ keyId: mac, plaintext: message }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.generateDataKey({ keyId: mac }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.generateDataKeyHandle({ keyId: mac }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.encryptBatch({ keyId: mac, items: [{ plaintext: message }] }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.sign({ keyId: mac, message, signingAlgorithm: 'ECDSA_SHA_256' }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.getPublicKey({ keyId: mac }))).toBe('UnsupportedOperationException');
    expect(await codeOf(kms.enableKeyRotation({ keyId: mac }))).toBe('UnsupportedOperationException');
    expect(await codeOf(kms.rotateKeyOnDemand({ keyId: mac }))).toBe('UnsupportedOperationException');
    // An alias moves only between keys of one type and usage.
    await kms.createAlias({ aliasName: 'alias/mac-only', targetKeyId: mac });
    expect(await codeOf(kms.updateAlias({ aliasName: 'alias/mac-only', targetKeyId: symmetric }))).toBe('ValidationException');
  });

  it('follows the key state: disabled, then pending deletion', async () => {
    const keyId = (await kms.createKey({ keySpec: 'HMAC_512', keyUsage: 'GENERATE_VERIFY_MAC' })).keyMetadata.keyId;
    const message = bytes('state');
    const { mac } = await kms.generateMac({ keyId, message, macAlgorithm: 'HMAC_SHA_512' });
    await kms.disableKey({ keyId });
    expect(await codeOf(kms.generateMac({ keyId, message, macAlgorithm: 'HMAC_SHA_512' }))).toBe('DisabledException');
    expect(await codeOf(kms.verifyMac({ keyId, message, mac, macAlgorithm: 'HMAC_SHA_512' }))).toBe('DisabledException');
    await kms.enableKey({ keyId });
    expect((await kms.verifyMac({ keyId, message, mac, macAlgorithm: 'HMAC_SHA_512' })).macValid).toBe(true);
    await kms.scheduleKeyDeletion({ keyId, pendingWindowInDays: 7 });
    expect(await codeOf(kms.generateMac({ keyId, message, macAlgorithm: 'HMAC_SHA_512' }))).toBe('KMSInvalidStateException');
    await kms.cancelKeyDeletion({ keyId });
    await kms.enableKey({ keyId });
    expect((await kms.verifyMac({ keyId, message, mac, macAlgorithm: 'HMAC_SHA_512' })).macValid).toBe(true);
  });

  it('audits both operations, allowed and refused, with no message or MAC bytes', async () => {
    const own = await h.open();
    const keyId = (await own.kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' })).keyMetadata.keyId;
    const message = bytes('audited message 7f3a');
    const { mac } = await own.kms.generateMac({ keyId, message, macAlgorithm: 'HMAC_SHA_256' });
    await own.kms.verifyMac({ keyId, message, mac, macAlgorithm: 'HMAC_SHA_256' });
    await codeOf(own.kms.verifyMac({ keyId, message, mac: flipped(mac, 3), macAlgorithm: 'HMAC_SHA_256' }));
    await codeOf(own.kms.generateMac({ keyId, message, macAlgorithm: 'HMAC_SHA_384' }));
    const records = await own.kms.auditLog({ keyId });
    expect(records.map((r) => `${r.operation}:${r.outcome}:${r.errorCode ?? ''}:${r.keyVersion ?? ''}`)).toEqual([
      'CreateKey:success::1',
      'GenerateMac:success::1',
      'VerifyMac:success::1',
      'VerifyMac:failure:KMSInvalidMacException:1',
      'GenerateMac:failure:InvalidKeyUsageException:',
    ]);
    const all = JSON.stringify(records);
    expect(all).not.toContain('audited message');
    expect(all).not.toContain(Buffer.from(mac).toString('hex'));
    expect(all).not.toContain(Buffer.from(mac).toString('base64'));
  });

  it('makes the same MACs after reopening and after a domain-key rotation', async () => {
    const own = await h.open({ track: false });
    const keyId = (await own.kms.createKey({ keySpec: 'HMAC_224', keyUsage: 'GENERATE_VERIFY_MAC' })).keyMetadata.keyId;
    const message = bytes('kept');
    const { mac } = await own.kms.generateMac({ keyId, message, macAlgorithm: 'HMAC_SHA_224' });
    await own.kms.rotateDomainKey();
    await own.kms.waitForMaintenance();
    expect(Buffer.from((await own.kms.generateMac({ keyId, message, macAlgorithm: 'HMAC_SHA_224' })).mac).equals(Buffer.from(mac))).toBe(true);
    await own.kms.close();
    const reopened = await h.open({ dir: own.dir });
    expect((await reopened.kms.verifyMac({ keyId, message, mac, macAlgorithm: 'HMAC_SHA_224' })).macValid).toBe(true);
  });
});
