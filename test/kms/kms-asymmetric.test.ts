// Asymmetric CMKs on both roots: every allowed key spec / usage pair, RSA
// OAEP encryption, sign/verify with every algorithm a spec allows (checked
// against node:crypto with the key from getPublicKey), and the refusals.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kms } from '../../dist/index.js';
import { bytes, codeOf, makeHarness, removeToken, ROOTS, text, type Harness } from './kms-harness.js';

afterAll(() => removeToken());

const RSA_SIGNING = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
] as const;
type Alg = (typeof RSA_SIGNING)[number] | 'ECDSA_SHA_256' | 'ECDSA_SHA_384';

const hashOf = (alg: Alg): string => `sha${alg.slice(-3)}`;

/** Verifies a KMS signature with node:crypto and the SPKI DER from getPublicKey. */
function nodeVerify(spki: Uint8Array, alg: Alg, message: Uint8Array, signature: Uint8Array): boolean {
  const key = crypto.createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  const hash = hashOf(alg);
  if (alg.startsWith('RSASSA_PSS')) {
    return crypto.verify(hash, message, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(-3)) / 8 }, signature);
  }
  if (alg.startsWith('RSASSA_PKCS1')) return crypto.verify(hash, message, { key, padding: crypto.constants.RSA_PKCS1_PADDING }, signature);
  return crypto.verify(hash, message, { key, dsaEncoding: 'der' }, signature);
}

