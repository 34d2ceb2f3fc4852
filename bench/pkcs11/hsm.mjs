// HSM operations through hsmkms against pkcs11js, in one run on the same
// SoftHSM2 token (made fresh in a temporary directory): random 32 B,
// AES-256-GCM encrypt/decrypt 32 B and 4 KiB with an unwrapped session-object
// key, unwrap (+ GCM 32 B + destroy), RSA-2048 OAEP decrypt, ECDSA P-256 sign.
//
//   hsmkms      async, 1 and 8 in flight (a root with 2 HSM threads, the default)
//   pkcs11js    sync loop, and async (C_*Init on the JS thread, the operation
//               on libuv's pool) with 1 and 8 in flight (8 sessions); for
//               AES-GCM 32 B also its sync loop on a token-object key
//
// pkcs11js lives in the same process and uses the module hsmkms initialised
// (with CKF_OS_LOCKING_OK: without it SoftHSM crashes under threads). Keys:
// pkcs11js unwraps the same CMK blobs under the same domain key, so both use
// identical session objects.
//
// Every case reports ops/s and per-call p50/p99 latency; the async ones also
// the event-loop delay p99 (monitorEventLoopDelay) while they ran. Cases run
// in rounds in interleaved order (reversed on odd rounds): values are medians
// over rounds, ratios medians of per-round ratios.
//
// Thread scaling (RSA-2048 decrypt, ECDSA P-256 sign, and AES-GCM 32 B for
// reference) runs in fresh child processes (bench/pkcs11/threads.mjs) with 1
// and 2 HSM threads, alternating, for privateSessionKeys true (the default)
// and false.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT_DIR, cores, emit, log, median, parseSuiteArgs } from '../lib/common.mjs';
import { runInRounds, runLatencyCase, summarizeRounds } from '../lib/latency.mjs';
import { makeSoftHsmToken, openPkcs11js, softhsmVersion } from '../lib/softhsm.mjs';

const require = createRequire(import.meta.url);
const args = parseSuiteArgs();
const cfg = args.quick
  ? { rounds: 1, windowMs: 150, warmupMs: 40, scalingRounds: 1, scalingMs: 500 }
  : { rounds: 3, windowMs: 500, warmupMs: 120, scalingRounds: 5, scalingMs: 1500 };
const HERE = path.dirname(fileURLToPath(import.meta.url));

// --- The token -------------------------------------------------------------------------------
const { module: MODULE, label: LABEL, pin: PIN } = makeSoftHsmToken({ label: 'hsmkms-bench', prefix: 'hsmkms-bench-p11-' });

// --- hsmkms ------------------------------------------------------------------------------------
const { openPkcs11Root } = require(path.join(ROOT_DIR, 'dist', 'root', 'index.js'));
const root = await openPkcs11Root({ module: MODULE, tokenLabel: LABEL, pin: PIN, threads: 2 });
const uncached = await openPkcs11Root({ module: MODULE, tokenLabel: LABEL, pin: PIN, threads: 2, keyCacheCapacity: 0 });
await root.createDomainKey(1);
const named = (g, id) => ({ id, version: 1, domainVersion: g.domainVersion, keySpec: g.keySpec, keyUsage: g.keyUsage, algorithm: g.algorithm, blob: g.blob });
const aesGen = await root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1);
const rsaGen = await root.generateKey('RSA_2048', 'ENCRYPT_DECRYPT', 1);
const ecGen = await root.generateKey('ECC_NIST_P256', 'SIGN_VERIFY', 1);
const aesKey = named(aesGen, 'bench-aes');
const rsaKey = named(rsaGen, 'bench-rsa');
const ecKey = named(ecGen, 'bench-ec');

