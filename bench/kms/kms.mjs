// The kms suite: whole KMS operations (request checks, key resolver, blob
// format, encryption context, audit trail) through Kms on a fresh SoftHSM2
// token, against pkcs11js doing the equivalent raw calls on token objects of
// the same token, in one process and one run:
//
//   encrypt / decrypt 32 B and 4 KiB (encryption context of two pairs),
//   generateDataKey AES_256, generateRandom 32 B, sign ECDSA_SHA_256 (32 B RAW message),
//   generateMac HMAC_SHA_256 (32 B message)
//
//   hsmkms     Kms (SQLite store in a temp dir, audit group commit 100 ms,
//              default HSM threads), 1 and 64 in flight; encrypt and decrypt
//              32 B also on a second Kms with privateSessionKeys false (SoftHSM
//              decrypts a private key object under its token-wide lock on
//              every use; real HSMs show no such cost)
//   pkcs11js   sync loop ("1 in flight"), and async with 64 in flight (64
//              sessions) where pkcs11js has an async call
//
// Every case reports ops/s, per-call p50/p99 latency and the event-loop delay
// p99 while it ran. Cases run in rounds in interleaved order (reversed on odd
// rounds): values are medians over rounds, ratios medians of per-round ratios.
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { cores, emit, loadHsmkms, parseSuiteArgs } from '../lib/common.mjs';
import { runInRounds, runLatencyCase, summarizeRounds } from '../lib/latency.mjs';
import { makeSoftHsmToken, softhsmVersion } from '../lib/softhsm.mjs';
import { openRawPkcs11 } from './raw-pkcs11.mjs';

const args = parseSuiteArgs();
const cfg = args.quick ? { rounds: 1, windowMs: 200, warmupMs: 50 } : { rounds: 3, windowMs: 600, warmupMs: 150 };
const IN_FLIGHT = 64;

const token = makeSoftHsmToken({ label: 'hsmkms-bench-kms', prefix: 'hsmkms-bench-kms-' });
const storeDir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-bench-kms-store-'));
process.on('exit', () => rmSync(storeDir, { recursive: true, force: true }));

