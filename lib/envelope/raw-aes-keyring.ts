/**
 * A raw AES keyring, byte-compatible with @aws-crypto's RawAesKeyringNode:
 *
 *   providerId   = keyNamespace
 *   providerInfo = keyName || u32 128 (tag bits) || u32 12 (IV bytes) || IV
 *   ciphertext   = AES-GCM(wrapping key, IV, AAD = context serialization without its length)(data key) || tag
 *
 * An AES-256 wrapping key lives in native memory, and a 32-byte data key is
 * sealed and opened there (its bytes never reach JavaScript). AES-128/192
 * wrapping keys, and the 16/24-byte data keys of legacy suites, go through
 * node:crypto; every JavaScript buffer with key bytes is wiped after use.
 *
 * Sort order of the wrapping AAD: RawAesKeyringNode sorts the context with
 * `String.prototype.localeCompare` unless `utf8Sorting: true`, while the
 * format (and every other SDK) sorts by UTF-8 bytes. The two differ for keys
 * that differ in case, are non-ASCII, or hold some punctuation. This keyring
 * does the same by default (`utf8Sorting: false`, locale order) so that its
 * messages and @aws-crypto's default keyring's open each other; pass
 * `utf8Sorting: true` for the byte order. On decrypt it tries its own order
 * first, then the other one, so it opens messages written either way.
 */
import crypto from 'node:crypto';
import { aead, AeadKey, keyTransforms } from '../aead.js';
import { serializeEncryptionContext, type ContextOrder, type EncryptionContext } from '../encryption-context.js';
import { invalidArgType, invalidArgValue, toBytes } from '../validate.js';
import type { EncryptedDataKey } from './header-codec.js';
import { keyringOptions, requireName, requireNamespace } from './keyring-options.js';
import { generateDataKey, type DecryptionMaterials, type EncryptionMaterials, type Keyring } from './materials.js';
import { IV_LENGTH, TAG_LENGTH } from './suites.js';

/** Options of {@link RawAesKeyring}, as RawAesKeyringNode takes them. */
export interface RawAesKeyringOptions {
  keyName: string;
  keyNamespace: string;
  /** 16, 24 or 32 bytes. Copied (into native memory for 32): the caller's buffer is left as it is. */
  unencryptedMasterKey: Uint8Array;
  /** @aws-crypto's RawAesWrappingSuiteIdentifier (0x0014, 0x0046 or 0x0078); when given it must match the key length. */
  wrappingSuite?: number;
  /** Sort the wrapping AAD by UTF-8 bytes (true) or by localeCompare (false, the default, as RawAesKeyringNode). */
  utf8Sorting?: boolean;
}

const TAG_BITS = TAG_LENGTH * 8;
const WRAPPING_SUITE_KEY_LENGTH: Readonly<Record<number, number>> = { 0x0014: 16, 0x0046: 24, 0x0078: 32 };
const encoder = new TextEncoder();

/** Wrapping AAD: the context serialization without its u16 length (empty context: no bytes). */
function wrappingAad(context: EncryptionContext, order: ContextOrder): Uint8Array {
  return serializeEncryptionContext(context, order);
}

function readU32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(at);
}

/** Wraps data keys under a local AES key. */
export class RawAesKeyring implements Keyring {
  readonly keyName: string;
  readonly keyNamespace: string;
  readonly #name: Uint8Array;
  readonly #order: ContextOrder;
  /** The AES-256 wrapping key, natively; or the AES-128/192 key bytes for node:crypto. */
  readonly #wrapping: AeadKey | Uint8Array;

  constructor(options: RawAesKeyringOptions) {
    const opts = keyringOptions(options);
    this.keyName = requireName('keyName', opts.keyName);
    this.keyNamespace = requireNamespace(opts.keyNamespace);
    this.#name = encoder.encode(this.keyName);
    const key = toBytes('options.unencryptedMasterKey', opts.unencryptedMasterKey);
    if (![16, 24, 32].includes(key.length)) throw invalidArgValue('options.unencryptedMasterKey', 'must be 16, 24 or 32 bytes long');
    if (opts.wrappingSuite !== undefined && WRAPPING_SUITE_KEY_LENGTH[opts.wrappingSuite] !== key.length) {
      throw invalidArgValue('options.wrappingSuite', 'must be the AES-GCM wrapping suite of the key length');
    }
    if (opts.utf8Sorting !== undefined && typeof opts.utf8Sorting !== 'boolean') throw invalidArgType('options.utf8Sorting', 'of type boolean', opts.utf8Sorting);
    this.#order = opts.utf8Sorting === true ? 'utf8' : 'locale';
    this.#wrapping = key.length === 32 ? aead.importKey(key) : Uint8Array.from(key);
  }

