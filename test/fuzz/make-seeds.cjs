// Writes seed corpora of our own inputs, made now (nothing here is kept in
// the repository): `node test/fuzz/make-seeds.cjs <dir>` fills <dir>/<target>/
// for every fuzz target, JavaScript and native, with valid inputs in each
// target's input layout (see the target's header comment), so fuzzing starts
// from deep inside the formats. Keys are test patterns or the public test
// vectors' keys; nothing secret is written.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { lib } = require('./js/support.cjs');
const { makeKeyring } = require('./js/fuzz-keyring.cjs');
const { REGION, NOW, CREDENTIAL, encodeRequest } = require('./js/sigv4-request.cjs');

const out = path.resolve(process.argv[2] ?? 'build-fuzz/seeds');
let written = 0;

function seed(target, name, bytes) {
  const dir = path.join(out, target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), bytes);
  written++;
}

/** fuzz_support.h's FillPattern: byte i = seed + 7i. */
const pattern = (length, start) => Buffer.from(Array.from({ length }, (_, i) => (start + 7 * i) & 0xff));
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const u16 = (n) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };

function gcmSeal(key, plaintext, aad) {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

const contexts = [{}, { purpose: 'fuzz' }, { a: '1', b: '2', 'Ünïcode-ключ': 'värde 🔑' }, { z: '', y: 'x'.repeat(300) }];

async function ciphertextBlobs() {
  const { Kms } = lib('index');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsmkms-fuzz-seeds-'));
  try {
    const kms = await Kms.open({ root: { soft: { dir } }, store: path.join(dir, 'keystore.db') });
    try {
      const { keyId } = (await kms.createKey()).keyMetadata;
      for (const [i, context] of contexts.entries()) {
        const plaintext = crypto.randomBytes([1, 32, 500, 4096][i]);
        const { ciphertextBlob } = await kms.encrypt({ keyId, plaintext, encryptionContext: context });
        seed('ciphertext-blob', `kms-${i}`, ciphertextBlob);
      }
    } finally {
      await kms.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function messages() {
  const { envelope, RawAesKeyring, MultiKeyring, SIGNED_SUITE_ID } = lib('envelope/index');
  const { parseHeader } = lib('envelope/header-codec');
  const keyring = makeKeyring();
  const other = new RawAesKeyring({ keyName: 'other', keyNamespace: 'fuzz', unencryptedMasterKey: pattern(32, 9) });
  const cases = [
    { size: 0, frameLength: 64 },
    { size: 100, frameLength: 64, context: contexts[2] },
    { size: 1000, frameLength: 256, context: contexts[1] },
    { size: 300, frameLength: 100, suiteId: SIGNED_SUITE_ID },
    { size: 50, frameLength: 4096, multi: true, context: contexts[3] },
  ];
  for (const [i, c] of cases.entries()) {
    const ring = c.multi ? new MultiKeyring({ generator: keyring, children: [other] }) : keyring;
    const { result } = await envelope.encrypt(crypto.randomBytes(c.size), {
      keyring: ring, frameLength: c.frameLength,
      ...(c.context && { encryptionContext: c.context }), ...(c.suiteId && { suiteId: c.suiteId }),
    });
    seed('message', `own-${i}`, result);
    seed('envelope-header', `own-${i}`, result);
    const { header } = parseHeader(result, { maxEncryptedDataKeys: 10 });
    // frame: u32 frame length, then seq 1 under the v2 rule (byte 0), then the body.
    seed('frame', `own-${i}`, Buffer.concat([u32(header.frameLength - 1), Buffer.from([0]), result.subarray(header.headerLength)]));
  }
}

function encryptionContexts() {
  const { serializeEncryptionContext } = lib('encryption-context');
  for (const [i, context] of contexts.entries()) {
    seed('encryption-context', `decode-${i}`, Buffer.concat([Buffer.from([0]), serializeEncryptionContext(context)]));
    const utf16 = Object.entries(context).flat().join('\u0000') + '\u0000';
    seed('encryption-context', `encode-utf16-${i}`, Buffer.concat([Buffer.from([3]), Buffer.from(utf16, 'utf16le')]));
    seed('encryption-context', `encode-utf8-${i}`, Buffer.concat([Buffer.from([1]), Buffer.from(utf16, 'utf8')]));
  }
}

async function sigv4Requests() {
  const { SignatureV4 } = require('@smithy/signature-v4');
  // node:crypto as the signer's SHA-256 and HMAC (the SDK's default is the same algorithm).
  class NodeHash {
    constructor(secret) {
      this.h = secret === undefined ? crypto.createHash('sha256') : crypto.createHmac('sha256', secret);
    }
    update(data) {
      this.h.update(data);
    }
    async digest() {
      return this.h.digest();
    }
  }
  const signer = new SignatureV4({ service: 'kms', region: REGION, credentials: CREDENTIAL, sha256: NodeHash });
  const bodies = [
    { KeyId: 'alias/fuzz', Plaintext: Buffer.from('hello').toString('base64'), EncryptionContext: { a: 'b' } },
    { CiphertextBlob: crypto.randomBytes(60).toString('base64'), GrantTokens: [] },
    { KeyId: 'k', Tags: [{ TagKey: 'a', TagValue: 'b' }], Nested: { Member: 1 } },
    {},
  ];
  for (const [i, body] of bodies.entries()) {
    const text = JSON.stringify(body);
    const headers = { host: 'localhost:8080', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt' };
    const signed = await signer.sign(
      { method: 'POST', protocol: 'http:', hostname: 'localhost', port: 8080, path: i === 3 ? '/a%20b/c' : '/', query: i === 3 ? { x: 'y z', a: '1' } : {}, headers, body: text },
      { signingDate: new Date(NOW) },
    );
    const query = Object.entries(signed.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    seed('sigv4', `signed-${i}`, encodeRequest({ method: 'POST', url: query ? `${signed.path}?${query}` : signed.path, headers: signed.headers, body: text }));
  }
}

function nativeSeeds() {
  // fuzz_aes_kwp: byte 0 = mode (0x80 wrap) | KEK size index (2: 32 bytes), KEK = pattern(0x5a).
  for (const [i, len] of [1, 8, 32, 100].entries()) {
    const cipher = crypto.createCipheriv('id-aes256-wrap-pad', pattern(32, 0x5a), Buffer.from('a65959a6', 'hex'));
    const wrapped = Buffer.concat([cipher.update(crypto.randomBytes(len)), cipher.final()]);
    seed('fuzz_aes_kwp', `unwrap-${i}`, Buffer.concat([Buffer.from([2]), wrapped]));
    seed('fuzz_aes_kwp', `wrap-${i}`, Buffer.concat([Buffer.from([0x82]), crypto.randomBytes(len)]));
  }
  // fuzz_sealed_domain_key: byte 0 mode, u32 version, then the 61-byte reference.
  for (const version of [1, 7]) {
    const aad = Buffer.concat([Buffer.from('hsmkms:soft:domain-key'), Buffer.from([1]), u32(version)]);
    const reference = Buffer.concat([Buffer.from([1]), gcmSeal(pattern(32, 0x21), crypto.randomBytes(32), aad)]);
    seed('fuzz_sealed_domain_key', `unseal-${version}`, Buffer.concat([Buffer.from([0]), u32(version), reference]));
    seed('fuzz_sealed_domain_key', `seal-${version}`, Buffer.concat([Buffer.from([1]), u32(version), crypto.randomBytes(32)]));
  }
  // fuzz_aes_gcm_open: byte 0 = mode (low 2 bits) | AAD length << 2, AAD, sealed bytes.
  for (const [i, len] of [0, 16, 32, 200].entries()) {
    const aad = Buffer.from('aad-fuzz');
    const sealed = gcmSeal(pattern(32, 0x42), crypto.randomBytes(len), aad);
    seed('fuzz_aes_gcm_open', `open-${i}`, Buffer.concat([Buffer.from([(aad.length << 2) | (len === 32 ? 1 : 0)]), aad, sealed]));
  }
  // Keys for the PKCS#8 / SPKI / encoder / OAEP targets.
  const keys = [
    ['rsa', { modulusLength: 2048 }, 0],
    ['ec', { namedCurve: 'P-256' }, 3],
    ['ec', { namedCurve: 'P-384' }, 4],
  ];
  for (const [type, options, specIndex] of keys) {
    const { publicKey, privateKey } = crypto.generateKeyPairSync(type, options);
    const name = type === 'rsa' ? 'rsa2048' : options.namedCurve;
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    seed('fuzz_private_key', name, Buffer.concat([Buffer.from([specIndex]), pkcs8]));
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const digest = crypto.createHash('sha256').update('fuzz').digest();
    const signature = type === 'rsa'
      ? crypto.sign(null, digest, { key: privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      : crypto.sign('sha256', Buffer.from('fuzz'), privateKey);
    seed('fuzz_public_key', name, Buffer.concat([u16(spki.length), spki, signature]));
    const jwk = publicKey.export({ format: 'jwk' });
    if (type === 'ec') {
      const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
      seed('fuzz_spki_encode', `point-${name}`, Buffer.concat([Buffer.from([specIndex === 3 ? 1 : 2]), point]));
      seed('fuzz_spki_encode', `octet-${name}`, Buffer.concat([Buffer.from([specIndex === 3 ? 1 : 2, 4, point.length]), point]));
      const rs = crypto.sign('sha256', Buffer.from('fuzz'), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      seed('fuzz_spki_encode', `ecdsa-${name}`, Buffer.concat([Buffer.from([0]), rs]));
    } else {
      const e = Buffer.from(jwk.e, 'base64url');
      seed('fuzz_spki_encode', 'rsa', Buffer.concat([Buffer.from([3, e.length]), e, Buffer.from(jwk.n, 'base64url')]));
      // fuzz_oaep_decode: the raw RSA result of an OAEP ciphertext (what the token returns).
      for (const [hashIndex, oaepHash] of [[0, 'sha1'], [1, 'sha256']]) {
        const ciphertext = crypto.publicEncrypt({ key: publicKey, oaepHash }, Buffer.from('fuzz data key'));
        const em = crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_NO_PADDING }, ciphertext);
        seed('fuzz_oaep_decode', `${oaepHash}`, Buffer.concat([Buffer.from([hashIndex | 2]), em]));
      }
    }
  }
}

(async () => {
  fs.mkdirSync(out, { recursive: true });
  await ciphertextBlobs();
  await messages();
  encryptionContexts();
  await sigv4Requests();
  nativeSeeds();
  console.error(`make-seeds: ${written} seeds in ${out}`);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
