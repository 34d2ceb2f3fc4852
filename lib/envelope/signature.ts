/**
 * The footer of signed suites: ECDSA (DER) over every byte before the footer,
 * with a key pair made per message; the public key travels in the encryption
 * context as the base64 of its compressed point. Signer and verifier take
 * the message in pieces, so a stream can feed them as bytes pass.
 */
import crypto from 'node:crypto';
import { ByteReader } from './byte-reader.js';
import { invalidMessage } from './message-errors.js';
import type { SignatureSuite } from './suites.js';

/** Largest DER ECDSA P-384 signature: SEQUENCE of two 49-byte INTEGERs. */
export const MAX_SIGNATURE_LENGTH = 104;

function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** Signs a message with a fresh key pair. */
export class MessageSigner {
  readonly #sign: crypto.Sign;
  readonly #privateKey: crypto.KeyObject;
  /** The compressed public point, base64: the value of `aws-crypto-public-key`. */
  readonly publicKey: string;

  constructor(suite: SignatureSuite) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: suite.namedCurve });
    const jwk = publicKey.export({ format: 'jwk' });
    const uncompressed = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    this.publicKey = (crypto.ECDH.convertKey(uncompressed, suite.namedCurve, undefined, undefined, 'compressed') as Buffer).toString('base64');
    this.#privateKey = privateKey;
    this.#sign = crypto.createSign(suite.hash);
  }

  update(bytes: Uint8Array): this {
    this.#sign.update(bytes);
    return this;
  }

  /** The DER signature of everything fed so far (its length varies). */
  sign(): Uint8Array {
    return this.#sign.sign({ key: this.#privateKey, dsaEncoding: 'der' });
  }
}

/** Verifies a message against the public key named in its context. */
export class MessageVerifier {
  readonly #verify: crypto.Verify;
  readonly #publicKey: crypto.KeyObject;

  /** InvalidCiphertextException when `encodedKey` is not a point on the suite's curve. */
  constructor(suite: SignatureSuite, encodedKey: string) {
    const compressed = Buffer.from(encodedKey, 'base64');
    if (compressed.length !== suite.compressedPointLength || compressed.toString('base64') !== encodedKey) {
      throw invalidMessage('the signature key is malformed');
    }
    try {
      const point = crypto.ECDH.convertKey(compressed, suite.namedCurve, undefined, undefined, 'uncompressed') as Buffer;
      const half = (point.length - 1) / 2;
      this.#publicKey = crypto.createPublicKey({
        key: { kty: 'EC', crv: suite.jwkCurve, x: base64Url(point.subarray(1, 1 + half)), y: base64Url(point.subarray(1 + half)) },
        format: 'jwk',
      });
    } catch {
      throw invalidMessage('the signature key is malformed');
    }
    this.#verify = crypto.createVerify(suite.hash);
  }

  update(bytes: Uint8Array): this {
    this.#verify.update(bytes);
    return this;
  }

  /** True when `signature` (DER) signs everything fed so far. */
  verify(signature: Uint8Array): boolean {
    try {
      return this.#verify.verify({ key: this.#publicKey, dsaEncoding: 'der' }, signature);
    } catch {
      return false;
    }
  }
}

/** The footer at `offset`: u16 length || signature. Throws {@link IncompleteMessage} when not all there. */
export function readFooter(bytes: Uint8Array, offset: number): { signature: Uint8Array; end: number } {
  const reader = new ByteReader(bytes, offset);
  const signature = reader.lengthPrefixed();
  return { signature, end: reader.offset };
}

/** Writes the footer for `signature` at the start of `out`; returns its length. */
export function writeFooter(signature: Uint8Array, out: Uint8Array): number {
  new DataView(out.buffer, out.byteOffset, 2).setUint16(0, signature.length);
  out.set(signature, 2);
  return 2 + signature.length;
}