const AAD = Buffer.from('bench encryption context');
const IV = crypto.randomBytes(12);
const input = { 32: crypto.randomBytes(32), 4096: crypto.randomBytes(4096) };
const sealed = {};
for (const size of [32, 4096]) sealed[size] = (await root.encrypt(aesKey, IV, AAD, input[size])).ciphertext;
const rsaCiphertext = await root.encryptOaep(rsaGen.publicKey, 'RSAES_OAEP_SHA_1', crypto.randomBytes(32));
const digest = crypto.createHash('sha256').update('message').digest();

// --- pkcs11js ----------------------------------------------------------------------------------
const { pkcs11js, p11, sessions, findOne, version: pkcs11jsVersion, close: closePkcs11js } = openPkcs11js({ module: MODULE, label: LABEL, pin: PIN, sessions: 8 });
const s0 = sessions[0];
const dk = findOne([{ type: pkcs11js.CKA_LABEL, value: 'hsmkms:domain:1' }]);
const KWP = { mechanism: 0x210a };
const T = true;
const F = false;
const common = [
  { type: pkcs11js.CKA_TOKEN, value: F }, { type: pkcs11js.CKA_PRIVATE, value: T }, { type: pkcs11js.CKA_SENSITIVE, value: T },
  { type: pkcs11js.CKA_EXTRACTABLE, value: F }, { type: pkcs11js.CKA_COPYABLE, value: F },
];
const aesTemplate = [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES }, ...common,
  { type: pkcs11js.CKA_ENCRYPT, value: T }, { type: pkcs11js.CKA_DECRYPT, value: T },
];
const p11Aes = p11.C_UnwrapKey(s0, KWP, dk, Buffer.from(aesKey.blob), aesTemplate);
const p11Rsa = p11.C_UnwrapKey(s0, KWP, dk, Buffer.from(rsaKey.blob), [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA }, ...common,
  { type: pkcs11js.CKA_DECRYPT, value: T },
]);
const p11Ec = p11.C_UnwrapKey(s0, KWP, dk, Buffer.from(ecKey.blob), [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }, ...common,
  { type: pkcs11js.CKA_SIGN, value: T },
]);
// The reference point: pkcs11js's sync loop on a token-object key.
const p11TokenAes = p11.C_GenerateKey(s0, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
  { type: pkcs11js.CKA_VALUE_LEN, value: 32 }, { type: pkcs11js.CKA_TOKEN, value: T }, { type: pkcs11js.CKA_PRIVATE, value: T },
  { type: pkcs11js.CKA_SENSITIVE, value: T }, { type: pkcs11js.CKA_EXTRACTABLE, value: F }, { type: pkcs11js.CKA_ENCRYPT, value: T },
  { type: pkcs11js.CKA_DECRYPT, value: T }, { type: pkcs11js.CKA_LABEL, value: 'bench-token-key' },
]);
const gcm = { mechanism: pkcs11js.CKM_AES_GCM, parameter: { type: pkcs11js.CK_PARAMS_GCM, iv: IV, aad: AAD, ivBits: 96, tagBits: 128 } };
const oaep = { mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter: { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: pkcs11js.CKM_SHA_1, mgf: pkcs11js.CKG_MGF1_SHA1, source: 1 } };
const ecdsa = { mechanism: pkcs11js.CKM_ECDSA };

