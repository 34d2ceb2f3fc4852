// Envelope suite (issue 5): streams and small messages, hsmkms against
// @aws-crypto/client-node 5.0.2, plus the AEAD engine's all-core throughput
// as the ceiling and the peak RSS of a 1 GiB stream (in a child process).
// Each library's streams run warmed up in a child process of their own
// (stream-child.mjs); small messages and the ceiling run in this one. Rounds visit every case in turn (order reversed on odd
// rounds); a value is the median over rounds, a ratio the median of
// per-round ratios.
//
//   node bench/envelope/envelope.mjs [--quick] [--out FILE]
import { execFileSync, fork } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ROOT_DIR, MiB, KiB, emit, loadHsmkms, log, measureWindow, median, parseSuiteArgs } from '../lib/common.mjs';

const args = parseSuiteArgs();
const quick = args.quick;
const hsmkms = loadHsmkms();
const { aead, envelope, RawAesKeyring, KmsKeyring, CachingKeyring, Kms } = hsmkms;
const require = createRequire(import.meta.url);
const client = require('@aws-crypto/client-node');
const { buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier, NodeCachingMaterialsManager, getLocalCryptographicMaterialsCache } = client;
const peer = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

const ROUNDS = quick ? 1 : 3;
const STREAM_BYTES = quick ? 64 * MiB : 256 * MiB;
// client-node at 4 KiB frames runs at tens of MB/s: a smaller stream keeps a round short.
const PEER_SMALL_FRAME_BYTES = quick ? 16 * MiB : 64 * MiB;
const SMALL_MS = quick ? 500 : 1500;
const CHUNK = 64 * KiB;

const aesKey = crypto.randomBytes(32);
const names = { keyName: 'bench', keyNamespace: 'hsmkms-bench' };
const ours = new RawAesKeyring({ ...names, unencryptedMasterKey: aesKey, utf8Sorting: true });
const theirKeyring = new RawAesKeyringNode({ ...names, unencryptedMasterKey: Uint8Array.from(aesKey), wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING, utf8Sorting: true });

// The AEAD ceiling's 64 KiB input.
const source = crypto.randomBytes(CHUNK);

// Stream cases: each library in a child process of its own (stream-child.mjs),
// warmed up there, asked for one measured pass at a time.
const streamChildren = {};
async function startStreamChild(library) {
  const child = fork(path.join(path.dirname(fileURLToPath(import.meta.url)), 'stream-child.mjs'), [library, String(STREAM_BYTES), String(PEER_SMALL_FRAME_BYTES)]);
  const waiting = [];
  child.on('message', (message) => waiting.shift()?.(message));
  child.on('exit', (code) => {
    for (const reject of waiting.splice(0)) reject({ error: `stream child ${library} exited (${code})` });
  });
  const ask = (message) => new Promise((resolve) => {
    waiting.push(resolve);
    if (message) child.send(message);
  });
  log(`envelope: warming up ${library}'s streams in a child`);
  const ready = await ask(null);
  if (!ready.ready) throw new Error(ready.error);
  streamChildren[library] = { child, ask };
}
await startStreamChild('hsmkms');
await startStreamChild('peer');
async function childPass(library, id) {
  const reply = await streamChildren[library].ask({ run: id });
  if (reply.mbps === undefined) throw new Error(reply.error ?? `no result for ${id}`);
  return reply.mbps;
}

const streamCases = [
  { id: 'hsmkms-0478-enc', label: 'hsmkms encryptStream 0x0478, 64 KiB frames', op: 'encrypt', suite: 0x0478, total: STREAM_BYTES, library: 'hsmkms' },
  { id: 'hsmkms-0478-dec', label: 'hsmkms decryptStream 0x0478, 64 KiB frames', op: 'decrypt', suite: 0x0478, total: STREAM_BYTES, library: 'hsmkms' },
  { id: 'hsmkms-0578-enc', label: 'hsmkms encryptStream 0x0578, 64 KiB frames', op: 'encrypt', suite: 0x0578, total: STREAM_BYTES, library: 'hsmkms' },
  { id: 'hsmkms-0578-dec', label: 'hsmkms decryptStream 0x0578, 64 KiB frames', op: 'decrypt', suite: 0x0578, total: STREAM_BYTES, library: 'hsmkms' },
  { id: 'peer-0478-default-enc', label: 'client-node encryptStream 0x0478, defaults (4 KiB frames)', op: 'encrypt', suite: 0x0478, total: PEER_SMALL_FRAME_BYTES, library: 'peer' },
  { id: 'peer-0478-default-dec', label: 'client-node decryptStream 0x0478, defaults (4 KiB frames)', op: 'decrypt', suite: 0x0478, total: PEER_SMALL_FRAME_BYTES, library: 'peer' },
  { id: 'peer-0578-64k-enc', label: 'client-node encryptStream 0x0578, 64 KiB frames', op: 'encrypt', suite: 0x0578, total: STREAM_BYTES, library: 'peer' },
  { id: 'peer-0578-64k-dec', label: 'client-node decryptStream 0x0578, 64 KiB frames', op: 'decrypt', suite: 0x0578, total: STREAM_BYTES, library: 'peer' },
].map((c) => ({ ...c, run: () => childPass(c.library, c.id) }));

