// Fuzz target (async): a whole envelope message under a fixed raw AES keyring
// (header, data keys, frames, footer and signature), three ways: one-shot
// decrypt, streaming decrypt fed in uneven chunks, and a random-access range.
// Each either fails with a KmsError or gives the same plaintext; the
// one-shot and the streaming decrypt must agree on which.
'use strict';
const { Readable } = require('node:stream');
const { lib, attemptAsync, check, equalBytes } = require('../support.cjs');
const { makeKeyring } = require('../fuzz-keyring.cjs');
const { envelope } = lib('envelope/index');

const keyring = makeKeyring();
const options = { keyring, allowV1: true, commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT', maxEncryptedDataKeys: 5 };

/** The input cut into chunks whose sizes come from its own bytes (deterministic). */
function chunksOf(data) {
  const chunks = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = 1 + ((data[i % data.length] * 31 + i) % 700);
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

async function streamed(data) {
  const out = [];
  const stream = Readable.from(chunksOf(data), { objectMode: false }).pipe(envelope.decryptStream(options));
  await new Promise((resolve, reject) => {
    stream.on('data', (chunk) => out.push(chunk));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  return Buffer.concat(out);
}

module.exports.fuzz = async function fuzz(data) {
  const oneShot = await attemptAsync(() => envelope.decrypt(data, options));
  const stream = await attemptAsync(() => streamed(data));
  check((oneShot.error === undefined) === (stream.error === undefined),
    `one-shot ${oneShot.error?.code ?? 'ok'} but streaming ${stream.error?.code ?? 'ok'}`);
  if (oneShot.error !== undefined) return;
  const plaintext = oneShot.value.plaintext;
  check(equalBytes(plaintext, stream.value), 'streaming plaintext differs');
  const start = data.length > 0 ? data[data.length - 1] % (plaintext.length + 1) : 0;
  const end = start + (data.length > 1 ? data[data.length - 2] * 17 : 0);
  const range = await attemptAsync(() => envelope.decryptRange(data, { ...options, start, end }));
  if (range.error === undefined) {
    check(equalBytes(range.value.plaintext, plaintext.subarray(start, end)), 'range plaintext differs');
  }
};
