// The pkcs11js side of the kms suite: the raw PKCS#11 calls a KMS operation
// stands for, on token objects (CKA_TOKEN true) of the same SoftHSM2 token.
// Each op has `sync(session)` (its sync loop, "1 in flight") and, where
// pkcs11js has an async call, `async(session)` (C_*Init on the JS thread, the
// operation on libuv's pool; one session per lane).
import crypto from 'node:crypto';
import { openPkcs11js } from '../lib/softhsm.mjs';

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');

/** Opens pkcs11js with `sessions` sessions, makes its token keys, returns { ops, close, version, methods }. */
export function openRawPkcs11({ token, sessions: count, input, aad }) {
  const { pkcs11js: P, p11, sessions, close, version } = openPkcs11js({ ...token, sessions: count });
  const s0 = sessions[0];
  const attrs = (o) => Object.entries(o).map(([k, value]) => ({ type: P[k], value }));
  const aes = p11.C_GenerateKey(s0, { mechanism: P.CKM_AES_KEY_GEN }, attrs({
    CKA_CLASS: P.CKO_SECRET_KEY, CKA_KEY_TYPE: P.CKK_AES, CKA_VALUE_LEN: 32, CKA_TOKEN: true, CKA_PRIVATE: true,
    CKA_SENSITIVE: true, CKA_EXTRACTABLE: false, CKA_ENCRYPT: true, CKA_DECRYPT: true, CKA_LABEL: 'bench-raw-aes',
  }));
  const ec = p11.C_GenerateKeyPair(s0, { mechanism: P.CKM_EC_KEY_PAIR_GEN },
    attrs({ CKA_TOKEN: true, CKA_VERIFY: true, CKA_EC_PARAMS: P256_OID, CKA_LABEL: 'bench-raw-ec' }),
    attrs({ CKA_TOKEN: true, CKA_PRIVATE: true, CKA_SENSITIVE: true, CKA_EXTRACTABLE: false, CKA_SIGN: true, CKA_LABEL: 'bench-raw-ec' }));

  const hmac = p11.C_GenerateKey(s0, { mechanism: P.CKM_GENERIC_SECRET_KEY_GEN }, attrs({
    CKA_CLASS: P.CKO_SECRET_KEY, CKA_KEY_TYPE: P.CKK_GENERIC_SECRET, CKA_VALUE_LEN: 32, CKA_TOKEN: true, CKA_PRIVATE: true,
    CKA_SENSITIVE: true, CKA_EXTRACTABLE: false, CKA_SIGN: true, CKA_VERIFY: true, CKA_LABEL: 'bench-raw-hmac',
  }));

  const iv = crypto.randomBytes(12);
  const gcm = { mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_GCM, iv, aad, ivBits: 96, tagBits: 128 } };
  const sealed = {};
  for (const size of [32, 4096]) {
    p11.C_EncryptInit(s0, gcm, aes);
    sealed[size] = Buffer.from(p11.C_Encrypt(s0, input[size], Buffer.alloc(size + 16)));
  }
  const message = input[32];
  const encrypt = (size) => ({
    sync: (s) => {
      p11.C_EncryptInit(s, gcm, aes);
      return p11.C_Encrypt(s, input[size], Buffer.allocUnsafe(size + 16));
    },
    async: (s) => {
      p11.C_EncryptInit(s, gcm, aes);
      return p11.C_EncryptAsync(s, input[size], Buffer.allocUnsafe(size + 16));
    },
  });
  const decrypt = (size) => ({
    sync: (s) => {
      p11.C_DecryptInit(s, gcm, aes);
      return p11.C_Decrypt(s, sealed[size], Buffer.allocUnsafe(size + 16));
    },
    async: (s) => {
      p11.C_DecryptInit(s, gcm, aes);
      return p11.C_DecryptAsync(s, sealed[size], Buffer.allocUnsafe(size + 16));
    },
  });
  const dataKey = {
    sync: (s) => {
      const key = p11.C_GenerateRandom(s, Buffer.allocUnsafe(32));
      p11.C_GenerateRandom(s, Buffer.allocUnsafe(12));
      p11.C_EncryptInit(s, gcm, aes);
      return p11.C_Encrypt(s, key, Buffer.allocUnsafe(48));
    },
    async: (s) => {
      const key = p11.C_GenerateRandom(s, Buffer.allocUnsafe(32));
      p11.C_GenerateRandom(s, Buffer.allocUnsafe(12));
      p11.C_EncryptInit(s, gcm, aes);
      return p11.C_EncryptAsync(s, key, Buffer.allocUnsafe(48));
    },
  };
  const sha256 = (m) => crypto.createHash('sha256').update(m).digest();
  const sign = {
    sync: (s) => {
      p11.C_SignInit(s, { mechanism: P.CKM_ECDSA }, ec.privateKey);
      return p11.C_Sign(s, sha256(message), Buffer.allocUnsafe(64));
    },
    async: (s) => {
      p11.C_SignInit(s, { mechanism: P.CKM_ECDSA }, ec.privateKey);
      return p11.C_SignAsync(s, sha256(message), Buffer.allocUnsafe(64));
    },
  };
  const mac = {
    sync: (s) => {
      p11.C_SignInit(s, { mechanism: P.CKM_SHA256_HMAC }, hmac);
      return p11.C_Sign(s, message, Buffer.allocUnsafe(32));
    },
    async: (s) => {
      p11.C_SignInit(s, { mechanism: P.CKM_SHA256_HMAC }, hmac);
      return p11.C_SignAsync(s, message, Buffer.allocUnsafe(32));
    },
  };
  return {
    version,
    sessions,
    close,
    ops: {
      'encrypt-32': encrypt(32),
      'encrypt-4k': encrypt(4096),
      'decrypt-32': decrypt(32),
      'decrypt-4k': decrypt(4096),
      'data-key': dataKey,
      'random-32': { sync: (s) => p11.C_GenerateRandom(s, Buffer.allocUnsafe(32)) },
      sign,
      mac,
    },
    // What each row's pkcs11js side does (the report prints it).
    methods: {
      'encrypt-32': 'C_EncryptInit + C_Encrypt, CKM_AES_GCM (12-byte IV, 128-bit tag, the same AAD each call), token AES-256 key',
      'encrypt-4k': 'as encrypt 32 B',
      'decrypt-32': 'C_DecryptInit + C_Decrypt, CKM_AES_GCM, token AES-256 key',
      'decrypt-4k': 'as decrypt 32 B',
      'data-key': 'C_GenerateRandom 32 B (the key) + C_GenerateRandom 12 B (the IV) + C_EncryptInit + C_Encrypt AES-GCM of the 32 B; only the encrypt async',
      'random-32': 'C_GenerateRandom 32 B (pkcs11js has no async C_GenerateRandom)',
      sign: 'SHA-256 of the 32 B message in JS (node:crypto, on the JS thread) + C_SignInit CKM_ECDSA + C_Sign, token P-256 key',
      mac: 'C_SignInit CKM_SHA256_HMAC + C_Sign of the 32 B message, token 256-bit generic secret key',
    },
  };
}
