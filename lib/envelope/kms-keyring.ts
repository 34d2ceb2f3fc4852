/**
 * The hsmkms keyring: data keys wrapped by CMKs of a {@link Kms}.
 *
 *   providerId = "hsmkms", providerInfo = the CMK's ARN, ciphertext = the KMS ciphertext blob
 *
 * The generator CMK makes the data key with generateDataKeyHandle, bound to
 * the message's encryption context, so the key goes from the root of trust
 * into locked native memory and never reaches JavaScript. On decrypt, EDKs
 * of provider "hsmkms" whose CMK is one of this keyring's go, in header
 * order, to decryptDataKey (which also returns a native handle).
 */
import { aead } from '../aead.js';
import { KmsError } from '../errors.js';
import type { Kms } from '../kms/kms.js';
import { invalidArgType } from '../validate.js';
import type { EncryptedDataKey } from './header-codec.js';
import { keyringOptions, requireName } from './keyring-options.js';
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from './materials.js';

/** The provider id of EDKs wrapped by an hsmkms CMK. */
export const KMS_PROVIDER_ID = 'hsmkms';
/**
 * EDKs the keyring decrypts: its own, and those of the AWS Encryption SDK's
 * KMS keyring ("aws-kms") when they name one of its CMKs, as they do when
 * that keyring talked to this KMS through the AWS-KMS-compatible server.
 */
const DECRYPTABLE_PROVIDERS: ReadonlySet<string> = new Set([KMS_PROVIDER_ID, 'aws-kms']);

/** The KMS operations the keyring uses. */
export type KeyringKms = Pick<Kms, 'generateDataKeyHandle' | 'generateDataKey' | 'encryptDataKey' | 'decryptDataKey' | 'describeKey'>;

/** Options of {@link KmsKeyring}. */
export interface KmsKeyringOptions {
  kms: KeyringKms;
  /** The generator CMK (key id, ARN, alias name or alias ARN). Without it the keyring only adds copies of a key made elsewhere, and decrypts. */
  keyId?: string;
  /** More CMKs that each wrap the same data key. */
  additionalKeyIds?: string[];
  /**
   * Decrypt with whichever CMK of this KMS an EDK names (like the AWS
   * Encryption SDK's discovery keyring), not only this keyring's own. For
   * tools that read any message of their KMS, such as the CLI's decrypt; a
   * keyring without keyId must set it, and then cannot encrypt.
   */
  discovery?: boolean;
}

const encoder = new TextEncoder();

/** Wraps data keys under CMKs of an hsmkms {@link Kms}. */
export class KmsKeyring implements Keyring {
  readonly keyId: string | undefined;
  readonly additionalKeyIds: readonly string[];
  readonly discovery: boolean;
  readonly #kms: KeyringKms;
  #arns: Promise<Set<string>> | undefined;

  constructor(options: KmsKeyringOptions) {
    const opts = keyringOptions(options);
    const kms = opts.kms;
    if (typeof kms !== 'object' || kms === null || typeof kms.generateDataKeyHandle !== 'function') throw invalidArgType('options.kms', 'a Kms', kms);
    this.#kms = kms;
    this.keyId = opts.keyId === undefined ? undefined : requireName('keyId', opts.keyId);
    const more = opts.additionalKeyIds ?? [];
    if (!Array.isArray(more)) throw invalidArgType('options.additionalKeyIds', 'an Array of strings', more);
    this.additionalKeyIds = Object.freeze(more.map((id, i) => requireName(`additionalKeyIds[${i}]`, id)));
    if (opts.discovery !== undefined && typeof opts.discovery !== 'boolean') throw invalidArgType('options.discovery', 'of type boolean', opts.discovery);
    this.discovery = opts.discovery === true;
    if (this.keyId === undefined && this.additionalKeyIds.length === 0 && !this.discovery) {
      throw invalidArgType('options.keyId', 'of type string (or discovery: true)', undefined);
    }
  }

  needsDataKeyBytes(): boolean {
    // Every copy is made from the data key handle (kms.encryptDataKey).
    return false;
  }

  async onEncrypt(materials: EncryptionMaterials): Promise<void> {
    const context = { ...materials.encryptionContext };
    let others = this.additionalKeyIds;
    if (materials.dataKey === undefined) {
      if (this.keyId === undefined) throw new KmsError('ValidationException', 'This KMS keyring has no generator keyId to make a data key');
      if (materials.exposeBytes) {
        const made = await this.#kms.generateDataKey({ keyId: this.keyId, numberOfBytes: materials.suite.keyLength, encryptionContext: context });
        materials.setDataKey(aead.importKey(made.plaintext), made.plaintext);
        this.#addEdk(materials, made.keyId, made.ciphertextBlob);
      } else {
        const made = await this.#kms.generateDataKeyHandle({ keyId: this.keyId, encryptionContext: context });
        materials.setDataKey(made.dataKey);
        this.#addEdk(materials, made.keyId, made.ciphertextBlob);
      }
    } else if (this.keyId !== undefined) {
      others = [this.keyId, ...others];
    }
    // Copies under the other CMKs are made from the handle: the bytes go from
    // locked native memory into the root, never through JavaScript.
    const dataKey = materials.dataKey!;
    for (const keyId of others) {
      const wrapped = await this.#kms.encryptDataKey({ keyId, dataKey, encryptionContext: context });
      this.#addEdk(materials, wrapped.keyId, wrapped.ciphertextBlob);
    }
  }

  async onDecrypt(materials: DecryptionMaterials, edks: readonly EncryptedDataKey[]): Promise<void> {
    const mine = await this.#keyArns();
    for (const edk of edks) {
      if (!DECRYPTABLE_PROVIDERS.has(edk.providerId) || !(this.discovery || mine.has(edk.providerInfo))) continue;
      try {
        const { dataKey } = await this.#kms.decryptDataKey({ ciphertextBlob: edk.encryptedDataKey, encryptionContext: { ...materials.encryptionContext }, keyId: edk.providerInfo });
        materials.setDataKey(dataKey);
        return;
      } catch {
        // Not this one (tampered, another context, a disabled key): try the next.
      }
    }
  }

  #addEdk(materials: EncryptionMaterials, keyArn: string, blob: Uint8Array): void {
    materials.addEncryptedDataKey({ providerId: KMS_PROVIDER_ID, providerInfo: keyArn, rawInfo: encoder.encode(keyArn), encryptedDataKey: blob });
  }

  /** This keyring's CMKs as ARNs (EDKs name them so), resolved once; a name that resolves to nothing is left out. */
  #keyArns(): Promise<Set<string>> {
    this.#arns ??= (async () => {
      const ids = [...(this.keyId === undefined ? [] : [this.keyId]), ...this.additionalKeyIds];
      const arns = new Set<string>();
      for (const keyId of ids) {
        try {
          arns.add((await this.#kms.describeKey({ keyId })).keyMetadata.arn);
        } catch {
          // Unknown or unusable now: its EDKs are skipped.
        }
      }
      return arns;
    })();
    return this.#arns;
  }
}
