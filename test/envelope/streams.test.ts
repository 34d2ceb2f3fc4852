// envelope.encryptStream / decryptStream (Node Transforms) and their web
// variants: round trips over suites x frame lengths x sizes with random
// chunking, interop with @aws-crypto/client-node both ways, back-pressure
// with a slow sink, and the failure cases: every failure destroys the stream
// with a KmsError and nothing escapes as an uncaught exception.
import crypto from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { envelope, KmsError, RawAesKeyring, type Keyring } from '../../dist/index.js';
import { KEYRING_PAIRS, peer } from './helpers/peers.js';
import { randomChunks, through, throughFailing, watchUncaught } from './stream-helpers.js';

const uncaught = watchUncaught();
afterAll(() => {
  uncaught.stop();
  expect(uncaught.count).toBe(0);
});

const keyring = new RawAesKeyring({ keyName: 'stream-key', keyNamespace: 'hsmkms-streams', unencryptedMasterKey: crypto.randomBytes(32), utf8Sorting: true });
const otherKeyring = new RawAesKeyring({ keyName: 'stream-key', keyNamespace: 'hsmkms-streams', unencryptedMasterKey: crypto.randomBytes(32), utf8Sorting: true });
const SUITES = [0x0478, 0x0578];
const context = { purpose: 'streams', 'data-class': 'test' };

async function encryptChunks(plaintext: Uint8Array, opts: { frameLength: number; algorithmSuite: number; maxChunk?: number; keyring?: Keyring }): Promise<Buffer> {
  return through(envelope.encryptStream({ keyring: opts.keyring ?? keyring, encryptionContext: context, frameLength: opts.frameLength, algorithmSuite: opts.algorithmSuite }), randomChunks(plaintext, opts.maxChunk ?? 3 * opts.frameLength + 7));
}

function expectKmsError(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).code).toBe(code);
}

