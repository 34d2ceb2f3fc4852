// The AWS Encryption SDK decrypt vectors under ../shared/vectors/esdk: their
// manifests (from-dafny v5, .NET v4 zips) turned into cases with keyrings of
// ours, or an out-of-scope reason (AWS KMS, ECDH keyrings, PKCS#1 v1.5).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { MultiKeyring, RawAesKeyring, RawRsaKeyring, type Keyring } from '../../../dist/index.js';
import { readZip } from './zip.js';

/** Where the vendored vectors are: beside the repository, as in CI. */
export const VECTORS_DIR = path.resolve(__dirname, '../../../../shared/vectors/esdk');

interface KeySpec {
  type: string;
  'key-id': string;
  algorithm?: string;
  material?: string;
  encoding?: string;
}
type KeyDescription = Record<string, unknown> & { type: string };

export interface VectorCase {
  name: string;
  message: Buffer;
  /** The plaintext it must decrypt to; absent for a case that must be rejected. */
  plaintext?: Buffer;
  keyring?: Keyring;
  encryptionContext?: Record<string, string>;
  /** Why the case cannot run offline; no keyring then. */
  outOfScope?: string;
}

/** Files of a vector set: a directory or a zip. */
type Files = (name: string) => Buffer;

function fileOf(files: Files, uri: string): Buffer {
  return files(uri.replace(/^file:\/\//, ''));
}

const PADDING = { pkcs1: crypto.constants.RSA_PKCS1_PADDING, 'oaep-mgf1': crypto.constants.RSA_PKCS1_OAEP_PADDING } as const;

/** A keyring for a raw/multi/required-EC key description, or the reason there is none. */
function keyringFor(description: KeyDescription, keys: Record<string, KeySpec>): Keyring | string {
  switch (description.type) {
    case 'raw': {
      const spec = keys[description.key as string]!;
      if (description['encryption-algorithm'] === 'aes') {
        return new RawAesKeyring({
          keyName: spec['key-id'],
          keyNamespace: description['provider-id'] as string,
          unencryptedMasterKey: Buffer.from(spec.material!, 'base64'),
          utf8Sorting: true,
        });
      }
      const padding = PADDING[description['padding-algorithm'] as keyof typeof PADDING];
      if (padding === crypto.constants.RSA_PKCS1_PADDING) return 'PKCS#1 v1.5 private decryption is refused by Node (CVE-2023-46809)';
      const pem = spec.material!;
      return new RawRsaKeyring({
        keyName: spec['key-id'],
        keyNamespace: description['provider-id'] as string,
        rsaKey: spec.type === 'private' ? { privateKey: pem } : { publicKey: pem },
        padding,
        oaepHash: description['padding-hash'] as 'sha1',
      });
    }
    case 'multi-keyring': {
      const parts = [description.generator as KeyDescription, ...(description.childKeyrings as KeyDescription[])].filter(Boolean).map((d) => keyringFor(d, keys));
      const usable = parts.filter((k): k is Keyring => typeof k !== 'string');
      if (usable.length === 0) return parts[0] as string;
      return new MultiKeyring({ children: usable });
    }
    case 'required-encryption-context-cmm':
      return keyringFor(description.underlying as KeyDescription, keys);
    default:
      return description.type.startsWith('aws-kms') ? 'needs AWS KMS' : description.type === 'raw-ecdh' ? 'needs an ECDH keyring' : `unsupported ${description.type}`;
  }
}

/** The from-dafny set (decrypt manifest v5). */
export function fromDafnyCases(): VectorCase[] {
  const dir = path.join(VECTORS_DIR, 'from-dafny');
  const files: Files = (name) => readFileSync(path.join(dir, name));
  const manifest = JSON.parse(files('decrypt-manifest.json').toString()) as { tests: Record<string, { 'decryption-scenario': Record<string, unknown> }> };
  const keys = (JSON.parse(files('keys.json').toString()) as { keys: Record<string, KeySpec> }).keys;
  return Object.entries(manifest.tests).map(([name, test]) => {
    const scenario = test['decryption-scenario'];
    const keyring = keyringFor(scenario.decryptKeyDescription as KeyDescription, keys);
    const base = { name, message: fileOf(files, scenario.ciphertext as string) };
    if (typeof keyring === 'string') return { ...base, outOfScope: keyring };
    return { ...base, keyring, plaintext: fileOf(files, scenario.result as string), encryptionContext: scenario['reproduced-encryption-context'] as Record<string, string> };
  });
}

/** A .NET set (decrypt manifest v4, in a zip). */
export function netZipCases(zipName: string): VectorCase[] {
  const zip = readZip(path.join(VECTORS_DIR, zipName));
  const files: Files = (name) => {
    const file = zip.get(name);
    if (file === undefined) throw new Error(`${zipName}: no ${name}`);
    return file;
  };
  const manifest = JSON.parse(files('manifest.json').toString()) as {
    tests: Record<string, { ciphertext: string; 'master-keys': KeyDescription[]; 'encryption-context'?: Record<string, string>; result: { output?: { plaintext: string } } }>;
  };
  const keys = (JSON.parse(files('keys.json').toString()) as { keys: Record<string, KeySpec> }).keys;
  return Object.entries(manifest.tests).map(([name, test]) => {
    const keyring = keyringFor({ type: 'multi-keyring', childKeyrings: test['master-keys'] }, keys);
    const base = { name, message: fileOf(files, test.ciphertext) };
    if (typeof keyring === 'string') return { ...base, outOfScope: keyring };
    const plaintext = test.result.output ? fileOf(files, test.result.output.plaintext) : undefined;
    return { ...base, keyring, plaintext, encryptionContext: test['encryption-context'] };
  });
}
