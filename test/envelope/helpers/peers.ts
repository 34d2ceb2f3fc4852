// Matching keyring pairs: ours and @aws-crypto/client-node's, over the same
// key material, for the interop matrix.
import crypto from 'node:crypto';
import {
  buildClient,
  CommitmentPolicy,
  MultiKeyringNode,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  RawRsaKeyringNode,
  type KeyringNode,
} from '@aws-crypto/client-node';
import { MultiKeyring, RawAesKeyring, RawRsaKeyring, type Keyring } from '../../../dist/index.js';

export const peer = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

const aesKey = crypto.randomBytes(32);
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const names = { keyName: 'interop-key', keyNamespace: 'hsmkms-interop' };

function theirAes(utf8Sorting: boolean): RawAesKeyringNode {
  // RawAesKeyringNode zeroes the buffer it is given: a fresh copy each time.
  return new RawAesKeyringNode({ ...names, unencryptedMasterKey: Uint8Array.from(aesKey), wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING, utf8Sorting });
}

function theirRsa(): RawRsaKeyringNode {
  return new RawRsaKeyringNode({ keyName: 'interop-rsa', keyNamespace: 'hsmkms-interop-rsa', rsaKey: { publicKey: rsa.publicKey, privateKey: rsa.privateKey }, oaepHash: 'sha256' });
}

function ourRsa(): RawRsaKeyring {
  return new RawRsaKeyring({ keyName: 'interop-rsa', keyNamespace: 'hsmkms-interop-rsa', rsaKey: { publicKey: rsa.publicKey, privateKey: rsa.privateKey }, oaepHash: 'sha256' });
}

export interface KeyringPair {
  name: string;
  ours: Keyring;
  theirs: KeyringNode;
}

export const KEYRING_PAIRS: KeyringPair[] = [
  { name: 'raw AES, UTF-8 order', ours: new RawAesKeyring({ ...names, unencryptedMasterKey: aesKey, utf8Sorting: true }), theirs: theirAes(true) },
  { name: 'raw AES, locale order (defaults)', ours: new RawAesKeyring({ ...names, unencryptedMasterKey: aesKey }), theirs: theirAes(false) },
  { name: 'raw RSA OAEP-SHA256', ours: ourRsa(), theirs: theirRsa() },
  {
    name: 'multi (AES generator + RSA)',
    ours: new MultiKeyring({ generator: new RawAesKeyring({ ...names, unencryptedMasterKey: aesKey, utf8Sorting: true }), children: [ourRsa()] }),
    theirs: new MultiKeyringNode({ generator: theirAes(true), children: [theirRsa()] }),
  },
];

export const CONTEXTS: Record<string, Record<string, string>> = {
  empty: {},
  ascii: { purpose: 'test', owner: 'me', 'some-key': 'v' },
  'mixed case': { B: 'upper', a: 'lower', Zeta: 'z', alpha: 'A' },
  'non-ASCII': { ключ: 'значение', é: 'ü', a: '日本語', Ω: '😀' },
};