  needsDataKeyBytes(): boolean {
    return !(this.#wrapping instanceof AeadKey);
  }

  async onEncrypt(materials: EncryptionMaterials): Promise<void> {
    if (materials.dataKey === undefined) generateDataKey(materials);
    const aad = wrappingAad(materials.encryptionContext, this.#order);
    const sealed = this.#wrapping instanceof AeadKey ? keyTransforms.sealKey(this.#wrapping, materials.dataKey!, aad) : this.#sealInJs(materials.dataKeyBytes!, aad);
    const iv = sealed.subarray(0, IV_LENGTH);
    const rawInfo = new Uint8Array(this.#name.length + 8 + IV_LENGTH);
    rawInfo.set(this.#name);
    const view = new DataView(rawInfo.buffer);
    view.setUint32(this.#name.length, TAG_BITS);
    view.setUint32(this.#name.length + 4, IV_LENGTH);
    rawInfo.set(iv, this.#name.length + 8);
    materials.addEncryptedDataKey({
      providerId: this.keyNamespace,
      providerInfo: Buffer.from(rawInfo).toString('utf8'),
      rawInfo,
      encryptedDataKey: sealed.slice(IV_LENGTH),
    });
  }

  async onDecrypt(materials: DecryptionMaterials, edks: readonly EncryptedDataKey[]): Promise<void> {
    const orders: ContextOrder[] = [this.#order, this.#order === 'utf8' ? 'locale' : 'utf8'];
    const aads = orders.map((order) => wrappingAad(materials.encryptionContext, order));
    if (Buffer.compare(aads[0]!, aads[1]!) === 0) aads.pop();
    for (const edk of edks) {
      if (!this.#isMine(edk, materials.suite.keyLength)) continue;
      const sealed = Buffer.concat([edk.rawInfo.subarray(this.#name.length + 8), edk.encryptedDataKey]);
      for (const aad of aads) {
        const key = this.#open(sealed, aad, materials.suite.keyLength);
        if (key !== undefined) {
          materials.setDataKey(key);
          return;
        }
      }
    }
  }

  /** The checks of the format digest, section 2.1. */
  #isMine(edk: EncryptedDataKey, keyLength: number): boolean {
    const info = edk.rawInfo;
    const n = this.#name.length;
    return (
      edk.providerId === this.keyNamespace &&
      info.length === n + 8 + IV_LENGTH &&
      Buffer.compare(info.subarray(0, n), this.#name) === 0 &&
      readU32(info, n) === TAG_BITS &&
      readU32(info, n + 4) === IV_LENGTH &&
      edk.encryptedDataKey.length === keyLength + TAG_LENGTH
    );
  }

  /** The unwrapped data key, or undefined when this EDK does not open under this key and AAD. */
  #open(sealed: Uint8Array, aad: Uint8Array, keyLength: number): AeadKey | Uint8Array | undefined {
    try {
      if (!(this.#wrapping instanceof AeadKey)) return this.#openInJs(sealed, aad);
      if (keyLength === 32) return keyTransforms.openKey(this.#wrapping, sealed, aad);
      // A legacy 16/24-byte data key: its bytes come to JavaScript (the materials wipe them).
      return aead.decryptSync(this.#wrapping, sealed, { aad });
    } catch {
      return undefined;
    }
  }

  #sealInJs(dataKey: Uint8Array, aad: Uint8Array): Uint8Array {
    const iv = crypto.randomBytes(IV_LENGTH);
    const cipher = crypto.createCipheriv(this.#cipherName(), this.#wrapping as Uint8Array, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
  }

  #openInJs(sealed: Uint8Array, aad: Uint8Array): Uint8Array {
    const decipher = crypto.createDecipheriv(this.#cipherName(), this.#wrapping as Uint8Array, sealed.subarray(0, IV_LENGTH), { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    const key = decipher.update(sealed.subarray(IV_LENGTH, sealed.length - TAG_LENGTH));
    try {
      decipher.final();
    } catch (error) {
      key.fill(0);
      throw error;
    }
    return key;
  }

  #cipherName(): crypto.CipherGCMTypes {
    return `aes-${(this.#wrapping as Uint8Array).length * 8}-gcm` as crypto.CipherGCMTypes;
  }
}
