/**
 * The ECDSA footer signature (lib/envelope/signature.ts over
 * native/core/message_signature): the digest fed on the worker pool in call
 * order equals the one fed in place; node:crypto verifies what we sign and
 * we verify what it signs; misuse and bad keys fail with clear errors.
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

describe('message signature', () => {
  it('pieces hashed on the pool, many in flight, sign what node:crypto verifies', async () => {
    const pieces = Array.from({ length: 40 }, (_, i) => crypto.randomBytes(1 + i * 997));
    const signer = new MessageSigner(suite);
    signer.update(pieces[0]!);
    await Promise.all(pieces.slice(1).map((piece) => signer.updateInOrder(piece)));
    const signature = signer.sign();
    const verified = crypto.verify('sha384', Buffer.concat(pieces), { key: nodeKey(signer.publicKey), dsaEncoding: 'der' }, signature);
    expect(verified).toBe(true);
    // Out of order would be another digest: node:crypto refuses it.
    const swapped = Buffer.concat([pieces[2]!, pieces[1]!, ...pieces.slice(3)]);
    expect(crypto.verify('sha384', Buffer.concat([pieces[0]!, swapped]), { key: nodeKey(signer.publicKey), dsaEncoding: 'der' }, signature)).toBe(false);
  });

  it('an update of several parts hashes them in order; a bad part throws and changes nothing', async () => {
    const parts = [crypto.randomBytes(10), crypto.randomBytes(70_000), crypto.randomBytes(3)];
    const signer = new MessageSigner(suite);
    expect(() => signer.updateInOrder([parts[0]!, 'not bytes' as unknown as Uint8Array])).toThrow(TypeError);
    await signer.updateInOrder(parts);
    await signer.updateInOrder([]);
    const signature = signer.sign();
    expect(crypto.verify('sha384', Buffer.concat(parts), { key: nodeKey(signer.publicKey), dsaEncoding: 'der' }, signature)).toBe(true);
  });

  it('verifies node:crypto signatures fed either way, and refuses a changed message', async () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const message = crypto.randomBytes(300_000);
    const signature = crypto.sign('sha384', message, { key: privateKey, dsaEncoding: 'der' });
    const jwk = publicKey.export({ format: 'jwk' });
    const uncompressed = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    const encoded = (crypto.ECDH.convertKey(uncompressed, 'secp384r1', undefined, undefined, 'compressed') as Buffer).toString('base64');

    const inPlace = new MessageVerifier(suite, encoded);
    expect(inPlace.update(message).verify(signature)).toBe(true);
    const onPool = new MessageVerifier(suite, encoded);
    for (let at = 0; at < message.length; at += 65_536) void onPool.updateInOrder(message.subarray(at, at + 65_536));
    await onPool.updateInOrder(new Uint8Array(0));
    expect(onPool.verify(signature)).toBe(true);

    const changed = Buffer.from(message);
    changed[123_456]! ^= 1;
    expect(new MessageVerifier(suite, encoded).update(changed).verify(signature)).toBe(false);
  });

  it('refuses a hash on this thread while pool updates are in flight', async () => {
    const signer = new MessageSigner(suite);
    const pending = signer.updateInOrder(crypto.randomBytes(1 << 20));
    expect(() => signer.update(Buffer.of(1))).toThrow(/in flight/);
    expect(() => signer.sign()).toThrow(/in flight/);
    await pending;
    expect(signer.sign().length).toBeGreaterThan(8);
    // One signature per message: the key is gone.
    expect(() => signer.sign()).toThrow(KmsError);
  });

  it('a released signer refuses more updates with KeyUnavailableException', async () => {
    const signer = new MessageSigner(suite);
    const pending = signer.updateInOrder(crypto.randomBytes(1 << 16));
    signer.release();
    await pending; // updates already queued still settle
    expect(() => signer.updateInOrder(Buffer.of(1))).toThrow(expect.objectContaining({ code: 'KeyUnavailableException' }));
  });

  it('malformed public keys are InvalidCiphertextException', () => {
    const good = new MessageSigner(suite).publicKey;
    const bytes = Buffer.from(good, 'base64');
    const cases = [
      bytes.subarray(1).toString('base64'), // too short
      Buffer.concat([Buffer.of(4), bytes.subarray(1)]).toString('base64'), // not a compressed tag
      Buffer.concat([Buffer.of(2), Buffer.alloc(48, 0xff)]).toString('base64'), // x beyond the field
    ];
    for (const encoded of cases) {
      expect(() => new MessageVerifier(suite, encoded)).toThrow(expect.objectContaining({ code: 'InvalidCiphertextException' }));
    }
  });
});
