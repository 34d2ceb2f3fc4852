// RawRsaKeyring's key inputs: PEM strings and KeyObjects, public-only
// keyrings that encrypt, private ones that decrypt, and the refusals.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { envelope, RawRsaKeyring } from '../../dist/index.js';

const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const names = { keyName: 'rsa-key', keyNamespace: 'hsmkms-test-rsa', oaepHash: 'sha256' as const };

describe('RawRsaKeyring key inputs', () => {
  it.each([
    ['KeyObjects', { publicKey: pair.publicKey }, { privateKey: pair.privateKey }],
    ['PEM strings', { publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string }, { privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }],
  ])('%s: a public-only keyring encrypts, the private one decrypts', async (_kind, publicOnly, privateOnly) => {
    const { result } = await envelope.encrypt(Buffer.from('for the private key'), { keyring: new RawRsaKeyring({ ...names, rsaKey: publicOnly }) });
    const { plaintext } = await envelope.decrypt(result, { keyring: new RawRsaKeyring({ ...names, rsaKey: privateOnly }) });
    expect(plaintext.toString()).toBe('for the private key');
    await expect(envelope.decrypt(result, { keyring: new RawRsaKeyring({ ...names, rsaKey: publicOnly }) })).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
  });

  it('refuses a key that is not RSA, and a keyring with no key', () => {
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => new RawRsaKeyring({ ...names, rsaKey: { publicKey: ec.publicKey } })).toThrow(/RSA/);
    expect(() => new RawRsaKeyring({ ...names, rsaKey: {} })).toThrow();
  });
});
