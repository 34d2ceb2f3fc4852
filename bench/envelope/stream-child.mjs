// One library's stream cases for bench/envelope/envelope.mjs, in a process of
// their own: hsmkms or @aws-crypto/client-node. Run in one process, each
// library's stream code made V8 re-optimise the other's (Node's stream
// internals turned polymorphic) and left its garbage to be collected on the
// other's time: rounds of one case ranged 2-3x. Here each is warmed up
// (every case run WARM_UP_PASSES times) before the parent asks for measured
// passes, one at a time, interleaved with the other library's.
//
//   fork('stream-child.mjs', [library, streamBytes, peerSmallFrameBytes])
//   -> { ready: [case ids] }; <- { run: id } -> { id, mbps } ... <- { exit: true }
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KiB, loadHsmkms } from '../lib/common.mjs';

const [library, streamArg, peerSmallArg] = process.argv.slice(2);
const STREAM_BYTES = Number(streamArg);
const PEER_SMALL_FRAME_BYTES = Number(peerSmallArg);
const CHUNK = 64 * KiB;
// V8 kept optimising stream code for about 1 GiB of 64 KiB frames (4 passes
// of 256 MiB); client-node's 4 KiB frames make 16 times the calls per byte.
const WARM_UP_PASSES = library === 'hsmkms' ? 4 : 2;

const aesKey = crypto.randomBytes(32);
const plaintext = crypto.randomBytes(CHUNK);
const names = { keyName: 'bench', keyNamespace: 'hsmkms-bench' };

function* plaintextChunks(total) {
  for (let at = 0; at < total; at += CHUNK) yield at + CHUNK <= total ? plaintext : plaintext.subarray(0, total - at);
}
function* messageChunks(message) {
  for (let at = 0; at < message.length; at += CHUNK) yield message.subarray(at, at + CHUNK);
}
const sink = () => new Writable({ highWaterMark: CHUNK, write(_c, _e, cb) { cb(); } });

async function streamMBps(total, chunks, transform) {
  const t0 = performance.now();
  await pipeline(Readable.from(chunks), transform, sink());
  return total / ((performance.now() - t0) * 1000);
}

async function collect(chunks, transform) {
  const parts = [];
  await pipeline(Readable.from(chunks), transform, new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
  return Buffer.concat(parts);
}

/** { id: { make(): encrypt transform, open(): decrypt transform, total } } per library. */
function streams() {
  if (library === 'hsmkms') {
    const { envelope, RawAesKeyring } = loadHsmkms();
    const keyring = new RawAesKeyring({ ...names, unencryptedMasterKey: aesKey, utf8Sorting: true });
    return {
      'hsmkms-0478': { total: STREAM_BYTES, make: () => envelope.encryptStream({ keyring }), open: () => envelope.decryptStream({ keyring }) },
      'hsmkms-0578': { total: STREAM_BYTES, make: () => envelope.encryptStream({ keyring, algorithmSuite: 0x0578 }), open: () => envelope.decryptStream({ keyring }) },
    };
  }
  const client = createRequire(import.meta.url)('@aws-crypto/client-node');
  const { buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier } = client;
  const peer = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyring = new RawAesKeyringNode({ ...names, unencryptedMasterKey: Uint8Array.from(aesKey), wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING, utf8Sorting: true });
  return {
    'peer-0478-default': { total: PEER_SMALL_FRAME_BYTES, make: () => peer.encryptStream(keyring, { suiteId: 0x0478 }), open: () => peer.decryptStream(keyring) },
    'peer-0578-64k': { total: STREAM_BYTES, make: () => peer.encryptStream(keyring, { suiteId: 0x0578, frameLength: 64 * KiB }), open: () => peer.decryptStream(keyring) },
  };
}

const cases = {};
for (const [id, s] of Object.entries(streams())) {
  const message = await collect(plaintextChunks(s.total), s.make());
  cases[`${id}-enc`] = () => streamMBps(s.total, plaintextChunks(s.total), s.make());
  cases[`${id}-dec`] = () => streamMBps(s.total, messageChunks(message), s.open());
}
for (let pass = 0; pass < WARM_UP_PASSES; pass++) for (const run of Object.values(cases)) await run();

// Each measured pass follows an unmeasured one: while the other library ran,
// this process sat idle, and V8 shrank its heap and flushed code meanwhile
// (the first pass after a pause ran up to 2x slower, unlike a busy server).
process.on('message', async (message) => {
  if (message.exit) process.exit(0);
  await cases[message.run]();
  process.send({ id: message.run, mbps: await cases[message.run]() });
});
process.send({ ready: Object.keys(cases) });
