// envelope.decryptRange: random access into unsigned framed messages from a
// buffer, a path or a FileHandle, reading only the header, the covering
// frames and the final frame; the length authenticated by the final frame;
// signed messages and bad ranges refused.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, KmsError, RawAesKeyring } from '../../dist/index.js';
import { peer, KEYRING_PAIRS } from './helpers/peers.js';

const keyring = new RawAesKeyring({ keyName: 'range', keyNamespace: 'hsmkms-range', unencryptedMasterKey: crypto.randomBytes(32), utf8Sorting: true });
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsmkms-range-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function codeOf(error: unknown): string | undefined {
  return error instanceof KmsError ? error.code : undefined;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** A FileHandle wrapper that counts the bytes read through it. */
async function countingHandle(file: string): Promise<{ handle: fs.promises.FileHandle; bytesRead: () => number; close: () => Promise<void> }> {
  const real = await fs.promises.open(file, 'r');
  let total = 0;
  const handle = {
    stat: () => real.stat(),
    read: async (buffer: Uint8Array, offset: number, length: number, position: number) => {
      const r = await real.read(buffer, offset, length, position);
      total += r.bytesRead;
      return r;
    },
  } as unknown as fs.promises.FileHandle;
  return { handle, bytesRead: () => total, close: () => real.close() };
}

describe('decryptRange', () => {
  it.each([1, 17, 4096, 65536])('every kind of range, frame length %i, from a buffer', async (frameLength) => {
    const size = frameLength * 5 + 3;
    const plaintext = crypto.randomBytes(size);
    const { result } = await envelope.encrypt(plaintext, { keyring, frameLength });
    const ranges: [number, number][] = [
      [0, size], [0, 0], [0, 1], [size - 1, size], [size, size], [frameLength - 1, frameLength + 1], [frameLength, 2 * frameLength],
      [3, size - 3], [2 * frameLength + 1, 4 * frameLength - 1], [5 * frameLength, size], [0, size + 1000],
    ];
    for (let i = 0; i < 10; i++) {
      const a = crypto.randomInt(size + 1);
      ranges.push([a, a + crypto.randomInt(size - a + 1)]);
    }
    for (const [start, end] of ranges) {
      const r = await envelope.decryptRange(result, { keyring, start, end });
      expect(Buffer.compare(r.plaintext, plaintext.subarray(start, Math.min(end, size))), `[${start}, ${end})`).toBe(0);
      expect(r.header.frameLength).toBe(frameLength);
      expect(r.plaintextLength).toBe(size);
    }
  });

  it('exact multiple of the frame length (empty final frame) and the empty message', async () => {
    for (const size of [0, 4096, 3 * 4096]) {
      const plaintext = crypto.randomBytes(size);
      const { result } = await envelope.encrypt(plaintext, { keyring, frameLength: 4096 });
      const r = await envelope.decryptRange(result, { keyring, start: 0, end: size });
      expect(Buffer.compare(r.plaintext, plaintext)).toBe(0);
      if (size > 0) expect(Buffer.compare((await envelope.decryptRange(result, { keyring, start: size - 10, end: size })).plaintext, plaintext.subarray(size - 10))).toBe(0);
    }
  });

  it('reads only the header, the covering frames and the final frame (path and FileHandle)', async () => {
    const frameLength = 65536;
    const plaintext = crypto.randomBytes(64 * frameLength + 1234);
    const { result, header } = await envelope.encrypt(plaintext, { keyring, frameLength });
    const file = path.join(dir, 'big.msg');
    fs.writeFileSync(file, result);
    // 10 bytes straddling frames 31 and 32 (0-based): two frames.
    const start = 32 * frameLength - 5;
    const c = await countingHandle(file);
    try {
      const r = await envelope.decryptRange(c.handle, { keyring, start, end: start + 10 });
      expect(Buffer.compare(r.plaintext, plaintext.subarray(start, start + 10))).toBe(0);
      const headerRead = Math.min(4096, result.length);
      expect(header.headerLength).toBeLessThan(headerRead);
      const expected = headerRead + (1234 + 40) + 2 * (frameLength + 32);
      expect(c.bytesRead()).toBe(expected);
      expect(c.bytesRead()).toBeLessThan(result.length / 20);
    } finally {
      await c.close();
    }
    const byPath = await envelope.decryptRange(file, { keyring, start: 5, end: 70_000 });
    expect(Buffer.compare(byPath.plaintext, plaintext.subarray(5, 70_000))).toBe(0);
    const byUrl = await envelope.decryptRange(pathToFileURL(file), { keyring, start: 70_000, end: 70_100 });
    expect(Buffer.compare(byUrl.plaintext, plaintext.subarray(70_000, 70_100))).toBe(0);
    // A file descriptor: positional reads, left open, its position untouched.
    const fd = fs.openSync(file, 'r');
    try {
      const byFd = await envelope.decryptRange(fd, { keyring, start, end: start + 10 });
      expect(Buffer.compare(byFd.plaintext, plaintext.subarray(start, start + 10))).toBe(0);
      const first = Buffer.alloc(4);
      expect(fs.readSync(fd, first, 0, 4, null)).toBe(4);
      expect(first).toEqual(Buffer.from(result.subarray(0, 4)));
    } finally {
      fs.closeSync(fd);
    }
    // A descriptor that is not open: NotFoundException, as a missing path.
    expect(codeOf(await failure(envelope.decryptRange(fd, { keyring, start: 0, end: 1 })))).toBe('NotFoundException');
  });

  it('a header longer than the first read (many data keys) is read progressively', async () => {
    const { MultiKeyring } = await import('../../dist/index.js');
    const children = Array.from({ length: 60 }, (_, i) => new RawAesKeyring({ keyName: `child-${i}-${'x'.repeat(40)}`, keyNamespace: 'hsmkms-range', unencryptedMasterKey: crypto.randomBytes(32) }));
    const multi = new MultiKeyring({ generator: keyring, children });
    const plaintext = crypto.randomBytes(10_000);
    const { result, header } = await envelope.encrypt(plaintext, { keyring: multi, frameLength: 1000 });
    expect(header.headerLength).toBeGreaterThan(4096);
    const r = await envelope.decryptRange(result, { keyring, start: 4500, end: 5600 });
    expect(Buffer.compare(r.plaintext, plaintext.subarray(4500, 5600))).toBe(0);
  });

  it('reads messages written by @aws-crypto/client-node (unsigned suite)', async () => {
    const pair = KEYRING_PAIRS[0]!;
    const plaintext = crypto.randomBytes(50_000);
    const theirs = await peer.encrypt(pair.theirs, plaintext, { suiteId: 0x0478, frameLength: 4096 });
    const r = await envelope.decryptRange(theirs.result, { keyring: pair.ours, start: 10_000, end: 20_000 });
    expect(Buffer.compare(r.plaintext, plaintext.subarray(10_000, 20_000))).toBe(0);
  });

  it('refuses signed messages (ValidationException) and bad ranges (ValidationException)', async () => {
    const plaintext = crypto.randomBytes(10_000);
    const signed = await envelope.encrypt(plaintext, { keyring, algorithmSuite: 0x0578, frameLength: 1000 });
    expect(codeOf(await failure(envelope.decryptRange(signed.result, { keyring, start: 0, end: 10 })))).toBe('ValidationException');
    const { result } = await envelope.encrypt(plaintext, { keyring, frameLength: 1000 });
    expect(codeOf(await failure(envelope.decryptRange(result, { keyring, start: 10_001, end: 10_002 })))).toBe('ValidationException');
    expect(codeOf(await failure(envelope.decryptRange(result, { keyring, start: 10, end: 5 })))).toBe('ValidationException');
    expect(codeOf(await failure(envelope.decryptRange(result, { keyring, start: -1, end: 5 })))).toBe('ValidationException');
    expect(codeOf(await failure(envelope.decryptRange(result, { keyring, start: 1.5, end: 5 })))).toBe('ValidationException');
    for (const notASource of [-1, 1.5, {}, null]) {
      await expect(envelope.decryptRange(notASource as unknown as Uint8Array, { keyring, start: 0, end: 1 })).rejects.toThrow(TypeError);
    }
    expect(codeOf(await failure(envelope.decryptRange(path.join(dir, 'missing'), { keyring, start: 0, end: 1 })))).toBe('NotFoundException');
  });

  it('truncated, extended or tampered messages fail with InvalidCiphertextException', async () => {
    const plaintext = crypto.randomBytes(10_000);
    const { result, header } = await envelope.encrypt(plaintext, { keyring, frameLength: 1000 });
    const bad: Uint8Array[] = [
      result.subarray(0, result.length - 1),
      result.subarray(0, result.length - 1040),
      result.subarray(0, header.headerLength + 10),
      result.subarray(0, 50),
      Buffer.concat([result, Buffer.of(0)]),
      Buffer.concat([result, result.subarray(header.headerLength, header.headerLength + 1032)]),
    ];
    for (const at of [header.headerLength + 2 * 1032 + 100, result.length - 3, 40]) {
      const b = Buffer.from(result);
      b[at]! ^= 1;
      bad.push(b);
    }
    for (const [i, message] of bad.entries()) {
      const error = await failure(envelope.decryptRange(message, { keyring, start: 2000, end: 2100 }));
      expect(codeOf(error), `case ${i}`).toBe('InvalidCiphertextException');
    }
    // A frame outside the range is never read, so damage there goes unseen (by design).
    const outside = Buffer.from(result);
    outside[header.headerLength + 5]! ^= 1;
    expect(Buffer.compare((await envelope.decryptRange(outside, { keyring, start: 2000, end: 2100 })).plaintext, plaintext.subarray(2000, 2100))).toBe(0);
    // The wrong key, too.
    const other = new RawAesKeyring({ keyName: 'range', keyNamespace: 'hsmkms-range', unencryptedMasterKey: crypto.randomBytes(32) });
    expect(codeOf(await failure(envelope.decryptRange(result, { keyring: other, start: 0, end: 1 })))).toBe('InvalidCiphertextException');
  });
});