// pkcs11js operations: `sync(session)` and `async(session)` per case.
const P11 = {
  random32: { sync: (s) => p11.C_GenerateRandom(s, Buffer.allocUnsafe(32)) },
  'gcm-enc-32': gcmEncrypt(32, p11Aes),
  'gcm-enc-4k': gcmEncrypt(4096, p11Aes),
  'gcm-dec-32': gcmDecrypt(32),
  'gcm-dec-4k': gcmDecrypt(4096),
  unwrap: {
    sync: (s) => {
      const k = p11.C_UnwrapKey(s, KWP, dk, Buffer.from(aesKey.blob), aesTemplate);
      p11.C_EncryptInit(s, gcm, k);
      p11.C_Encrypt(s, input[32], Buffer.allocUnsafe(48));
      p11.C_DestroyObject(s, k);
    },
    async: async (s) => {
      const k = await p11.C_UnwrapKeyAsync(s, KWP, dk, Buffer.from(aesKey.blob), aesTemplate);
      p11.C_EncryptInit(s, gcm, k);
      await p11.C_EncryptAsync(s, input[32], Buffer.allocUnsafe(48));
      p11.C_DestroyObject(s, k);
    },
  },
  'rsa-dec': {
    sync: (s) => {
      p11.C_DecryptInit(s, oaep, p11Rsa);
      return p11.C_Decrypt(s, rsaCiphertext, Buffer.allocUnsafe(256));
    },
    async: (s) => {
      p11.C_DecryptInit(s, oaep, p11Rsa);
      return p11.C_DecryptAsync(s, rsaCiphertext, Buffer.allocUnsafe(256));
    },
  },
  ecdsa: {
    sync: (s) => {
      p11.C_SignInit(s, ecdsa, p11Ec);
      return p11.C_Sign(s, digest, Buffer.allocUnsafe(64));
    },
    async: (s) => {
      p11.C_SignInit(s, ecdsa, p11Ec);
      return p11.C_SignAsync(s, digest, Buffer.allocUnsafe(64));
    },
  },
};
function gcmEncrypt(size, key) {
  return {
    sync: (s, k = key) => {
      p11.C_EncryptInit(s, gcm, k);
      return p11.C_Encrypt(s, input[size], Buffer.allocUnsafe(size + 16));
    },
    async: (s) => {
      p11.C_EncryptInit(s, gcm, key);
      return p11.C_EncryptAsync(s, input[size], Buffer.allocUnsafe(size + 16));
    },
  };
}
function gcmDecrypt(size) {
  return {
    sync: (s) => {
      p11.C_DecryptInit(s, gcm, p11Aes);
      return p11.C_Decrypt(s, sealed[size], Buffer.allocUnsafe(size + 16));
    },
    async: (s) => {
      p11.C_DecryptInit(s, gcm, p11Aes);
      return p11.C_DecryptAsync(s, sealed[size], Buffer.allocUnsafe(size + 16));
    },
  };
}

// hsmkms operations per case.
const HSMKMS = {
  random32: () => root.generateRandom(32),
  'gcm-enc-32': () => root.encrypt(aesKey, IV, AAD, input[32]),
  'gcm-enc-4k': () => root.encrypt(aesKey, IV, AAD, input[4096]),
  'gcm-dec-32': () => root.decrypt(aesKey, IV, AAD, sealed[32]),
  'gcm-dec-4k': () => root.decrypt(aesKey, IV, AAD, sealed[4096]),
  unwrap: () => uncached.encrypt(aesKey, IV, AAD, input[32]),
  'rsa-dec': () => root.rsaDecrypt(rsaKey, 'RSAES_OAEP_SHA_1', rsaCiphertext),
  ecdsa: () => root.sign(ecKey, 'ECDSA_SHA_256', 'DIGEST', digest),
};

const OPS = [
  { id: 'random32', label: 'random 32 B' },
  { id: 'gcm-enc-32', label: 'AES-GCM encrypt 32 B' },
  { id: 'gcm-dec-32', label: 'AES-GCM decrypt 32 B' },
  { id: 'gcm-enc-4k', label: 'AES-GCM encrypt 4 KiB' },
  { id: 'gcm-dec-4k', label: 'AES-GCM decrypt 4 KiB' },
  { id: 'unwrap', label: 'unwrap CMK + AES-GCM 32 B + destroy' },
  { id: 'rsa-dec', label: 'RSA-2048 OAEP (SHA-1) decrypt' },
  { id: 'ecdsa', label: 'ECDSA P-256 sign (digest)' },
];
const VARIANTS = [
  { id: 'hsmkms-1', label: 'hsmkms async, 1 in flight', inFlight: 1, hsmkms: true },
  { id: 'hsmkms-8', label: 'hsmkms async, 8 in flight', inFlight: 8, hsmkms: true },
  { id: 'pkcs11js-sync', label: 'pkcs11js sync loop', sync: true },
  { id: 'pkcs11js-async-1', label: 'pkcs11js async, 1 in flight', inFlight: 1 },
  { id: 'pkcs11js-async-8', label: 'pkcs11js async, 8 in flight (8 sessions)', inFlight: 8 },
  { id: 'pkcs11js-sync-token', label: 'pkcs11js sync loop, token-object key', sync: true, only: 'gcm-enc-32' },
];

