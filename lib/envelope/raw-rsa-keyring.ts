/**
 * A raw RSA keyring, byte-compatible with @aws-crypto's RawRsaKeyringNode:
 * providerId = keyNamespace, providerInfo = keyName, ciphertext = RSA
 * encryption of the data key (OAEP with `oaepHash`, SHA-1 by default, MGF1
 * with the same hash, empty label; or PKCS#1 v1.5). The context is not bound
 * into the wrap (RSA has no AAD); the header tag authenticates it.
 *
 * RSA runs in node:crypto, so the data key's bytes pass through JavaScript
 * here: they are wiped as soon as they are wrapped or imported. Node refuses
 * PKCS#1 v1.5 private decryption (CVE-2023-46809) unless run with
 * --security-revert; such EDKs then fail to unwrap like a wrong key.
 */
import crypto from 'node:crypto';
import { invalidArgType, invalidArgValue } from '../validate.js';
import type { EncryptedDataKey } from './header-codec.js';
import { keyringOptions, requireName, requireNamespace } from './keyring-options.js';
import { generateDataKey, type DecryptionMaterials, type EncryptionMaterials, type Keyring } from './materials.js';

/** A key as node:crypto takes it: PEM/DER text or bytes, or a KeyObject. */
export type RsaKeyInput = string | Buffer | crypto.KeyObject;

/** Options of {@link RawRsaKeyring}, as RawRsaKeyringNode takes them. */
export interface RawRsaKeyringOptions {
  keyName: string;
  keyNamespace: string;
  /** At least one of the two: the public key to wrap, the private key to unwrap. */
  rsaKey: { publicKey?: RsaKeyInput; privateKey?: RsaKeyInput };
  /** crypto.constants.RSA_PKCS1_OAEP_PADDING (default) or RSA_PKCS1_PADDING. */
  padding?: number;
  /** OAEP digest: 'sha1' (default), 'sha256', 'sha384' or 'sha512'. */
  oaepHash?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
}

const OAEP_HASHES = new Set(['sha1', 'sha256', 'sha384', 'sha512']);
const PADDINGS = new Set([crypto.constants.RSA_PKCS1_OAEP_PADDING, crypto.constants.RSA_PKCS1_PADDING]);

function toKeyObject(name: string, value: RsaKeyInput | undefined, make: (key: RsaKeyInput) => crypto.KeyObject): crypto.KeyObject | undefined {
  if (value === undefined) return undefined;
  try {
    const key = make(value);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    return key;
  } catch {
    throw invalidArgValue(`options.rsaKey.${name}`, 'must be an RSA key');
  }
}

/** Wraps data keys under an RSA key pair. */
export class RawRsaKeyring implements Keyring {
  readonly keyName: string;
  readonly keyNamespace: string;
  readonly #publicKey: crypto.KeyObject | undefined;
  readonly #privateKey: crypto.KeyObject | undefined;
  readonly #padding: number;
  readonly #oaepHash: string | undefined;

  constructor(options: RawRsaKeyringOptions) {
    const opts = keyringOptions(options);
    this.keyName = requireName('keyName', opts.keyName);
    this.keyNamespace = requireNamespace(opts.keyNamespace);
    if (typeof opts.rsaKey !== 'object' || opts.rsaKey === null) throw invalidArgType('options.rsaKey', 'of type object', opts.rsaKey);
    this.#privateKey = toKeyObject('privateKey', opts.rsaKey.privateKey, (key) => (key instanceof crypto.KeyObject ? key : crypto.createPrivateKey(key)));
    this.#publicKey = toKeyObject('publicKey', opts.rsaKey.publicKey, (key) => (key instanceof crypto.KeyObject && key.type === 'public' ? key : crypto.createPublicKey(key))) ?? (this.#privateKey && crypto.createPublicKey(this.#privateKey));
    if (this.#publicKey === undefined) throw invalidArgValue('options.rsaKey', 'must hold a publicKey or a privateKey');
    this.#padding = opts.padding ?? crypto.constants.RSA_PKCS1_OAEP_PADDING;
    if (!PADDINGS.has(this.#padding)) throw invalidArgValue('options.padding', 'must be RSA_PKCS1_OAEP_PADDING or RSA_PKCS1_PADDING');
    if (opts.oaepHash !== undefined && !OAEP_HASHES.has(opts.oaepHash)) throw invalidArgValue('options.oaepHash', 'must be sha1, sha256, sha384 or sha512');
    this.#oaepHash = this.#padding === crypto.constants.RSA_PKCS1_OAEP_PADDING ? (opts.oaepHash ?? 'sha1') : undefined;
  }

  needsDataKeyBytes(): boolean {
    return true;
  }

  async onEncrypt(materials: EncryptionMaterials): Promise<void> {
    if (materials.dataKey === undefined) generateDataKey(materials);
    const encryptedDataKey = crypto.publicEncrypt(this.#options(this.#publicKey!), materials.dataKeyBytes!);
    materials.addEncryptedDataKey({ providerId: this.keyNamespace, providerInfo: this.keyName, rawInfo: new TextEncoder().encode(this.keyName), encryptedDataKey });
  }

  async onDecrypt(materials: DecryptionMaterials, edks: readonly EncryptedDataKey[]): Promise<void> {
    if (this.#privateKey === undefined) return;
    for (const edk of edks) {
      if (edk.providerId !== this.keyNamespace || edk.providerInfo !== this.keyName) continue;
      let key: Buffer;
      try {
        key = crypto.privateDecrypt(this.#options(this.#privateKey), edk.encryptedDataKey);
      } catch {
        continue;
      }
      if (key.length !== materials.suite.keyLength) {
        key.fill(0);
        continue;
      }
      materials.setDataKey(key); // takes the bytes over and wipes them
      return;
    }
  }

  #options(key: crypto.KeyObject): crypto.RsaPublicKey | crypto.RsaPrivateKey {
    return { key, padding: this.#padding, ...(this.#oaepHash !== undefined && { oaepHash: this.#oaepHash }) };
  }
}