describe.each(ROOTS)('asymmetric KMS keys on the %s root', (kind) => {
  let h: Harness;
  let kms: Kms;
  let rsaEnc: string;
  let rsaSign: string;
  let p256: string;
  let p384: string;
  let sym: string;

  beforeAll(async () => {
    h = makeHarness(kind);
    ({ kms } = await h.open());
    const make = async (keySpec: string, keyUsage: string) => (await kms.createKey({ keySpec, keyUsage } as never)).keyMetadata.keyId;
    rsaEnc = await make('RSA_2048', 'ENCRYPT_DECRYPT');
    rsaSign = await make('RSA_2048', 'SIGN_VERIFY');
    p256 = await make('ECC_NIST_P256', 'SIGN_VERIFY');
    p384 = await make('ECC_NIST_P384', 'SIGN_VERIFY');
    sym = await make('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
  }, 120_000);

  afterAll(async () => {
    await h.cleanup();
  });

  it('creates every allowed spec/usage pair with the right metadata (RSA 3072/4096 once each)', async () => {
    const pairs: [string, string, string[] | undefined, string[] | undefined][] = [
      ['RSA_3072', 'ENCRYPT_DECRYPT', ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'], undefined],
      ['RSA_4096', 'SIGN_VERIFY', undefined, [...RSA_SIGNING]],
    ];
    // The other two large-RSA pairs on the soft root only (RSA keygen on SoftHSM is slow).
    if (kind === 'soft') pairs.push(['RSA_3072', 'SIGN_VERIFY', undefined, [...RSA_SIGNING]], ['RSA_4096', 'ENCRYPT_DECRYPT', ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'], undefined]);
    for (const [keySpec, keyUsage, enc, sig] of pairs) {
      const m = (await kms.createKey({ keySpec, keyUsage } as never)).keyMetadata;
      expect(m).toMatchObject({ keySpec, keyUsage, customerMasterKeySpec: keySpec, keyState: 'Enabled' });
      expect(m.encryptionAlgorithms).toEqual(enc);
      expect(m.signingAlgorithms).toEqual(sig);
      const pub = await kms.getPublicKey({ keyId: m.keyId });
      const key = crypto.createPublicKey({ key: Buffer.from(pub.publicKey), format: 'der', type: 'spki' });
      expect(key.asymmetricKeyType).toBe('rsa');
      expect(key.asymmetricKeyDetails?.modulusLength).toBe(Number(keySpec.slice(4)));
      if (keyUsage === 'SIGN_VERIFY') {
        const message = bytes('big key');
        const s = await kms.sign({ keyId: m.keyId, message, signingAlgorithm: 'RSASSA_PSS_SHA_512' });
        expect(nodeVerify(pub.publicKey, 'RSASSA_PSS_SHA_512', message, s.signature)).toBe(true);
      } else {
        const c = await kms.encrypt({ keyId: m.keyId, plaintext: bytes('mid key'), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
        expect(c.ciphertextBlob.length).toBe(Number(keySpec.slice(4)) / 8);
        expect(text((await kms.decrypt({ keyId: m.keyId, ciphertextBlob: c.ciphertextBlob, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' })).plaintext)).toBe('mid key');
      }
    }
    const md = async (id: string) => (await kms.describeKey({ keyId: id })).keyMetadata;
    expect((await md(rsaEnc)).encryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    expect((await md(rsaSign)).signingAlgorithms).toEqual([...RSA_SIGNING]);
    expect((await md(p256)).signingAlgorithms).toEqual(['ECDSA_SHA_256']);
    expect((await md(p384)).signingAlgorithms).toEqual(['ECDSA_SHA_384']);
    expect((await md(p256)).encryptionAlgorithms).toBeUndefined();
  }, 120_000);

  it('RSA OAEP SHA-1 and SHA-256: KMS and node:crypto encrypt, KMS decrypts', async () => {
    const pub = await kms.getPublicKey({ keyId: rsaEnc });
    expect(pub.encryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    const nodeKey = crypto.createPublicKey({ key: Buffer.from(pub.publicKey), format: 'der', type: 'spki' });
    for (const [alg, hash] of [['RSAES_OAEP_SHA_1', 'sha1'], ['RSAES_OAEP_SHA_256', 'sha256']] as const) {
      const e = await kms.encrypt({ keyId: rsaEnc, plaintext: bytes(`oaep ${alg}`), encryptionAlgorithm: alg });
      expect(e.encryptionAlgorithm).toBe(alg);
      expect(e.ciphertextBlob.length).toBe(256);
      const d = await kms.decrypt({ keyId: rsaEnc, ciphertextBlob: e.ciphertextBlob, encryptionAlgorithm: alg });
      expect(text(d.plaintext)).toBe(`oaep ${alg}`);
      expect(d.encryptionAlgorithm).toBe(alg);
      const local = crypto.publicEncrypt({ key: nodeKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, Buffer.from('from node'));
      expect(text((await kms.decrypt({ keyId: rsaEnc, ciphertextBlob: local, encryptionAlgorithm: alg })).plaintext)).toBe('from node');
      // Largest plaintext OAEP allows, and one byte more.
      const max = 256 - 2 * (alg === 'RSAES_OAEP_SHA_1' ? 20 : 32) - 2;
      const big = await kms.encrypt({ keyId: rsaEnc, plaintext: new Uint8Array(max).fill(7), encryptionAlgorithm: alg });
      expect((await kms.decrypt({ keyId: rsaEnc, ciphertextBlob: big.ciphertextBlob, encryptionAlgorithm: alg })).plaintext.length).toBe(max);
      expect(await codeOf(kms.encrypt({ keyId: rsaEnc, plaintext: new Uint8Array(max + 1), encryptionAlgorithm: alg }))).toBe('ValidationException');
      // Tampered ciphertext, and the other hash.
      const bad = Uint8Array.from(e.ciphertextBlob);
      bad[100]! ^= 1;
      expect(await codeOf(kms.decrypt({ keyId: rsaEnc, ciphertextBlob: bad, encryptionAlgorithm: alg }))).toBe('InvalidCiphertextException');
      const other = alg === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
      expect(await codeOf(kms.decrypt({ keyId: rsaEnc, ciphertextBlob: e.ciphertextBlob, encryptionAlgorithm: other }))).toBe('InvalidCiphertextException');
    }
    expect(await codeOf(kms.decrypt({ keyId: rsaEnc, ciphertextBlob: new Uint8Array(255), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).toBe('InvalidCiphertextException');
    expect(await codeOf(kms.decrypt({ ciphertextBlob: new Uint8Array(256), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).toBe('ValidationException');
    expect(await codeOf(kms.encrypt({ keyId: rsaEnc, plaintext: bytes('x'), encryptionAlgorithm: 'RSAES_OAEP_SHA_256', encryptionContext: { a: 'b' } }))).toBe('ValidationException');
  });

  it('refuses the wrong usage with InvalidKeyUsageException', async () => {
    expect(await codeOf(kms.encrypt({ keyId: rsaEnc, plaintext: bytes('x') }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.encrypt({ keyId: rsaSign, plaintext: bytes('x'), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.encrypt({ keyId: sym, plaintext: bytes('x'), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.encrypt({ keyId: p256, plaintext: bytes('x') }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.generateDataKey({ keyId: rsaEnc }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.sign({ keyId: rsaEnc, message: bytes('m'), signingAlgorithm: 'RSASSA_PSS_SHA_256' }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.sign({ keyId: sym, message: bytes('m'), signingAlgorithm: 'RSASSA_PSS_SHA_256' }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.sign({ keyId: rsaSign, message: bytes('m'), signingAlgorithm: 'ECDSA_SHA_256' }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.sign({ keyId: p256, message: bytes('m'), signingAlgorithm: 'ECDSA_SHA_384' }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.sign({ keyId: p384, message: bytes('m'), signingAlgorithm: 'RSASSA_PSS_SHA_256' }))).toBe('InvalidKeyUsageException');
    expect(await codeOf(kms.sign({ keyId: p256, message: bytes('m'), signingAlgorithm: 'NOPE' as never }))).toBe('ValidationException');
    expect(await codeOf(kms.getPublicKey({ keyId: sym }))).toBe('UnsupportedOperationException');
    expect(await codeOf(kms.rotateKeyOnDemand({ keyId: rsaSign }))).toBe('UnsupportedOperationException');
    expect(await codeOf(kms.enableKeyRotation({ keyId: p256 }))).toBe('UnsupportedOperationException');
    expect(await codeOf(kms.getKeyRotationStatus({ keyId: p256 }))).toBe('UnsupportedOperationException');
  });

  const cases: [string, () => string, Alg[]][] = [
    ['RSA_2048', () => rsaSign, [...RSA_SIGNING]],
    ['ECC_NIST_P256', () => p256, ['ECDSA_SHA_256']],
    ['ECC_NIST_P384', () => p384, ['ECDSA_SHA_384']],
  ];

  it.each(cases)('%s signs and verifies with every algorithm it allows, RAW and DIGEST, checked by node:crypto', async (_spec, id, algs) => {
    const keyId = id();
    const pub = await kms.getPublicKey({ keyId });
    expect(pub.signingAlgorithms).toEqual(algs);
    const message = bytes(`a message for ${keyId}`);
    for (const alg of algs) {
      const s = await kms.sign({ keyId, message, signingAlgorithm: alg });
      expect(s).toMatchObject({ signingAlgorithm: alg, keyVersion: 1 });
      expect(s.keyId).toContain(keyId);
      expect(nodeVerify(pub.publicKey, alg, message, s.signature), `${alg} by node`).toBe(true);
      expect(await kms.verify({ keyId, message, signature: s.signature, signingAlgorithm: alg })).toMatchObject({ signatureValid: true, signingAlgorithm: alg });
      // A signature over the digest is a signature over the message.
      const digest = crypto.createHash(hashOf(alg)).update(message).digest();
      const sd = await kms.sign({ keyId, message: digest, messageType: 'DIGEST', signingAlgorithm: alg });
      expect(nodeVerify(pub.publicKey, alg, message, sd.signature), `${alg} DIGEST by node`).toBe(true);
      expect((await kms.verify({ keyId, message, signature: sd.signature, signingAlgorithm: alg })).signatureValid).toBe(true);
      expect((await kms.verify({ keyId, message: digest, messageType: 'DIGEST', signature: s.signature, signingAlgorithm: alg })).signatureValid).toBe(true);
      // Invalid signatures: flipped bit, other message, wrong digest length.
      const bad = Uint8Array.from(s.signature);
      bad[bad.length >> 1]! ^= 0x10;
      expect(await codeOf(kms.verify({ keyId, message, signature: bad, signingAlgorithm: alg })), alg).toBe('KMSInvalidSignatureException');
      expect(await codeOf(kms.verify({ keyId, message: bytes('another'), signature: s.signature, signingAlgorithm: alg }))).toBe('KMSInvalidSignatureException');
      expect(await codeOf(kms.sign({ keyId, message: digest.subarray(1), messageType: 'DIGEST', signingAlgorithm: alg }))).toBe('ValidationException');
    }
    expect(await codeOf(kms.sign({ keyId, message: new Uint8Array(0), signingAlgorithm: algs[0]! }))).toBe('ValidationException');
    expect(await codeOf(kms.sign({ keyId, message: new Uint8Array(4097), signingAlgorithm: algs[0]! }))).toBe('ValidationException');
    expect((await kms.sign({ keyId, message: new Uint8Array(4096), signingAlgorithm: algs[0]! })).signature.length).toBeGreaterThan(0);
  });

  it('updateAlias keeps an alias on keys of the same type and usage (AWS rule)', async () => {
    await kms.createAlias({ aliasName: 'alias/signer', targetKeyId: p256 });
    await kms.updateAlias({ aliasName: 'alias/signer', targetKeyId: rsaSign });
    expect((await kms.describeKey({ keyId: 'alias/signer' })).keyMetadata.keyId).toBe(rsaSign);
    for (const target of [sym, rsaEnc]) {
      expect(await codeOf(kms.updateAlias({ aliasName: 'alias/signer', targetKeyId: target }))).toBe('ValidationException');
    }
    await kms.createAlias({ aliasName: 'alias/sym', targetKeyId: sym });
    for (const target of [rsaEnc, p384]) {
      expect(await codeOf(kms.updateAlias({ aliasName: 'alias/sym', targetKeyId: target }))).toBe('ValidationException');
    }
    expect((await kms.describeKey({ keyId: 'alias/sym' })).keyMetadata.keyId).toBe(sym);
  });

  it('getPublicKey returns SPKI DER for EC keys that node:crypto accepts', async () => {
    for (const [id, curve] of [[p256, 'prime256v1'], [p384, 'secp384r1']] as const) {
      const pub = await kms.getPublicKey({ keyId: id });
      expect(pub).toMatchObject({ keyUsage: 'SIGN_VERIFY' });
      const key = crypto.createPublicKey({ key: Buffer.from(pub.publicKey), format: 'der', type: 'spki' });
      expect(key.asymmetricKeyType).toBe('ec');
      expect(key.asymmetricKeyDetails?.namedCurve).toBe(curve);
      expect(Buffer.from(key.export({ format: 'der', type: 'spki' })).equals(Buffer.from(pub.publicKey))).toBe(true);
    }
  });

  it('disabled and pending-deletion asymmetric keys refuse sign, verify and getPublicKey', async () => {
    const id = (await kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' })).keyMetadata.keyId;
    const s = await kms.sign({ keyId: id, message: bytes('m'), signingAlgorithm: 'ECDSA_SHA_256' });
    await kms.disableKey({ keyId: id });
    expect(await codeOf(kms.sign({ keyId: id, message: bytes('m'), signingAlgorithm: 'ECDSA_SHA_256' }))).toBe('DisabledException');
    expect(await codeOf(kms.verify({ keyId: id, message: bytes('m'), signature: s.signature, signingAlgorithm: 'ECDSA_SHA_256' }))).toBe('DisabledException');
    expect(await codeOf(kms.getPublicKey({ keyId: id }))).toBe('DisabledException');
    await kms.enableKey({ keyId: id });
    await kms.scheduleKeyDeletion({ keyId: id, pendingWindowInDays: 7 });
    expect(await codeOf(kms.sign({ keyId: id, message: bytes('m'), signingAlgorithm: 'ECDSA_SHA_256' }))).toBe('KMSInvalidStateException');
    expect(await codeOf(kms.getPublicKey({ keyId: id }))).toBe('KMSInvalidStateException');
  });

  it('asymmetric keys keep working across a domain-key rotation and a reopen', async () => {
    const own = await h.open({ track: false });
    const sid = (await own.kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' })).keyMetadata.keyId;
    const eid = (await own.kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' })).keyMetadata.keyId;
    const c = await own.kms.encrypt({ keyId: eid, plaintext: bytes('rsa across'), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    const spki = (await own.kms.getPublicKey({ keyId: sid })).publicKey;
    await own.kms.rotateDomainKey();
    await own.kms.waitForMaintenance();
    const check = async (k: Kms) => {
      const s = await k.sign({ keyId: sid, message: bytes('after'), signingAlgorithm: 'ECDSA_SHA_256' });
      expect(nodeVerify(spki, 'ECDSA_SHA_256', bytes('after'), s.signature)).toBe(true);
      expect(text((await k.decrypt({ keyId: eid, ciphertextBlob: c.ciphertextBlob, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' })).plaintext)).toBe('rsa across');
    };
    await check(own.kms);
    await own.kms.close();
    const again = await h.open({ dir: own.dir });
    await check(again.kms);
  });

  it('50 parallel signs from many callers all verify', async () => {
    const message = bytes('parallel');
    const sigs = await Promise.all(Array.from({ length: 50 }, (_, i) => kms.sign({ keyId: i % 2 ? p256 : rsaSign, message, signingAlgorithm: i % 2 ? 'ECDSA_SHA_256' : 'RSASSA_PSS_SHA_256' })));
    const spki256 = (await kms.getPublicKey({ keyId: p256 })).publicKey;
    const spkiRsa = (await kms.getPublicKey({ keyId: rsaSign })).publicKey;
    sigs.forEach((s, i) => expect(nodeVerify(i % 2 ? spki256 : spkiRsa, i % 2 ? 'ECDSA_SHA_256' : 'RSASSA_PSS_SHA_256', message, s.signature)).toBe(true));
  });
});