// The ceiling: the AEAD engine on every worker, 64 KiB messages, recycled outputs,
// as many in flight as a stream keeps (threads x 2 + 2).
const aeadKey = aead.generateKey();
const inFlight = aead.settings().threads * 2 + 2;
async function ceiling(op) {
  const sealed = aead.encryptSync(aeadKey, source);
  const outs = Array.from({ length: inFlight }, () => Buffer.allocUnsafe(op === 'encrypt' ? CHUNK + 28 : CHUNK));
  let lane = 0;
  const r = await measureWindow({
    inFlight,
    durationMs: quick ? 400 : 1200,
    start: () => {
      const out = outs[lane++ % inFlight];
      return op === 'encrypt' ? aead.encrypt(aeadKey, source, { output: out }) : aead.decrypt(aeadKey, sealed, { output: out });
    },
  });
  return (r.opsPerSec * CHUNK) / 1e6;
}
streamCases.push(
  { id: 'aead-enc', label: `AEAD engine aead.encrypt, 64 KiB, ${inFlight} in flight (all workers)`, op: 'encrypt', run: () => ceiling('encrypt') },
  { id: 'aead-dec', label: `AEAD engine aead.decrypt, 64 KiB, ${inFlight} in flight (all workers)`, op: 'decrypt', run: () => ceiling('decrypt') },
);

// 1 KiB messages (ops/s), 16 in flight.
const small = crypto.randomBytes(1024);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsmkms-bench-envelope-'));
const kms = await Kms.open({ root: { soft: { dir } }, store: path.join(dir, 'keystore.db') });
const keyId = (await kms.createKey({ description: 'bench' })).keyMetadata.keyId;
const kmsKeyring = new KmsKeyring({ kms, keyId });
// The cache settings mirror client-node's below: same age and message limits.
const cachedKeyring = new CachingKeyring({ keyring: kmsKeyring, capacity: 1000, maxAge: 60_000, maxMessagesEncrypted: 2 ** 32 - 1 });
const cachingCmm = new NodeCachingMaterialsManager({
  backingMaterials: theirKeyring,
  cache: getLocalCryptographicMaterialsCache(1000),
  maxAge: 60_000,
  maxMessagesEncrypted: 2 ** 32 - 1,
});
const smallCases = [
  { id: 'small-hsmkms-raw', label: 'hsmkms envelope.encrypt 1 KiB, raw AES keyring', run: () => envelope.encrypt(small, { keyring: ours }) },
  { id: 'small-hsmkms-kms', label: 'hsmkms envelope.encrypt 1 KiB, KmsKeyring (soft root), no cache', run: () => envelope.encrypt(small, { keyring: kmsKeyring }) },
  { id: 'small-hsmkms-cached', label: 'hsmkms envelope.encrypt 1 KiB, KmsKeyring (soft root) behind a CachingKeyring', run: () => envelope.encrypt(small, { keyring: cachedKeyring }) },
  { id: 'small-peer-raw', label: 'client-node encrypt 1 KiB, raw AES keyring', run: () => peer.encrypt(theirKeyring, small, { suiteId: 0x0478 }) },
  { id: 'small-peer-cached', label: 'client-node encrypt 1 KiB, NodeCachingMaterialsManager', run: () => peer.encrypt(cachingCmm, small, { suiteId: 0x0478, plaintextLength: small.length }) },
];

const rounds = {};
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 ? [...streamCases].reverse() : streamCases;
  for (const c of order) {
    // No forced GC before a stream case: after one, V8 runs incremental
    // mark-compacts whose background marking competes with the 2 AES threads
    // for the 2 cores; measured, it cost streams half their throughput (the
    // allocation-free AEAD ceiling not at all), an artefact of the harness.
    const v = await c.run();
    (rounds[c.id] ??= []).push(v);
    log(`round ${round + 1}/${ROUNDS} ${c.id}: ${v.toFixed(0)} MB/s`);
  }
  const smallOrder = round % 2 ? [...smallCases].reverse() : smallCases;
  for (const c of smallOrder) {
    globalThis.gc?.();
    const r = await measureWindow({ start: c.run, inFlight: 16, durationMs: SMALL_MS });
    (rounds[c.id] ??= []).push(r.opsPerSec);
    log(`round ${round + 1}/${ROUNDS} ${c.id}: ${r.opsPerSec.toFixed(0)} ops/s`);
  }
}
await kms.close?.();
// Reaped before the report reads this process's CPU time (children's included).
await Promise.all(Object.values(streamChildren).map(({ child }) => {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send({ exit: true });
  return exited;
}));
fs.rmSync(dir, { recursive: true, force: true });

// Peak RSS of a 1 GiB stream: encryptStream -> decryptStream -> verifying sink, in a child.
const rssBytes = quick ? 256 * MiB : 1024 * MiB;
log(`envelope: ${rssBytes / MiB} MiB stream in a child for peak RSS`);
const child = JSON.parse(execFileSync(process.execPath, [path.join(ROOT_DIR, 'test', 'envelope', 'fixtures', 'stream-gib-child.cjs'), String(rssBytes), String(0x0478), String(64 * KiB)], { encoding: 'utf8' }));

const rows = [...streamCases, ...smallCases].map((c) => ({
  id: c.id,
  label: c.label,
  unit: c.id.startsWith('small-') ? 'ops/s' : 'MB/s',
  value: median(rounds[c.id]),
  rounds: rounds[c.id],
  bytes: c.total,
}));

emit(args, {
  suite: 'envelope',
  quick,
  streamBytes: STREAM_BYTES,
  peerSmallFrameBytes: PEER_SMALL_FRAME_BYTES,
  threads: aead.settings().threads,
  inFlight,
  rows,
  rss: { streamBytes: rssBytes, ...child },
});