describe.each(SUITES)('round trip, suite %d (0x0478 = 1144, 0x0578 = 1400)', (suite) => {
  it.each([1, 17, 4096, 65536, 100_000])('frame length %i, sizes 0, 1, F-1, F, F+1, 3F, 1 MiB+3, random chunks', async (frameLength) => {
    const sizes = [...new Set([0, 1, frameLength - 1, frameLength, frameLength + 1, 3 * frameLength, frameLength >= 4096 ? 1024 * 1024 + 3 : 5000])];
    for (const size of sizes) {
      const plaintext = crypto.randomBytes(size);
      const message = await encryptChunks(plaintext, { frameLength, algorithmSuite: suite });
      // The one-shot decrypt reads it (the layout is the format's).
      const once = await envelope.decrypt(message, { keyring, encryptionContext: context });
      expect(Buffer.compare(once.plaintext, plaintext), `${size} B`).toBe(0);
      expect(once.header.frameLength).toBe(frameLength);
      // The stream reads it back in random chunks, and the one-shot encrypt's output too.
      const back = await through(envelope.decryptStream({ keyring, encryptionContext: context }), randomChunks(message, 70_000));
      expect(Buffer.compare(back, plaintext), `${size} B`).toBe(0);
      const oneShot = await envelope.encrypt(plaintext, { keyring, frameLength, algorithmSuite: suite });
      const back2 = await through(envelope.decryptStream({ keyring }), randomChunks(oneShot.result, 5000));
      expect(Buffer.compare(back2, plaintext)).toBe(0);
    }
  });

  it('a source chunk much larger than a frame, with plaintextLength set (the peer crashes here)', async () => {
    const plaintext = crypto.randomBytes(5 * 1024 * 1024 + 11);
    for (const frameLength of [4096, 65536]) {
      const stream = envelope.encryptStream({ keyring, frameLength, algorithmSuite: suite, plaintextLength: plaintext.length });
      const message = await through(stream, [plaintext]);
      const back = await through(envelope.decryptStream({ keyring }), [message]);
      expect(Buffer.compare(back, plaintext)).toBe(0);
    }
  });

  it('emits a header event with the authenticated header, and sets .header', async () => {
    const message = await encryptChunks(crypto.randomBytes(1000), { frameLength: 100, algorithmSuite: suite });
    const enc = envelope.encryptStream({ keyring, algorithmSuite: suite });
    const encHeader = new Promise((resolve) => enc.once('header', resolve));
    await through(enc, [Buffer.from('x')]);
    expect(((await encHeader) as { suiteId: number }).suiteId).toBe(suite);
    const dec = envelope.decryptStream({ keyring });
    const seen = new Promise((resolve) => dec.once('header', resolve));
    await through(dec, [message]);
    const header = (await seen) as { suiteId: number; frameLength: number; encryptionContext: Record<string, string> };
    expect(header.suiteId).toBe(suite);
    expect(header.frameLength).toBe(100);
    expect(header.encryptionContext).toMatchObject(context);
    expect(dec.header).toBe(header);
  });

  it('web streams: TransformStreams that round-trip and interoperate with the Node ones', async () => {
    const plaintext = crypto.randomBytes(300_000);
    const enc = envelope.encryptWebStream({ keyring, algorithmSuite: suite, frameLength: 65536 });
    expect(enc).toBeInstanceOf(TransformStream);
    const source = Readable.toWeb(Readable.from(randomChunks(plaintext, 50_000))) as ReadableStream<Uint8Array>;
    const parts: Uint8Array[] = [];
    for await (const c of source.pipeThrough(enc)) parts.push(c);
    const message = Buffer.concat(parts);
    expect(Buffer.compare((await envelope.decrypt(message, { keyring })).plaintext, plaintext)).toBe(0);
    const back: Uint8Array[] = [];
    const msgSource = Readable.toWeb(Readable.from(randomChunks(message, 40_000))) as ReadableStream<Uint8Array>;
    for await (const c of msgSource.pipeThrough(envelope.decryptWebStream({ keyring }))) back.push(c);
    expect(Buffer.compare(Buffer.concat(back), plaintext)).toBe(0);
  });

  it('web streams: a bad message errors the readable side with a KmsError', async () => {
    const message = await encryptChunks(crypto.randomBytes(200_000), { frameLength: 65536, algorithmSuite: suite });
    message[message.length - 20]! ^= 1;
    const src = Readable.toWeb(Readable.from([message])) as ReadableStream<Uint8Array>;
    let error: unknown;
    try {
      for await (const _ of src.pipeThrough(envelope.decryptWebStream({ keyring }))) void _;
    } catch (e) {
      error = e;
    }
    expectKmsError(error, 'InvalidCiphertextException');
  });
});

describe('interop with @aws-crypto/client-node 5.0.2', () => {
  const aes = KEYRING_PAIRS[0]!;
  it.each(SUITES)('suite %d: our encryptStream output opens with their decrypt and decryptStream', async (suite) => {
    for (const frameLength of [17, 4096, 65536]) {
      for (const size of [0, frameLength, 3 * frameLength + 5, frameLength < 4096 ? 20_001 : 700_001]) {
        const plaintext = crypto.randomBytes(size);
        const message = await encryptChunks(plaintext, { frameLength, algorithmSuite: suite, keyring: aes.ours });
        const once = await peer.decrypt(aes.theirs, message);
        expect(Buffer.compare(once.plaintext, plaintext), `${frameLength}/${size}`).toBe(0);
        const streamed = await through(peer.decryptUnsignedMessageStream ? peer.decryptStream(aes.theirs) : peer.decryptStream(aes.theirs), randomChunks(message, 30_000));
        expect(Buffer.compare(streamed, plaintext), `${frameLength}/${size}`).toBe(0);
      }
    }
  });

  it.each(SUITES)('suite %d: their encryptStream output opens with our decryptStream', async (suite) => {
    for (const frameLength of [17, 4096, 65536]) {
      for (const size of [0, frameLength, 3 * frameLength + 5, frameLength < 4096 ? 20_001 : 700_001]) {
        const plaintext = crypto.randomBytes(size);
        const message = await through(peer.encryptStream(aes.theirs, { suiteId: suite, frameLength, encryptionContext: context }), randomChunks(plaintext, 30_000));
        const back = await through(envelope.decryptStream({ keyring: aes.ours, encryptionContext: context }), randomChunks(message, 50_000));
        expect(Buffer.compare(back, plaintext), `${frameLength}/${size}`).toBe(0);
      }
    }
  });

  it('their unsigned-only stream reads our 0x0478 stream', async () => {
    const plaintext = crypto.randomBytes(200_000);
    const message = await encryptChunks(plaintext, { frameLength: 65536, algorithmSuite: 0x0478, keyring: aes.ours });
    const back = await through(peer.decryptUnsignedMessageStream(aes.theirs), [message]);
    expect(Buffer.compare(back, plaintext)).toBe(0);
  });
});

