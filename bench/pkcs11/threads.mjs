// A child of bench/pkcs11/hsm.mjs: one process per thread count, so the
// process-wide HSM thread pool has exactly BENCH_P11_THREADS threads (as many
// as the root has sessions). Measures RSA-2048 OAEP decrypt, ECDSA P-256 sign
// and AES-GCM 32 B encrypt, 8 in flight, with the keys the parent made, and,
// side by side in the same process, pkcs11js's AES-GCM 32 B (its sync loop on
// the token-object key the parent made, and async with 8 in flight on the
// CMK it unwraps itself); prints JSON.
import { createRequire } from 'node:module';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ROOT_DIR, sleep } from '../lib/common.mjs';
import { openPkcs11js } from '../lib/softhsm.mjs';

const require = createRequire(import.meta.url);
const { openPkcs11Root } = require(path.join(ROOT_DIR, 'dist', 'root', 'index.js'));
const env = process.env;
const threads = Number(env.BENCH_P11_THREADS);
const ms = Number(env.BENCH_P11_MS);
const keys = JSON.parse(env.BENCH_P11_KEYS);
const bytes = (hex) => Buffer.from(hex, 'hex');
const key = (k) => ({ ...k, blob: bytes(k.blob) });

const root = await openPkcs11Root({
  module: env.BENCH_P11_MODULE, tokenLabel: env.BENCH_P11_LABEL, pin: env.BENCH_P11_PIN, threads,
  privateSessionKeys: env.BENCH_P11_PRIVATE === '1',
});
const aes = key(keys.aes);
const rsa = key(keys.rsa);
const ec = key(keys.ec);
const iv = bytes(keys.iv);
const aad = bytes(keys.aad);
const rsaCiphertext = bytes(keys.rsaCiphertext);
const digest = bytes(keys.digest);
const plaintext = Buffer.alloc(32, 1);

const OPS = {
  'rsa-dec': () => root.rsaDecrypt(rsa, 'RSAES_OAEP_SHA_1', rsaCiphertext),
  ecdsa: () => root.sign(ec, 'ECDSA_SHA_256', 'DIGEST', digest),
  'gcm-enc-32': () => root.encrypt(aes, iv, aad, plaintext),
};

async function measure(fn, durationMs, inFlight = 8) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(5);
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  let calls = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < deadline) {
      await fn();
      calls++;
    }
  }));
  const elapsed = performance.now() - t0;
  histogram.disable();
  return { opsPerSec: (calls / elapsed) * 1000, eventLoopP99Ms: histogram.percentile(99) / 1e6 };
}

// pkcs11js on the module hsmkms initialised (CKF_OS_LOCKING_OK).
const { pkcs11js, p11, sessions, findOne: findObject, close: closePkcs11js } = openPkcs11js({
  module: env.BENCH_P11_MODULE, label: env.BENCH_P11_LABEL, pin: env.BENCH_P11_PIN, sessions: 8,
});
const findOne = (label) => findObject([{ type: pkcs11js.CKA_LABEL, value: label }]);
const tokenKey = findOne('bench-token-key');
const sessionKey = p11.C_UnwrapKey(sessions[0], { mechanism: 0x210a }, findOne('hsmkms:domain:1'), aes.blob, [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
  { type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_PRIVATE, value: true }, { type: pkcs11js.CKA_SENSITIVE, value: true },
  { type: pkcs11js.CKA_EXTRACTABLE, value: false }, { type: pkcs11js.CKA_COPYABLE, value: false },
  { type: pkcs11js.CKA_ENCRYPT, value: true }, { type: pkcs11js.CKA_DECRYPT, value: true },
]);
const gcm = { mechanism: pkcs11js.CKM_AES_GCM, parameter: { type: pkcs11js.CK_PARAMS_GCM, iv, aad, ivBits: 96, tagBits: 128 } };

function measureSync(durationMs) {
  const s = sessions[0];
  const t0 = performance.now();
  let calls = 0;
  while (performance.now() - t0 < durationMs) {
    p11.C_EncryptInit(s, gcm, tokenKey);
    p11.C_Encrypt(s, plaintext, Buffer.allocUnsafe(48));
    calls++;
  }
  return { opsPerSec: (calls / (performance.now() - t0)) * 1000 };
}

async function measurePkcs11jsAsync(durationMs) {
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  let calls = 0;
  await Promise.all(sessions.map(async (s) => {
    while (performance.now() < deadline) {
      p11.C_EncryptInit(s, gcm, sessionKey);
      await p11.C_EncryptAsync(s, plaintext, Buffer.allocUnsafe(48));
      calls++;
    }
  }));
  return { opsPerSec: (calls / (performance.now() - t0)) * 1000 };
}

const out = {};
for (const [id, fn] of Object.entries(OPS)) {
  await measure(fn, Math.min(200, ms / 4)); // warm-up: unwrap, sessions, JIT
  out[id] = await measure(fn, ms);
}
measureSync(Math.min(200, ms / 4));
out['pkcs11js-gcm-enc-32-sync-token'] = measureSync(ms);
await measurePkcs11jsAsync(Math.min(200, ms / 4));
out['pkcs11js-gcm-enc-32-async-8'] = await measurePkcs11jsAsync(ms);
closePkcs11js();
await root.close();
process.stdout.write(JSON.stringify(out));
