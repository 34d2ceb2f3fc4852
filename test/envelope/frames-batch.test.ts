/**
 * Runs of regular frames in one native call (sealFrames / openFrames): the
 * bytes equal frame-by-frame encryption (frame IVs are deterministic), and a
 * run with any bad frame fails whole, its output wiped.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aead, envelope, RawAesKeyring } from '../../dist/index.js';
import { randomChunks, through, throughFailing } from './stream-helpers.js';
import { native } from '../../dist/native.js';
import { nativeKeyHandle } from '../../dist/aead.js';
import { LegacyContentKey, NativeContentKey } from '../../dist/envelope/content-key.js';
import { bodyAad, decryptFrames, encryptFrame, encryptFrames } from '../../dist/envelope/frame-codec.js';

const F = 4096;
const STRIDE = F + 32;
const N = 37;
const FIRST = 5;

function setup(messageIdLength = 32) {
  const raw = crypto.randomBytes(32);
  const key = new NativeContentKey(aead.importKey(raw));
  const messageId = crypto.randomBytes(messageIdLength);
  const plaintext = crypto.randomBytes(N * F);
  return { raw, key, messageId, plaintext };
}

async function perFrame(key: NativeContentKey, messageId: Uint8Array, plaintext: Uint8Array): Promise<Buffer> {
  const out = Buffer.alloc(N * STRIDE);
  for (let i = 0; i < N; i++) {
    await encryptFrame(key, messageId, FIRST + i, false, plaintext.subarray(i * F, (i + 1) * F), out.subarray(i * STRIDE, (i + 1) * STRIDE));
  }
  return out;
}

async function sealed(s: ReturnType<typeof setup>): Promise<Buffer> {
  const out = Buffer.alloc(N * STRIDE);
  await encryptFrames(s.key, s.messageId, FIRST, F, s.plaintext, out);
  return out;
}

async function openRejects(s: ReturnType<typeof setup>, body: Uint8Array | Uint8Array[], checkIv = true): Promise<void> {
  const out = Buffer.alloc(N * F, 0xaa);
  await expect(decryptFrames(s.key, s.messageId, FIRST, F, body, out, checkIv)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
  expect(out.every((b) => b === 0)).toBe(true);
}

/** Opens `run` with `key` and expects the plaintext back. */
async function expectOpens(s: ReturnType<typeof setup>, run: Buffer, key: NativeContentKey | LegacyContentKey, checkIv: boolean): Promise<void> {
  const out = Buffer.alloc(N * F);
  await decryptFrames(key, s.messageId, FIRST, F, run, out, checkIv);
  expect(out.equals(s.plaintext)).toBe(true);
}