describe('back-pressure', () => {
  /** A pull source of `total` bytes in 64 KiB chunks that records how far it has been read. */
  function countingSource(total: number): { stream: Readable; produced: () => number } {
    let produced = 0;
    const chunk = Buffer.alloc(65536, 1);
    const stream = new Readable({
      highWaterMark: 65536,
      read() {
        if (produced >= total) {
          this.push(null);
          return;
        }
        produced += chunk.length;
        this.push(chunk);
      },
    });
    return { stream, produced: () => produced };
  }

  it.each([
    ['encryptStream', 65536],
    ['encryptStream', 4096],
    ['decryptStream', 65536],
  ] as const)('%s (frames of %i B) into a slow sink: the source is never read far ahead', async (kind, frameLength) => {
    const total = 24 * 1024 * 1024;
    let input: Readable;
    let produced: () => number;
    if (kind === 'encryptStream') {
      ({ stream: input, produced } = countingSource(total));
    } else {
      // The message of a 24 MiB plaintext, fed in 64 KiB chunks on demand.
      const message = (await envelope.encrypt(Buffer.alloc(total, 1), { keyring, frameLength })).result;
      let at = 0;
      input = new Readable({
        highWaterMark: 65536,
        read() {
          if (at >= message.length) return void this.push(null);
          this.push(message.subarray(at, at + 65536));
          at += 65536;
        },
      });
      produced = () => at;
    }
    const transform = kind === 'encryptStream' ? envelope.encryptStream({ keyring, frameLength }) : envelope.decryptStream({ keyring });
    let consumed = 0;
    let maxAhead = 0;
    let writes = 0;
    const sink = new Writable({
      highWaterMark: 65536,
      write(c: Buffer, _e, cb) {
        consumed += c.length;
        maxAhead = Math.max(maxAhead, produced() - consumed);
        // Slow for the first 40 chunks, then fast to finish the test.
        setTimeout(cb, writes++ < 40 ? 10 : 0);
      },
    });
    await pipeline(input, transform, sink);
    // Frames in flight (about 2 MiB of them by default), the stream buffers, the sink's: under 4 MiB of 24.
    expect(maxAhead).toBeLessThan(4 * 1024 * 1024);
    expect(consumed).toBeGreaterThan(0);
  });
});

