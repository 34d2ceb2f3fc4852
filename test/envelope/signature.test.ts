/**
 * The ECDSA footer signature (lib/envelope/signature.ts over
 * native/core/message_signature): key generation, hashing, signing and
 * checking run on the digest threads in call order; node:crypto verifies
 * what we sign and we verify what it signs; misuse and bad keys fail with
 * clear errors.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KmsError } from '../../dist/index.js';
import { MessageSigner, MessageVerifier } from '../../dist/envelope/signature.js';
import { suiteById } from '../../dist/envelope/suites.js';

const suite = suiteById(0x0578)!.signature!;

function nodeKey(encodedKey: string): crypto.KeyObject {
  const point = crypto.ECDH.convertKey(Buffer.from(encodedKey, 'base64'), 'secp384r1', undefined, undefined, 'uncompressed') as Buffer;
  const half = (point.length - 1) / 2;
  return crypto.createPublicKey({
    key: { kty: 'EC', crv: 'P-384', x: point.subarray(1, 1 + half).toString('base64url'), y: point.subarray(1 + half).toString('base64url') },
    format: 'jwk',
  });
}

function nodeVerifies(signer: MessageSigner, message: Uint8Array, signature: Uint8Array): boolean {
  return crypto.verify('sha384', message, { key: nodeKey(signer.publicKey), dsaEncoding: 'der' }, signature);
}

describe('message signature', () => {
  it('pieces hashed on the digest threads, many in flight, then signed in order: node:crypto verifies it', async () => {
    const pieces = Array.from({ length: 40 }, (_, i) => crypto.randomBytes(1 + i * 997));
    const signer = await MessageSigner.create(suite);
    signer.update(pieces[0]!);
    // Not awaited one by one: the sign queued last still comes after every update.
    const updates = pieces.slice(1).map((piece) => signer.updateInOrder(piece));
    const signature = await signer.sign();
    await Promise.all(updates);
    expect(nodeVerifies(signer, Buffer.concat(pieces), signature)).toBe(true);
    // Out of order would be another digest: node:crypto refuses it.
    expect(nodeVerifies(signer, Buffer.concat([pieces[0]!, pieces[2]!, pieces[1]!, ...pieces.slice(3)]), signature)).toBe(false);
  });

  it('every signer has a key pair of its own', async () => {
    const [a, b] = await Promise.all([MessageSigner.create(suite), MessageSigner.create(suite)]);
    expect(a.publicKey).not.toBe(b.publicKey);
    expect(Buffer.from(a.publicKey, 'base64')).toHaveLength(49);
  });

  it('an update of several parts hashes them in order; a bad part throws and changes nothing', async () => {
    const parts = [crypto.randomBytes(10), crypto.randomBytes(70_000), crypto.randomBytes(3)];
    const signer = await MessageSigner.create(suite);
    expect(() => signer.updateInOrder([parts[0]!, 'not bytes' as unknown as Uint8Array])).toThrow(TypeError);
    await signer.updateInOrder(parts);
    await signer.updateInOrder([]);
    expect(nodeVerifies(signer, Buffer.concat(parts), await signer.sign())).toBe(true);
  });

  it('verifies node:crypto signatures fed either way, and refuses a changed message or signature', async () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const message = crypto.randomBytes(300_000);
    const signature = crypto.sign('sha384', message, { key: privateKey, dsaEncoding: 'der' });
    const jwk = publicKey.export({ format: 'jwk' });
    const uncompressed = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    const encoded = (crypto.ECDH.convertKey(uncompressed, 'secp384r1', undefined, undefined, 'compressed') as Buffer).toString('base64');

    const verifier = () => MessageVerifier.create(suite, encoded);
    expect(await (await verifier()).update(message).verify(signature)).toBe(true);
    const onPool = await verifier();
    for (let at = 0; at < message.length; at += 65_536) void onPool.updateInOrder(message.subarray(at, at + 65_536));
    expect(await onPool.verify(signature)).toBe(true);

    const changed = Buffer.from(message);
    changed[123_456]! ^= 1;
    expect(await (await verifier()).update(changed).verify(signature)).toBe(false);
    const badSignature = Buffer.from(signature);
    badSignature[badSignature.length - 1]! ^= 1;
    expect(await (await verifier()).update(message).verify(badSignature)).toBe(false);
    expect(await (await verifier()).update(message).verify(Buffer.from('not DER'))).toBe(false);
  });

  it('refuses a hash on this thread while jobs are in flight; one signature per message', async () => {
    const signer = await MessageSigner.create(suite);
    const pending = signer.updateInOrder(crypto.randomBytes(1 << 20));
    expect(() => signer.update(Buffer.of(1))).toThrow(/in flight/);
    await pending;
    expect((await signer.sign()).length).toBeGreaterThan(8);
    // The digest is finished and the key gone.
    expect(() => signer.sign()).toThrow(expect.objectContaining({ code: 'KeyUnavailableException' }));
    expect(() => signer.update(Buffer.of(1))).toThrow(KmsError);
  });

  it('a released signer refuses more work with KeyUnavailableException; queued work still settles', async () => {
    const signer = await MessageSigner.create(suite);
    const pending = signer.updateInOrder(crypto.randomBytes(1 << 16));
    signer.release();
    await pending;
    expect(() => signer.updateInOrder(Buffer.of(1))).toThrow(expect.objectContaining({ code: 'KeyUnavailableException' }));
  });

  it('malformed public keys are InvalidCiphertextException', async () => {
    const good = (await MessageSigner.create(suite)).publicKey;
    const bytes = Buffer.from(good, 'base64');
    const cases = [
      bytes.subarray(1).toString('base64'), // too short
      Buffer.concat([Buffer.of(4), bytes.subarray(1)]).toString('base64'), // not a compressed tag
      Buffer.concat([Buffer.of(2), Buffer.alloc(48, 0xff)]).toString('base64'), // x beyond the field
    ];
    for (const encoded of cases) {
      await expect(MessageVerifier.create(suite, encoded)).rejects.toThrow(expect.objectContaining({ code: 'InvalidCiphertextException' }));
    }
  });
});
