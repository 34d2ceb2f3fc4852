/**
 * The key that encrypts a message's frames and authenticates its header,
 * behind one interface for both homes a key can have: the native AEAD engine
 * (AES-256, bytes in locked native memory: every key we write with) and
 * node:crypto (AES-128/192, only for reading legacy v1 suites, whose keys
 * have to pass through JavaScript; those bytes are wiped by destroy()).
 */
import crypto from 'node:crypto';
import { aead, nativeKeyHandle, type AeadKey } from '../aead.js';
import { native } from '../native.js';
import { invalidMessage } from './message-errors.js';
import { IV_LENGTH, TAG_LENGTH } from './suites.js';

/**
 * Seals into / opens from the sealed layout IV (12) || ciphertext || tag (16),
 * the native engine's own, so frames are written straight into a message.
 */
export interface ContentKey {
  sealSync(plaintext: Uint8Array, iv: Uint8Array, aad: Uint8Array, out: Uint8Array): void;
  seal(plaintext: Uint8Array, iv: Uint8Array, aad: Uint8Array, out: Uint8Array): Promise<unknown>;
  /** Throws InvalidCiphertextException (and leaves `out` wiped) when the tag does not verify. */
  openSync(sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): void;
  open(sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): Promise<unknown>;
  /** Wipes the key. */
  destroy(): void;
}

/** A content key in the native engine. */
export class NativeContentKey implements ContentKey {
  constructor(readonly key: AeadKey) {}

  sealSync(plaintext: Uint8Array, iv: Uint8Array, aad: Uint8Array, out: Uint8Array): void {
    aead.encryptSync(this.key, plaintext, { iv, aad, output: out });
  }

  seal(plaintext: Uint8Array, iv: Uint8Array, aad: Uint8Array, out: Uint8Array): Promise<unknown> {
    return aead.encrypt(this.key, plaintext, { iv, aad, output: out });
  }

  openSync(sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): void {
    aead.decryptSync(this.key, sealed, { aad, output: out });
  }

  open(sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): Promise<unknown> {
    return aead.decrypt(this.key, sealed, { aad, output: out });
  }

  /** Seals a run of regular frames in one native call (sizes checked by the caller and again natively). */
  sealFrames(messageId: Uint8Array, firstSeq: number, frameLength: number, plaintext: Uint8Array, out: Uint8Array): Promise<unknown> {
    return settle(() => native.sealFrames(nativeKeyHandle(this.key), plaintext, out, messageId, firstSeq, frameLength, 0));
  }

  /** Opens a run of regular frames in one native call; any bad frame fails the run and wipes `out`. */
  openFrames(messageId: Uint8Array, firstSeq: number, frameLength: number, body: Uint8Array | readonly Uint8Array[], out: Uint8Array, checkIv: boolean): Promise<unknown> {
    return settle(() => native.openFrames(nativeKeyHandle(this.key), body, out, messageId, firstSeq, frameLength, checkIv, 0));
  }

  destroy(): void {
    this.key.destroy();
  }
}

/** A native starter's synchronous throw (destroyed key, bad size) as a rejection. */
function settle(start: () => Promise<unknown>): Promise<unknown> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * An AES-128/192/256-GCM key held in JavaScript, for legacy v1 messages
 * only: decrypt-only, since we never write v1. destroy() wipes the bytes.
 */
export class LegacyContentKey implements ContentKey {
  readonly #bytes: Uint8Array;
  readonly #cipher: crypto.CipherGCMTypes;

  /** Takes ownership of `bytes` (16, 24 or 32 of them) and wipes them on destroy(). */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#cipher = `aes-${bytes.length * 8}-gcm` as crypto.CipherGCMTypes;
  }

  sealSync(): void {
    throw new TypeError('Legacy (v1) content keys only decrypt');
  }

  seal(): Promise<unknown> {
    return Promise.reject(new TypeError('Legacy (v1) content keys only decrypt'));
  }

  openSync(sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): void {
    const length = sealed.length - IV_LENGTH - TAG_LENGTH;
    if (length < 0) throw invalidMessage('a frame is too short');
    const decipher = crypto.createDecipheriv(this.#cipher, this.#bytes, sealed.subarray(0, IV_LENGTH), { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(IV_LENGTH + length));
    const plaintext = decipher.update(sealed.subarray(IV_LENGTH, IV_LENGTH + length));
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      throw invalidMessage('a frame does not authenticate');
    }
    out.set(plaintext);
    plaintext.fill(0);
  }

  open(sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): Promise<unknown> {
    try {
      this.openSync(sealed, aad, out);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  destroy(): void {
    this.#bytes.fill(0);
  }
}
