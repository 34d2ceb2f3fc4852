// The one raw AES keyring the message target decrypts with, and the seed
// generator encrypts with: the AWS Encryption SDK test vectors' public
// "aes-256" test key (read from ../shared/vectors, so the vector messages
// decrypt too), or a fixed test pattern where the vectors are absent.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { lib } = require('./support.cjs');
const { RawAesKeyring } = lib('envelope/index');

const VECTORS = process.env.HSMKMS_VECTORS_DIR || path.resolve(__dirname, '../../../../shared/vectors');
const KEYS = path.join(VECTORS, 'esdk/from-dafny/keys.json');

function testKey() {
  if (fs.existsSync(KEYS)) {
    const entry = JSON.parse(fs.readFileSync(KEYS, 'utf8')).keys['aes-256'];
    return Buffer.from(entry.material, 'base64');
  }
  return Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff));
}

function makeKeyring() {
  return new RawAesKeyring({
    keyName: 'aes-256',
    keyNamespace: 'aws-raw-vectors-persistent-aes-256',
    unencryptedMasterKey: testKey(),
    utf8Sorting: true,
  });
}

module.exports = { VECTORS, makeKeyring };