describe('failures destroy the stream with a KmsError', () => {
  it.each(SUITES)('suite %d: truncation at many points fails with InvalidCiphertextException', async (suite) => {
    const plaintext = crypto.randomBytes(150_000);
    const message = await encryptChunks(plaintext, { frameLength: 65536, algorithmSuite: suite });
    for (const cut of [0, 1, 50, 200, 300, 65_000, 65_600, 131_200, message.length - 50, message.length - 1]) {
      const stream = envelope.decryptStream({ keyring });
      const { error, emitted } = await throughFailing(stream, randomChunks(message.subarray(0, cut), 20_000));
      expectKmsError(error, 'InvalidCiphertextException');
      expect(stream.destroyed).toBe(true);
      // Never the whole plaintext; for a signed suite never the final frame.
      expect(emitted.length).toBeLessThan(plaintext.length);
      if (suite === 0x0578) expect(emitted.length).toBeLessThanOrEqual(131072);
    }
  });

  it.each([4096, 65536])('signed suite, bad signature (frames of %i B): error, and the final frame never released', async (frameLength) => {
    const plaintext = crypto.randomBytes(2 * frameLength + 1808);
    const message = await encryptChunks(plaintext, { frameLength, algorithmSuite: 0x0578 });
    message[message.length - 3]! ^= 0x40;
    const { error, emitted } = await throughFailing(envelope.decryptStream({ keyring }), randomChunks(message, 9000));
    expectKmsError(error, 'InvalidCiphertextException');
    expect((error as Error).message).toMatch(/signature/);
    // Regular frames are released as they verify; the final frame is held back.
    expect(emitted.length).toBeLessThanOrEqual(2 * frameLength);
    expect(Buffer.compare(emitted, plaintext.subarray(0, emitted.length))).toBe(0);
  });

  it('signed suite, the last signature byte arriving alone and flipped: still no final frame', async () => {
    const plaintext = crypto.randomBytes(10_000);
    const message = await encryptChunks(plaintext, { frameLength: 4096, algorithmSuite: 0x0578 });
    const { error, emitted } = await throughFailing(envelope.decryptStream({ keyring }), [message.subarray(0, message.length - 1), Buffer.of(message[message.length - 1]! ^ 1)]);
    expectKmsError(error, 'InvalidCiphertextException');
    expect(emitted.length).toBeLessThanOrEqual(8192);
  });

  it.each(SUITES)('suite %d: trailing bytes fail', async (suite) => {
    const message = await encryptChunks(crypto.randomBytes(5000), { frameLength: 4096, algorithmSuite: suite });
    for (const chunks of [[Buffer.concat([message, Buffer.of(0)])], [message, Buffer.of(1, 2, 3)]]) {
      const { error } = await throughFailing(envelope.decryptStream({ keyring }), chunks);
      expectKmsError(error, 'InvalidCiphertextException');
      expect((error as Error).message).toMatch(/follow the end/);
    }
  });

  it('a flipped byte in a frame, in the header, the wrong key: InvalidCiphertextException', async () => {
    const message = await encryptChunks(crypto.randomBytes(300_000), { frameLength: 65536, algorithmSuite: 0x0478 });
    const headerLength = (await envelope.decrypt(message, { keyring })).header.headerLength;
    for (const at of [10, headerLength - 3, headerLength + 100, headerLength + 70_000, message.length - 5]) {
      const bad = Buffer.from(message);
      bad[at]! ^= 1;
      const { error } = await throughFailing(envelope.decryptStream({ keyring }), randomChunks(bad, 30_000));
      expectKmsError(error, 'InvalidCiphertextException');
    }
    const { error } = await throughFailing(envelope.decryptStream({ keyring: otherKeyring }), [message]);
    expectKmsError(error, 'InvalidCiphertextException');
  });

  it('unsignedOnly refuses a signed message right after the header (ValidationException), and reads an unsigned one', async () => {
    const signed = await encryptChunks(crypto.randomBytes(100_000), { frameLength: 4096, algorithmSuite: 0x0578 });
    const { error, emitted } = await throughFailing(envelope.decryptStream({ keyring, unsignedOnly: true }), [signed]);
    expectKmsError(error, 'ValidationException');
    expect(emitted.length).toBe(0);
    const plaintext = crypto.randomBytes(100_000);
    const unsigned = await encryptChunks(plaintext, { frameLength: 4096, algorithmSuite: 0x0478 });
    expect(Buffer.compare(await through(envelope.decryptStream({ keyring, unsignedOnly: true }), [unsigned]), plaintext)).toBe(0);
  });

  it('maxEncryptedDataKeys is enforced from the header (LimitExceededException), before any keyring call', async () => {
    const two = new (await import('../../dist/index.js')).MultiKeyring({ generator: keyring, children: [otherKeyring] });
    const message = await encryptChunks(crypto.randomBytes(1000), { frameLength: 4096, algorithmSuite: 0x0478, keyring: two });
    let calls = 0;
    const spy: Keyring = { needsDataKeyBytes: () => false, onEncrypt: async () => undefined, onDecrypt: async () => void calls++ };
    const { error } = await throughFailing(envelope.decryptStream({ keyring: spy, maxEncryptedDataKeys: 1 }), randomChunks(message, 7));
    expectKmsError(error, 'LimitExceededException');
    expect(calls).toBe(0);
  });

  it('maxBodySize refuses larger frames (LimitExceededException)', async () => {
    const message = await encryptChunks(crypto.randomBytes(100_000), { frameLength: 65536, algorithmSuite: 0x0478 });
    const { error } = await throughFailing(envelope.decryptStream({ keyring, maxBodySize: 4096 }), [message]);
    expectKmsError(error, 'LimitExceededException');
  });

  it('encrypt: a keyring that fails, plaintextLength too short or too long', async () => {
    const failing: Keyring = { needsDataKeyBytes: () => false, onEncrypt: async () => { throw new KmsError('KeyUnavailableException', 'HSM down'); }, onDecrypt: async () => undefined };
    const r1 = await throughFailing(envelope.encryptStream({ keyring: failing }), [Buffer.alloc(10)]);
    expectKmsError(r1.error, 'KeyUnavailableException');
    // A keyring failing with no writes at all still ends the stream, typed.
    const idle = envelope.encryptStream({ keyring: failing });
    const idleError = await new Promise((resolve) => idle.once('error', resolve));
    expectKmsError(idleError, 'KeyUnavailableException');
    const thrower: Keyring = { needsDataKeyBytes: () => false, onEncrypt: async () => { throw new TypeError('bug'); }, onDecrypt: async () => undefined };
    const r2 = await throughFailing(envelope.encryptStream({ keyring: thrower }), [Buffer.alloc(10)]);
    expect(r2.error).toBeInstanceOf(KmsError);
    const r3 = await throughFailing(envelope.encryptStream({ keyring, plaintextLength: 100 }), [Buffer.alloc(60), Buffer.alloc(60)]);
    expectKmsError(r3.error, 'ValidationException');
    const r4 = await throughFailing(envelope.encryptStream({ keyring, plaintextLength: 100 }), [Buffer.alloc(60)]);
    expectKmsError(r4.error, 'ValidationException');
  });

  it('bad options throw at once', () => {
    expect(() => envelope.encryptStream({ keyring, frameLength: 0 })).toThrow(KmsError);
    expect(() => envelope.encryptStream({ keyring, maxFramesInFlight: 0 })).toThrow(KmsError);
    expect(() => envelope.encryptStream({ keyring: {} as Keyring })).toThrow(TypeError);
    expect(() => envelope.decryptStream({ keyring, maxBodySize: -1 })).toThrow(KmsError);
    expect(() => envelope.decryptStream({ keyring, unsignedOnly: 'yes' as unknown as boolean })).toThrow(KmsError);
  });

  // Signed suites also have hashing in flight on the digest threads when the stream goes.
  it.each([0x0478, 0x0578])('a consumer destroying the stream mid-flight (suite %i): no uncaught exception, keys released', async (algorithmSuite) => {
    const message = await encryptChunks(crypto.randomBytes(4_000_000), { frameLength: 65536, algorithmSuite });
    const dec = envelope.decryptStream({ keyring });
    dec.on('error', () => undefined);
    dec.on('data', () => undefined);
    dec.write(message.subarray(0, 3_000_000));
    await new Promise((resolve) => setTimeout(resolve, 1));
    dec.destroy();
    const enc = envelope.encryptStream({ keyring, algorithmSuite });
    enc.on('error', () => undefined);
    enc.on('data', () => undefined);
    enc.write(Buffer.alloc(3_000_000));
    await new Promise((resolve) => setTimeout(resolve, 1));
    enc.destroy(new Error('consumer gave up'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(dec.destroyed && enc.destroyed).toBe(true);
  });
});