describe('frame runs (sealFrames / openFrames)', () => {
  it('seal equals per-frame encryptFrame byte for byte, and opens back', async () => {
    for (const idLength of [32, 16]) {
      const s = setup(idLength);
      const run = await sealed(s);
      expect(run.equals(await perFrame(s.key, s.messageId, s.plaintext))).toBe(true);
      await expectOpens(s, run, s.key, true);
    }
  });

  it('opens with the node:crypto fallback (legacy key) to the same plaintext', async () => {
    const s = setup();
    await expectOpens(s, await sealed(s), new LegacyContentKey(Uint8Array.from(s.raw)), true);
  });

  it('rejects a wrong sequence number and wipes the output', async () => {
    const s = setup();
    const run = await sealed(s);
    run.writeUInt32BE(FIRST + 20, 19 * STRIDE);
    await openRejects(s, run);
  });

  it('rejects a frame sealed under a non-frame IV (v2) and opens it when the IV check is off (v1)', async () => {
    const s = setup();
    const run = await sealed(s);
    // Frame 7 re-sealed, validly, under a random IV: only the IV check can catch it.
    const seq = FIRST + 7;
    s.key.sealSync(s.plaintext.subarray(7 * F, 8 * F), crypto.randomBytes(12), bodyAad(s.messageId, 'frame', seq, F), run.subarray(7 * STRIDE + 4, 8 * STRIDE));
    await openRejects(s, run, true);
    await expectOpens(s, run, s.key, false);
  });

  it('rejects a run opened from the wrong first sequence number', async () => {
    const s = setup();
    const run = await sealed(s);
    const out = Buffer.alloc(N * F, 0xaa);
    await expect(decryptFrames(s.key, s.messageId, FIRST + 1, F, run, out, false)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
    expect(out.every((b) => b === 0)).toBe(true);
  });

  it('rejects a flipped bit in any frame (seq, IV, ciphertext, tag) and wipes the output', async () => {
    const s = setup();
    const run = await sealed(s);
    for (const frame of [0, 1, 18, N - 1]) {
      for (const at of [0, 3, 4, 15, 16, 16 + F / 2, STRIDE - 1]) {
        const bad = Buffer.from(run);
        bad[frame * STRIDE + at] ^= 0x10;
        await openRejects(s, bad);
      }
    }
  });

  it('opens a body given as the segments it arrived in (gathered by the workers), and rejects a flip in one', async () => {
    const s = setup();
    const run = await sealed(s);
    // Cuts at random points, a 3-byte segment inside a frame header, and an empty segment.
    const cuts = [...new Set([0, 5, 8, STRIDE - 1, STRIDE + 2, 2 * STRIDE + 7, 2 * STRIDE + 7, ...Array.from({ length: 30 }, () => crypto.randomInt(run.length)), run.length])].sort((a, b) => a - b);
    const segmentsOf = (body: Buffer) => [body.subarray(0, 0), ...cuts.slice(1).map((end, i) => body.subarray(cuts[i], end))];
    const out = Buffer.alloc(N * F);
    await decryptFrames(s.key, s.messageId, FIRST, F, segmentsOf(run), out, true);
    expect(out.equals(s.plaintext)).toBe(true);
    for (const at of [3, STRIDE + 1, 2 * STRIDE + 6, 20 * STRIDE + 100, run.length - 1]) {
      const bad = Buffer.from(run);
      bad[at] ^= 1;
      await openRejects(s, segmentsOf(bad));
    }
    const handle = nativeKeyHandle(s.key.key);
    expect(() => native.openFrames(handle, [run.subarray(0, 9), run.subarray(10)], Buffer.alloc(N * F), s.messageId, FIRST, F, true, 0)).toThrow(RangeError);
    expect(() => native.openFrames(handle, [run, 'x' as unknown as Uint8Array], Buffer.alloc(N * F), s.messageId, FIRST, F, true, 0)).toThrow(TypeError);
    expect(() => native.openFrames(handle, [run.subarray(0, 10), run.subarray(10)], run.subarray(0, N * F), s.messageId, FIRST, F, true, 0)).toThrow(RangeError);
  });

  it('rejects bad sizes and sequence numbers in the raw binding', () => {
    const s = setup();
    const handle = nativeKeyHandle(s.key.key);
    const out = Buffer.alloc(N * STRIDE);
    expect(() => native.sealFrames(handle, s.plaintext.subarray(1), out, s.messageId, 1, F, 0)).toThrow(RangeError);
    expect(() => native.sealFrames(handle, s.plaintext, out.subarray(1), s.messageId, 1, F, 0)).toThrow(RangeError);
    expect(() => native.sealFrames(handle, s.plaintext, out, s.messageId.subarray(1), 1, F, 0)).toThrow(RangeError);
    expect(() => native.sealFrames(handle, s.plaintext, out, s.messageId, 0, F, 0)).toThrow(RangeError);
    expect(() => native.sealFrames(handle, s.plaintext, out, s.messageId, 0xffff_fffe - N + 2, F, 0)).toThrow(RangeError);
    expect(() => native.sealFrames(handle, s.plaintext, out, s.messageId, 1.5, F, 0)).toThrow(RangeError);
    expect(() => native.sealFrames(handle, s.plaintext, out, s.messageId, 1, 0, 0)).toThrow(RangeError);
    expect(() => native.sealFrames(handle, out.subarray(0, N * F), out, s.messageId, 1, F, 0)).toThrow(RangeError);
    expect(() => native.openFrames(handle, out.subarray(3), Buffer.alloc(N * F), s.messageId, 1, F, true, 0)).toThrow(RangeError);
    expect(() => native.openFrames(handle, out, Buffer.alloc(N * F + 1), s.messageId, 1, F, true, 0)).toThrow(RangeError);
  });

  it('accepts the last sequence numbers a message can use', async () => {
    const s = setup();
    const last = 0xffff_fffe - N + 1;
    const out = Buffer.alloc(N * STRIDE);
    await encryptFrames(s.key, s.messageId, last, F, s.plaintext, out);
    expect(out.readUInt32BE((N - 1) * STRIDE)).toBe(0xffff_fffe);
    const back = Buffer.alloc(N * F);
    await decryptFrames(s.key, s.messageId, last, F, out, back, true);
    expect(back.equals(s.plaintext)).toBe(true);
  });
});

describe('streams over frame runs', () => {
  const keyring = new RawAesKeyring({ keyName: 'runs', keyNamespace: 'hsmkms-runs', unencryptedMasterKey: crypto.randomBytes(32), utf8Sorting: true });
  // 20000-byte frames: 26 per 512 KiB run, on the pool path (above the 16 KiB inline threshold).
  const FL = 20_000;
  const RUN = Math.floor((512 * 1024) / FL) * FL;

  it.each([undefined, 1, 3, 100])('round trips across run edges, chunkings and maxFramesInFlight %s', async (maxFramesInFlight) => {
    for (const size of [0, FL, RUN - 1, RUN, RUN + 1, 3 * RUN + 7 * FL + 5]) {
      const plaintext = crypto.randomBytes(size);
      for (const maxChunk of [3 * RUN, 70_001]) {
        const message = await through(envelope.encryptStream({ keyring, frameLength: FL, maxFramesInFlight }), randomChunks(plaintext, maxChunk));
        const once = await envelope.decrypt(message, { keyring });
        expect(Buffer.compare(once.plaintext, plaintext), `${size}/${maxChunk}`).toBe(0);
        const back = await through(envelope.decryptStream({ keyring, maxFramesInFlight }), randomChunks(message, maxChunk));
        expect(Buffer.compare(back, plaintext), `${size}/${maxChunk}`).toBe(0);
      }
    }
  });

  it('a bad frame in the middle of a run fails the stream and releases nothing from that frame on', async () => {
    const plaintext = crypto.randomBytes(3 * RUN);
    const message = await envelope.encrypt(plaintext, { keyring, frameLength: FL });
    const { headerLength } = message.header;
    const stride = FL + 32;
    for (const [frame, at, pattern] of [
      [60, 100, /authenticate/],
      [60, 0, /out of order/],
      [61, 8, /IV/],
    ] as const) {
      const bad = Buffer.from(message.result);
      bad[headerLength + frame * stride + at]! ^= 1;
      const { error, emitted } = await throughFailing(envelope.decryptStream({ keyring }), randomChunks(bad, 100_000));
      expect(error).toMatchObject({ code: 'InvalidCiphertextException' });
      expect((error as Error).message).toMatch(pattern);
      expect(emitted.length).toBeLessThanOrEqual(frame * FL);
      expect(Buffer.compare(emitted, plaintext.subarray(0, emitted.length))).toBe(0);
    }
  });
});