function startOf(op, variant) {
  if (variant.hsmkms) return HSMKMS[op];
  const p = P11[op];
  if (variant.id === 'pkcs11js-sync-token') return (s) => p.sync(s, p11TokenAes);
  return variant.sync ? p.sync : p.async;
}

function cases() {
  const out = [];
  for (const op of OPS) {
    for (const v of VARIANTS) {
      if (v.only && v.only !== op.id) continue;
      if (!v.sync && !v.hsmkms && !P11[op.id].async) continue; // pkcs11js has no async C_GenerateRandom
      out.push({ op, variant: v, id: `${op.id}/${v.id}` });
    }
  }
  return out;
}

/** Runs one case for `ms` (lane i uses pkcs11js session i). */
function runCase(c, ms) {
  const start = startOf(c.op.id, c.variant);
  return runLatencyCase({ start: (i) => start(sessions[i]), inFlight: c.variant.inFlight, sync: c.variant.sync, ms });
}

// --- The in-process table ----------------------------------------------------------------------
const CASES = cases();
const t0 = Date.now();
const results = await runInRounds({
  name: 'pkcs11', cases: CASES.map((c) => ({ id: c.id, run: (ms) => runCase(c, ms) })),
  rounds: cfg.rounds, warmupMs: cfg.warmupMs, windowMs: cfg.windowMs,
});

const rows = CASES.map((c) => {
  return {
    suite: 'pkcs11',
    id: c.id,
    op: c.op.id,
    opLabel: c.op.label,
    variant: c.variant.id,
    case: c.variant.label,
    hsmkms: Boolean(c.variant.hsmkms),
    ...summarizeRounds(results.get(c.id)),
  };
});
const hsmkmsStats = await root.stats();
// pkcs11js first: closing the last hsmkms root finalizes the module hsmkms initialised.
closePkcs11js();
await uncached.close();
await root.close();

