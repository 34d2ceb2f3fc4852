/**
 * A keyring of keyrings: on encrypt the generator makes the data key and its
 * first encrypted copy, then each child adds one; on decrypt the generator
 * and then each child, in order, try until one unwraps a data key.
 */
import { invalidArgType, invalidArgValue } from '../validate.js';
import type { EncryptedDataKey } from './header-codec.js';
import { keyringOptions } from './keyring-options.js';
import { isKeyring, type DecryptionMaterials, type EncryptionMaterials, type Keyring } from './materials.js';
import { invalidOption } from './message-errors.js';

/** Options of {@link MultiKeyring}, as @aws-crypto's MultiKeyringNode takes them. */
export interface MultiKeyringOptions {
  /** Makes the data key on encrypt. Without one, the multi-keyring only decrypts (or adds copies to a key made elsewhere). */
  generator?: Keyring;
  children?: Keyring[];
}

/** Several keyrings as one. */
export class MultiKeyring implements Keyring {
  readonly generator: Keyring | undefined;
  readonly children: readonly Keyring[];

  constructor(options: MultiKeyringOptions) {
    const opts = keyringOptions(options);
    if (opts.generator !== undefined && !isKeyring(opts.generator)) throw invalidArgType('options.generator', 'a keyring', opts.generator);
    const children = opts.children ?? [];
    if (!Array.isArray(children)) throw invalidArgType('options.children', 'an Array of keyrings', children);
    children.forEach((child, i) => {
      if (!isKeyring(child)) throw invalidArgType(`options.children[${i}]`, 'a keyring', child);
    });
    if (opts.generator === undefined && children.length === 0) throw invalidArgValue('options', 'must name a generator or at least one child');
    this.generator = opts.generator;
    this.children = Object.freeze([...children]);
  }

  needsDataKeyBytes(asGenerator: boolean): boolean {
    return (this.generator?.needsDataKeyBytes(asGenerator) ?? false) || this.children.some((child) => child.needsDataKeyBytes(false));
  }

  async onEncrypt(materials: EncryptionMaterials): Promise<void> {
    if (materials.dataKey === undefined && this.generator === undefined) throw invalidOption('This multi-keyring has no generator to make a data key');
    if (this.generator !== undefined) await this.generator.onEncrypt(materials);
    for (const child of this.children) await child.onEncrypt(materials);
  }

  async onDecrypt(materials: DecryptionMaterials, edks: readonly EncryptedDataKey[]): Promise<void> {
    for (const keyring of [...(this.generator ? [this.generator] : []), ...this.children]) {
      if (materials.dataKey !== undefined) return;
      try {
        await keyring.onDecrypt(materials, edks);
      } catch {
        // A keyring that fails (a KMS that is down, a key it may not use) is
        // one that did not unwrap; the next one may.
      }
    }
  }
}