// --- hsmkms: one Kms on the token ------------------------------------------------------------
const { Kms } = loadHsmkms();
const privateSessionKeys = process.env.HSMKMS_BENCH_PRIVATE_SESSION_KEYS !== '0';
const openKms = (privateKeys, file) => Kms.open({
  root: { pkcs11: { module: token.module, tokenLabel: token.label, pin: token.pin, privateSessionKeys: privateKeys } },
  store: path.join(storeDir, file),
});
const kms = await openKms(privateSessionKeys, 'kms.db');
const publicKms = await openKms(false, 'kms-public.db');
const aesId = (await kms.createKey({ keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT' })).keyMetadata.keyId;
const ecId = (await kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' })).keyMetadata.keyId;
const hmacId = (await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' })).keyMetadata.keyId;
const encryptionContext = { tenant: 'bench', purpose: 'kms-suite' };
const input = { 32: crypto.randomBytes(32), 4096: crypto.randomBytes(4096) };
const blobs = {};
for (const size of [32, 4096]) blobs[size] = (await kms.encrypt({ keyId: aesId, plaintext: input[size], encryptionContext })).ciphertextBlob;

const HSMKMS = {
  'encrypt-32': () => kms.encrypt({ keyId: aesId, plaintext: input[32], encryptionContext }),
  'encrypt-4k': () => kms.encrypt({ keyId: aesId, plaintext: input[4096], encryptionContext }),
  'decrypt-32': () => kms.decrypt({ ciphertextBlob: blobs[32], encryptionContext }),
  'decrypt-4k': () => kms.decrypt({ ciphertextBlob: blobs[4096], encryptionContext }),
  'data-key': () => kms.generateDataKey({ keyId: aesId, keySpec: 'AES_256', encryptionContext }),
  'random-32': () => kms.generateRandom({ numberOfBytes: 32 }),
  sign: () => kms.sign({ keyId: ecId, message: input[32], messageType: 'RAW', signingAlgorithm: 'ECDSA_SHA_256' }),
  mac: () => kms.generateMac({ keyId: hmacId, message: input[32], macAlgorithm: 'HMAC_SHA_256' }),
};
const publicAesId = (await publicKms.createKey({ keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT' })).keyMetadata.keyId;
const publicBlob = (await publicKms.encrypt({ keyId: publicAesId, plaintext: input[32], encryptionContext })).ciphertextBlob;
const HSMKMS_PUBLIC = {
  'encrypt-32': () => publicKms.encrypt({ keyId: publicAesId, plaintext: input[32], encryptionContext }),
  'decrypt-32': () => publicKms.decrypt({ ciphertextBlob: publicBlob, encryptionContext }),
};

// Batches: 1000 items of 32 B per call (ops/s counts items), each item with the same context as above.
const BATCH = 1000;
const batchBlobs = (await kms.encryptBatch({ keyId: aesId, items: Array.from({ length: BATCH }, () => ({ plaintext: input[32], encryptionContext })) })).results;
const HSMKMS_BATCH = {
  'encrypt-32': () => kms.encryptBatch({ keyId: aesId, items: Array.from({ length: BATCH }, () => ({ plaintext: input[32], encryptionContext })) }),
  'decrypt-32': () => kms.decryptBatch({ items: batchBlobs.map((r) => ({ ciphertextBlob: r.ciphertextBlob, encryptionContext })) }),
};

// --- pkcs11js on the same token (the module Kms initialised) ---------------------------------
const raw = openRawPkcs11({ token, sessions: IN_FLIGHT, input, aad: Buffer.from(JSON.stringify(encryptionContext)) });

const OPS = [
  { id: 'encrypt-32', label: 'encrypt 32 B' },
  { id: 'encrypt-4k', label: 'encrypt 4 KiB' },
  { id: 'decrypt-32', label: 'decrypt 32 B' },
  { id: 'decrypt-4k', label: 'decrypt 4 KiB' },
  { id: 'data-key', label: 'generateDataKey AES_256' },
  { id: 'random-32', label: 'generateRandom 32 B' },
  { id: 'sign', label: 'sign ECDSA_SHA_256 (32 B message)' },
  { id: 'mac', label: 'generateMac HMAC_SHA_256 (32 B message)' },
];
const VARIANTS = [
  { id: 'hsmkms-1', label: 'hsmkms Kms, 1 in flight', hsmkms: true, inFlight: 1 },
  { id: `hsmkms-${IN_FLIGHT}`, label: `hsmkms Kms, ${IN_FLIGHT} in flight`, hsmkms: true, inFlight: IN_FLIGHT },
  { id: `hsmkms-${IN_FLIGHT}-public`, label: `hsmkms Kms, ${IN_FLIGHT} in flight, privateSessionKeys false`, hsmkms: true, inFlight: IN_FLIGHT, public: true },
  { id: 'hsmkms-batch', label: `hsmkms Kms.encryptBatch / decryptBatch, ${BATCH} items per call, 2 calls in flight (ops/s: items; latency: per call)`, hsmkms: true, inFlight: 2, batch: BATCH },
  { id: 'pkcs11js-sync', label: 'pkcs11js sync loop', sync: true },
  { id: `pkcs11js-async-${IN_FLIGHT}`, label: `pkcs11js async, ${IN_FLIGHT} in flight (${IN_FLIGHT} sessions)`, inFlight: IN_FLIGHT },
];

function startOf(op, variant) {
  if (variant.batch) return HSMKMS_BATCH[op];
  if (variant.public) return HSMKMS_PUBLIC[op];
  if (variant.hsmkms) return HSMKMS[op];
  const p = raw.ops[op];
  const fn = variant.sync ? p.sync : p.async;
  return fn && ((lane) => fn(raw.sessions[lane]));
}

const CASES = [];
for (const op of OPS) {
  for (const variant of VARIANTS) {
    const start = startOf(op.id, variant);
    if (!start) continue; // pkcs11js has no async C_GenerateRandom
    CASES.push({ op, variant, id: `${op.id}/${variant.id}`, run: (ms) => runLatencyCase({ start, inFlight: variant.inFlight, sync: variant.sync, ms }) });
  }
}

const t0 = Date.now();
const results = await runInRounds({ name: 'kms', cases: CASES, rounds: cfg.rounds, warmupMs: cfg.warmupMs, windowMs: cfg.windowMs });
/** A batch call's figures in items: ops/s (and each round's) times the items per call. */
function perItem(summary, items) {
  if (!items) return summary;
  return { ...summary, opsPerSec: summary.opsPerSec * items, rounds: summary.rounds.map((v) => v * items), itemsPerCall: items };
}
const rows = CASES.map((c) => ({
  suite: 'kms',
  id: c.id,
  op: c.op.id,
  opLabel: c.op.label,
  variant: c.variant.id,
  case: c.variant.label,
  hsmkms: Boolean(c.variant.hsmkms),
  inFlight: c.variant.sync ? 1 : c.variant.inFlight,
  method: c.variant.hsmkms ? null : raw.methods[c.op.id],
  ...perItem(summarizeRounds(results.get(c.id)), c.variant.batch),
}));

// pkcs11js first: closing the Kms (its root) finalizes the module.
raw.close();
await kms.close();
await publicKms.close();
// Every call went through the audit trail: count what reached the store.
const Database = createRequire(import.meta.url)('better-sqlite3');
let audited = 0;
for (const file of ['kms.db', 'kms-public.db']) {
  const db = new Database(path.join(storeDir, file), { readonly: true });
  audited += db.prepare('SELECT count(*) AS n FROM audit_log').get().n;
  db.close();
}

emit(args, {
  suite: 'kms',
  config: {
    ...cfg,
    inFlight: IN_FLIGHT,
    module: token.module,
    softhsm: softhsmVersion(),
    pkcs11js: raw.version,
    hsmkms: `Kms.open({ root: { pkcs11 } }) with privateSessionKeys ${privateSessionKeys} (HSMKMS_BENCH_PRIVATE_SESSION_KEYS=0 for false) and default options otherwise: HSM threads 2 (HSMKMS_HSM_THREADS), cacheTtlMs 1000, ` +
      'auditFlushMs 100, SQLite store (better-sqlite3, WAL, synchronous=FULL) in a temp dir; keys made with createKey; ' +
      'the "privateSessionKeys false" rows: a second Kms, the same but for that option, with its own store',
    pkcs11jsSetup: `same process, C_Initialize flags CKF_OS_LOCKING_OK, ${IN_FLIGHT} sessions, token objects (CKA_TOKEN true) it generated itself; ` +
      `libuv pool of ${process.env.UV_THREADPOOL_SIZE ?? 4} threads for its async calls`,
    encryptionContext,
    eventLoop: 'monitorEventLoopDelay resolution 1 ms (includes the 1 ms sampling), per case; sync loops yield every 5 ms',
    auditRecords: audited,
    cores: cores(),
  },
  durationSec: (Date.now() - t0) / 1000,
  rows,
});