// --- Thread scaling in fresh children -----------------------------------------------------------
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const keyArg = JSON.stringify({
  aes: { ...aesKey, blob: hex(aesKey.blob) },
  rsa: { ...rsaKey, blob: hex(rsaKey.blob) },
  ec: { ...ecKey, blob: hex(ecKey.blob) },
  rsaCiphertext: hex(rsaCiphertext),
  digest: hex(digest),
  iv: hex(IV),
  aad: hex(AAD),
});
function runChild(threads, privateSessionKeys) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, 'threads.mjs')], {
      cwd: ROOT_DIR,
      env: {
        ...process.env,
        HSMKMS_HSM_THREADS: String(threads),
        BENCH_P11_THREADS: String(threads),
        BENCH_P11_PRIVATE: privateSessionKeys ? '1' : '0',
        BENCH_P11_MS: String(cfg.scalingMs),
        BENCH_P11_KEYS: keyArg,
        BENCH_P11_MODULE: MODULE,
        BENCH_P11_LABEL: LABEL,
        BENCH_P11_PIN: PIN,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`threads child exited ${code}`))));
  });
}
const CONFIGS = [
  { threads: 1, privateSessionKeys: true },
  { threads: 2, privateSessionKeys: true },
  { threads: 1, privateSessionKeys: false },
  { threads: 2, privateSessionKeys: false },
];
const scalingRuns = CONFIGS.map(() => []);
for (let r = 0; r < cfg.scalingRounds; r++) {
  const order = r % 2 ? [3, 2, 1, 0] : [0, 1, 2, 3];
  for (const i of order) scalingRuns[i].push(await runChild(CONFIGS[i].threads, CONFIGS[i].privateSessionKeys));
  log(`pkcs11: thread scaling round ${r + 1}/${cfg.scalingRounds} done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
const SCALING_OPS = [
  { id: 'rsa-dec', label: 'RSA-2048 OAEP (SHA-1) decrypt' },
  { id: 'ecdsa', label: 'ECDSA P-256 sign (digest)' },
  { id: 'gcm-enc-32', label: 'AES-GCM encrypt 32 B' },
];
// hsmkms AES-GCM 32 B against pkcs11js in the same child, per configuration.
const gcmPeers = CONFIGS.map((config, i) => {
  const runs = scalingRuns[i];
  const ours = runs.map((run) => run['gcm-enc-32'].opsPerSec);
  const syncToken = runs.map((run) => run['pkcs11js-gcm-enc-32-sync-token'].opsPerSec);
  const async8 = runs.map((run) => run['pkcs11js-gcm-enc-32-async-8'].opsPerSec);
  return {
    ...config,
    hsmkms: median(ours),
    pkcs11jsSyncToken: median(syncToken),
    pkcs11jsAsync8: median(async8),
    vsSyncToken: median(ours.map((x, j) => x / syncToken[j])),
    vsAsync8: median(ours.map((x, j) => x / async8[j])),
    eventLoopP99Ms: median(runs.map((run) => run['gcm-enc-32'].eventLoopP99Ms)),
    eventLoopWorstP99Ms: Math.max(...runs.map((run) => run['gcm-enc-32'].eventLoopP99Ms)),
  };
});
const scaling = [];
for (const op of SCALING_OPS) {
  for (const privateSessionKeys of [true, false]) {
    const one = scalingRuns[CONFIGS.findIndex((c) => c.threads === 1 && c.privateSessionKeys === privateSessionKeys)];
    const two = scalingRuns[CONFIGS.findIndex((c) => c.threads === 2 && c.privateSessionKeys === privateSessionKeys)];
    const a = one.map((run) => run[op.id].opsPerSec);
    const b = two.map((run) => run[op.id].opsPerSec);
    scaling.push({
      op: op.id,
      label: op.label,
      privateSessionKeys,
      oneThread: median(a),
      twoThreads: median(b),
      ratio: median(a.map((x, i) => b[i] / x)),
      oneThreadRounds: a,
      twoThreadRounds: b,
      // As the in-process rows: p99 the median over runs, the worst kept too.
      eventLoopP99Ms: median([...one, ...two].map((run) => run[op.id].eventLoopP99Ms)),
      eventLoopWorstP99Ms: Math.max(...[...one, ...two].map((run) => run[op.id].eventLoopP99Ms)),
    });
  }
}

emit(args, {
  suite: 'pkcs11',
  config: {
    ...cfg,
    module: MODULE,
    softhsm: softhsmVersion(),
    pkcs11js: pkcs11jsVersion,
    hsmkmsRoot: 'threads 2 (HSM threads = sessions), keyCacheCapacity 1024, privateSessionKeys true; "unwrap" uses keyCacheCapacity 0',
    pkcs11jsSetup: 'same process, C_Initialize flags CKF_OS_LOCKING_OK, 8 sessions, keys unwrapped from the same blobs with the same template',
    inFlight: 'sliding windows: each lane starts its next call when the previous one settles',
    eventLoop: 'monitorEventLoopDelay resolution 1 ms (includes the 1 ms sampling), per case; sync loops yield every 5 ms',
    scaling: 'fresh child per measurement (HSMKMS_HSM_THREADS = root threads = 1 or 2), 8 in flight, rounds alternate configurations',
    cores: cores(),
    hsmkmsStats,
  },
  durationSec: (Date.now() - t0) / 1000,
  rows,
  scaling,
  gcmPeers,
});
