/**
 * The footer of signed suites: ECDSA (DER) over every byte before the footer,
 * with a key pair made per message; the public key travels in the encryption
 * context as the base64 of its compressed point. The keys and the digest
 * live in native memory (native/core/message_signature), and the work runs
 * on the digest threads, in the order it was asked for: key generation,
 * hashing (`updateInOrder`), signing and checking (about a millisecond each
 * for P-384) never hold up the event loop. Only `update`, for a header's
 * few bytes, hashes on the calling thread. The signing key is released once
 * it has signed.
 */
import { native, type NativeSignatureHandle } from '../native.js';
import { ByteReader } from './byte-reader.js';
import { invalidMessage } from './message-errors.js';
import type { SignatureSuite } from './suites.js';

/** Largest DER ECDSA P-384 signature: SEQUENCE of two 49-byte INTEGERs. */
export const MAX_SIGNATURE_LENGTH = 104;

/** What signer and verifier share: a running digest fed in pieces. */
abstract class MessageDigest {
  protected readonly handle: NativeSignatureHandle;

  protected constructor(handle: NativeSignatureHandle) {
    this.handle = handle;
  }

  /** Hashes `bytes` now, on this thread (nothing may be in flight): a header. */
  update(bytes: Uint8Array): this {
    native.signature.updateSync(this.handle, bytes);
    return this;
  }

  /** Hashes `bytes` (or the parts, in order) on the digest threads after every earlier job; they must not change until it settles. */
  updateInOrder(bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return native.signature.update(this.handle, bytes);
  }

  /** Releases the key now (or once the jobs in flight settle): a stream that failed. */
  release(): void {
    native.signature.release(this.handle);
  }
}

/** Signs a message with a fresh key pair. */
export class MessageSigner extends MessageDigest {
  /** The compressed public point, base64: the value of `aws-crypto-public-key`. */
  readonly publicKey: string;

  private constructor(handle: NativeSignatureHandle, publicKey: string) {
    super(handle);
    this.publicKey = publicKey;
  }

  /** A signer with a fresh key pair, made on the digest threads. */
  static async create(suite: SignatureSuite): Promise<MessageSigner> {
    const made = await native.signature.newSigner(suite.curve);
    return new MessageSigner(made.handle, made.publicKey.toString('base64'));
  }

  /** The DER signature of everything fed (its length varies), after every earlier job; the key is released. */
  sign(): Promise<Uint8Array> {
    return native.signature.sign(this.handle);
  }
}

/** Verifies a message against the public key named in its context. */
export class MessageVerifier extends MessageDigest {
  private constructor(handle: NativeSignatureHandle) {
    super(handle);
  }

  /** A verifier for `encodedKey`, made on the digest threads; InvalidCiphertextException when it is not a point on the suite's curve. */
  static async create(suite: SignatureSuite, encodedKey: string): Promise<MessageVerifier> {
    const compressed = Buffer.from(encodedKey, 'base64');
    if (compressed.length !== suite.compressedPointLength || compressed.toString('base64') !== encodedKey) {
      throw invalidMessage('the signature key is malformed');
    }
    let handle: NativeSignatureHandle;
    try {
      handle = await native.signature.newVerifier(suite.curve, compressed);
    } catch {
      throw invalidMessage('the signature key is malformed');
    }
    return new MessageVerifier(handle);
  }

  /** Whether `signature` (DER) signs everything fed, after every earlier job. */
  verify(signature: Uint8Array): Promise<boolean> {
    return native.signature.verify(this.handle, signature);
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
