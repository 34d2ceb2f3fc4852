// Negative paths: tampering, wrong key/AAD, truncation, batches with bad
// members, argument errors (synchronous, with Node's codes), and the byte
// views accepted in place of a Uint8Array.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { aead, AeadKey, KmsError } from '../dist/index.js';
import { asyncCall, expectCode, nodeOpen, nodeSeal, rejection, syncThrow } from './helpers/gcm.js';

const keyBytes = randomBytes(32);
const key = aead.importKey(keyBytes);
const otherKey = aead.generateKey();
const aad = Buffer.from('tenant=42;purpose=test');
const plaintext = Buffer.from('a short secret message!'); // 23 bytes
const sealed = aead.encryptSync(key, plaintext, { aad });

const initial = aead.settings();
afterEach(() => {
  vi.restoreAllMocks();
  aead.configure(initial);
});
afterAll(() => {
  key.destroy();
  otherKey.destroy();
});

type Path = 'sync' | 'async inline' | 'async pool' | 'async pool + signal';
const paths: Path[] = ['sync', 'async inline', 'async pool', 'async pool + signal'];

/**
 * Decrypts on one path expecting InvalidCiphertextException, and checks the
 * output buffer the library allocated was wiped (no plaintext released).
 */
async function expectRejectedOn(path: Path, k: AeadKey, input: Uint8Array, options: { aad?: Uint8Array } = {}): Promise<void> {
  aead.configure({ inlineThreshold: path === 'sync' || path === 'async inline' ? initial.inlineThreshold : 0 });
  const fast = vi.spyOn(Buffer, 'allocUnsafe');
  const slow = vi.spyOn(Buffer, 'allocUnsafeSlow');
  let error: unknown;
  if (path === 'sync') {
    error = syncThrow(() => aead.decryptSync(k, input, options));
  } else {
    const signal = path === 'async pool + signal' ? new AbortController().signal : undefined;
    error = await rejection(asyncCall(() => aead.decrypt(k, input, { ...options, signal })));
  }
  expect(error).toBeInstanceOf(KmsError);
  expectCode(error, 'InvalidCiphertextException');
  expect((error as Error).message).not.toContain(plaintext.toString());
  const outputs = [...fast.mock.results, ...slow.mock.results]
    .map((r) => r.value as Buffer)
    .filter((b) => b.length === Math.max(input.length - 28, 0));
  expect(outputs.length).toBeGreaterThan(0);
  for (const out of outputs) expect(out.every((b) => b === 0), `${path}: output wiped`).toBe(true);
  fast.mockRestore();
  slow.mockRestore();
}

function flipBit(bytes: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

describe('tampering', () => {
  const bits = sealed.length * 8;

  it(`the unmodified message opens on every path (control)`, async () => {
    expect(Buffer.from(aead.decryptSync(key, sealed, { aad })).equals(plaintext)).toBe(true);
    aead.configure({ inlineThreshold: 0 });
    expect(Buffer.from(await aead.decrypt(key, sealed, { aad })).equals(plaintext)).toBe(true);
    expect(Buffer.from(await aead.decrypt(key, sealed, { aad, signal: new AbortController().signal })).equals(plaintext)).toBe(true);
    expect(nodeOpen(keyBytes, sealed, aad).equals(plaintext)).toBe(true);
  });

  it.each(paths)(`every single-bit flip of a ${sealed.length}-byte message (IV, ciphertext, tag) is rejected: %s`, async (path) => {
    for (let bit = 0; bit < bits; bit++) await expectRejectedOn(path, key, flipBit(sealed, bit), { aad });
  });

  it('every single-bit flip is rejected by decryptBatch, with every index reported and nothing released', async () => {
    const flipped = Array.from({ length: bits }, (_, bit) => flipBit(sealed, bit));
    const slow = vi.spyOn(Buffer, 'allocUnsafeSlow');
    const error = await rejection(asyncCall(() => aead.decryptBatch(key, flipped, { aad })));
    expectCode(error, 'InvalidCiphertextException');
    expect((error as { failedIndices: number[] }).failedIndices).toEqual(flipped.map((_, i) => i));
    const out = slow.mock.results.map((r) => r.value as Buffer).find((b) => b.length === bits * plaintext.length);
    expect(out).toBeDefined();
    expect(out!.every((b) => b === 0)).toBe(true);
  });
});

describe('wrong key, wrong or missing AAD', () => {
  it.each(paths)('%s', async (path) => {
    await expectRejectedOn(path, otherKey, sealed, { aad });
    await expectRejectedOn(path, key, sealed, {}); // AAD missing
    await expectRejectedOn(path, key, sealed, { aad: new Uint8Array(0) }); // AAD empty
    await expectRejectedOn(path, key, sealed, { aad: Buffer.concat([aad, Buffer.from([0])]) });
    await expectRejectedOn(path, key, sealed, { aad: aad.subarray(1) });
    await expectRejectedOn(path, key, sealed, { aad: flipBit(aad, 3) });
    // Sealed without AAD, opened with some.
    const bare = aead.encryptSync(key, plaintext);
    await expectRejectedOn(path, key, bare, { aad });
    await expectRejectedOn(path, aead.importKey(flipBit(keyBytes, 255)), sealed, { aad });
  });

  it('empty AAD and no AAD are the same thing in GCM (control)', () => {
    const bare = aead.encryptSync(key, plaintext);
    expect(Buffer.from(aead.decryptSync(key, bare, { aad: new Uint8Array(0) })).equals(plaintext)).toBe(true);
  });
});

describe('truncation and extension', () => {
  it.each(paths)('lengths 0..27 (shorter than IV + tag): %s', async (path) => {
    for (let length = 0; length < 28; length++) {
      await expectRejectedOn(path, key, sealed.subarray(0, length), { aad });
      await expectRejectedOn(path, key, new Uint8Array(length), { aad });
    }
  });

  it.each(paths)('every other truncation, from either end, and extension: %s', async (path) => {
    for (let length = 28; length < sealed.length; length++) {
      await expectRejectedOn(path, key, sealed.subarray(0, length), { aad });
      await expectRejectedOn(path, key, sealed.subarray(sealed.length - length), { aad });
    }
    await expectRejectedOn(path, key, Buffer.concat([sealed, Buffer.from([0])]), { aad });
    await expectRejectedOn(path, key, Buffer.concat([Buffer.from([0]), sealed]), { aad });
    // An empty plaintext's 28-byte message, truncated by one.
    const empty = aead.encryptSync(key, new Uint8Array(0), { aad });
    expect(empty.length).toBe(28);
    await expectRejectedOn(path, key, empty.subarray(0, 27), { aad });
  });
});

describe('decryptBatch with bad members', () => {
  const goods = Array.from({ length: 6 }, (_, i) => aead.encryptSync(key, Buffer.alloc(100 + i, i + 1), { aad }));

  async function expectBatchRejected(messages: Uint8Array[], failed: number[]): Promise<void> {
    const slow = vi.spyOn(Buffer, 'allocUnsafeSlow');
    const error = await rejection(asyncCall(() => aead.decryptBatch(key, messages, { aad })));
    expect(error).toBeInstanceOf(KmsError);
    expectCode(error, 'InvalidCiphertextException');
    expect((error as { failedIndices?: number[] }).failedIndices).toEqual(failed);
    // Whatever output buffer was allocated holds no plaintext (the input
    // buffer the batch is packed into is the other allocation).
    const plaintextTotal = messages.reduce((n, m) => n + Math.max(m.length - 28, 0), 0);
    const outputs = slow.mock.results.map((r) => r.value as Buffer).filter((b) => b.length === plaintextTotal);
    if (messages.every((m) => m.length >= 28)) expect(outputs.length).toBeGreaterThan(0);
    for (const out of outputs) expect(out.every((b) => b === 0)).toBe(true);
    slow.mockRestore();
  }

  it('the good ones alone open (control)', async () => {
    const opened = await aead.decryptBatch(key, goods, { aad });
    opened.forEach((p, i) => expect(Buffer.from(p).equals(Buffer.alloc(100 + i, i + 1))).toBe(true));
  });

  it('one tampered message: rejects with its index and no plaintext', async () => {
    const messages = [...goods];
    messages[3] = flipBit(goods[3]!, 12 * 8 + 5);
    await expectBatchRejected(messages, [3]);
  });

  it('two bad messages (tampered tag, other key)', async () => {
    const messages = [...goods];
    messages[1] = flipBit(goods[1]!, goods[1]!.length * 8 - 1);
    messages[4] = aead.encryptSync(otherKey, Buffer.alloc(104, 5), { aad });
    await expectBatchRejected(messages, [1, 4]);
  });

  it('the wrong AAD fails every message', async () => {
    const error = await rejection(aead.decryptBatch(key, goods, { aad: Buffer.from('other') }));
    expectCode(error, 'InvalidCiphertextException');
    expect((error as { failedIndices?: number[] }).failedIndices).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a message shorter than IV + tag: rejects (not throws) with its index', async () => {
    await expectBatchRejected([goods[0]!, goods[1]!.subarray(0, 27), goods[2]!], [1]);
    await expectBatchRejected([new Uint8Array(0)], [0]);
  });
});

describe('argument errors are thrown synchronously with Node codes', () => {
  const good = Buffer.from('x');
  const sealedGood = aead.encryptSync(key, good);
  const notBytes: unknown[] = ['text', 42, null, {}, [1, 2, 3], new ArrayBuffer(4)];
  const notObjects: unknown[] = ['opts', 1, true, null, () => undefined];

  // Each call site of the API, with one argument replaced by `bad`.
  const sync = {
    encryptSync: (k: unknown, p: unknown, o?: unknown) => aead.encryptSync(k as AeadKey, p as Uint8Array, o as object),
    decryptSync: (k: unknown, p: unknown, o?: unknown) => aead.decryptSync(k as AeadKey, p as Uint8Array, o as object),
  };
  const single = {
    encrypt: (k: unknown, p: unknown, o?: unknown) => aead.encrypt(k as AeadKey, p as Uint8Array, o as object),
    decrypt: (k: unknown, p: unknown, o?: unknown) => aead.decrypt(k as AeadKey, p as Uint8Array, o as object),
  };
  const batch = {
    encryptBatch: (k: unknown, p: unknown, o?: unknown) => aead.encryptBatch(k as AeadKey, p as Uint8Array[], o as object),
    decryptBatch: (k: unknown, p: unknown, o?: unknown) => aead.decryptBatch(k as AeadKey, p as Uint8Array[], o as object),
  };
  const inputFor = (name: string): unknown => (name.startsWith('decrypt') ? sealedGood : good);
  const batchInputFor = (name: string): unknown => [inputFor(name)];
  const all = { ...sync, ...single, ...batch };
  const argsFor = (name: string): unknown => (name in batch ? batchInputFor(name) : inputFor(name));

  function expectArgError(fn: () => unknown, code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE'): void {
    const error = syncThrow(fn);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as { code: string }).code).toBe(code);
    expect(error).not.toBeInstanceOf(KmsError);
  }

  it.each(Object.keys(all))('%s: controls succeed', async (name) => {
    await all[name as keyof typeof all](key, argsFor(name), { aad: undefined });
  });

  it.each(Object.keys({ ...sync, ...single }))('%s: plaintext/sealed not bytes -> ERR_INVALID_ARG_TYPE', (name) => {
    const fn = all[name as keyof typeof all];
    for (const bad of [...notBytes, undefined]) expectArgError(() => fn(key, bad), 'ERR_INVALID_ARG_TYPE');
  });

  it.each(Object.keys(batch))('%s: messages not an array of bytes -> ERR_INVALID_ARG_TYPE', (name) => {
    const fn = all[name as keyof typeof all];
    for (const bad of [undefined, 'text', good, new Set([good])]) expectArgError(() => fn(key, bad), 'ERR_INVALID_ARG_TYPE');
    for (const bad of notBytes) expectArgError(() => fn(key, [inputFor(name), bad]), 'ERR_INVALID_ARG_TYPE');
  });

  it.each(Object.keys(all))('%s: key not an AeadKey -> ERR_INVALID_ARG_TYPE', (name) => {
    const fn = all[name as keyof typeof all];
    const lookalike = Object.create(AeadKey.prototype) as unknown;
    for (const bad of [undefined, null, keyBytes, {}, 'key', lookalike]) {
      expectArgError(() => fn(bad, argsFor(name)), 'ERR_INVALID_ARG_TYPE');
    }
  });

  it.each(Object.keys(all))('%s: options not an object -> ERR_INVALID_ARG_TYPE', (name) => {
    const fn = all[name as keyof typeof all];
    for (const bad of notObjects) expectArgError(() => fn(key, argsFor(name), bad), 'ERR_INVALID_ARG_TYPE');
  });

  it.each(Object.keys(all))('%s: aad not bytes -> ERR_INVALID_ARG_TYPE', (name) => {
    const fn = all[name as keyof typeof all];
    for (const bad of notBytes) expectArgError(() => fn(key, argsFor(name), { aad: bad }), 'ERR_INVALID_ARG_TYPE');
  });

  it.each(Object.keys({ ...single, ...batch }))('%s: signal not an AbortSignal -> ERR_INVALID_ARG_TYPE', (name) => {
    const fn = all[name as keyof typeof all];
    for (const bad of [null, 'abort', {}, new AbortController(), { aborted: true, addEventListener() {} }]) {
      expectArgError(() => fn(key, argsFor(name), { signal: bad }), 'ERR_INVALID_ARG_TYPE');
    }
  });

  it.each(['encryptSync', 'encrypt'] as const)('%s: IV of 11, 13, 0 or 16 bytes -> ERR_INVALID_ARG_VALUE; not bytes -> TYPE', (name) => {
    const fn = all[name];
    for (const length of [0, 11, 13, 16]) expectArgError(() => fn(key, good, { iv: new Uint8Array(length) }), 'ERR_INVALID_ARG_VALUE');
    for (const bad of notBytes) expectArgError(() => fn(key, good, { iv: bad }), 'ERR_INVALID_ARG_TYPE');
  });

  it('importKey: 16, 31, 33, 0 or 64 bytes -> ERR_INVALID_ARG_VALUE; not bytes -> ERR_INVALID_ARG_TYPE', () => {
    for (const length of [16, 31, 33, 0, 64]) expectArgError(() => aead.importKey(new Uint8Array(length)), 'ERR_INVALID_ARG_VALUE');
    for (const bad of [...notBytes, undefined]) expectArgError(() => aead.importKey(bad as Uint8Array), 'ERR_INVALID_ARG_TYPE');
  });

  it('configure: bad settings -> ERR_INVALID_ARG_VALUE / TYPE, settings unchanged', () => {
    const before = aead.settings();
    for (const threads of [0, -1, 1.5, 1025, NaN, '2']) expectArgError(() => aead.configure({ threads: threads as number }), 'ERR_INVALID_ARG_VALUE');
    for (const inlineThreshold of [-1, 0.5, NaN, Infinity, '10']) {
      expectArgError(() => aead.configure({ inlineThreshold: inlineThreshold as number }), 'ERR_INVALID_ARG_VALUE');
    }
    for (const bad of notObjects) expectArgError(() => aead.configure(bad as object), 'ERR_INVALID_ARG_TYPE');
    expect(aead.settings()).toEqual(before);
  });
});

describe('operational errors of the async functions reject, never throw', () => {
  const good = (): Buffer => Buffer.from('x');

  it('a destroyed key: KeyUnavailableException on every path', async () => {
    const k = aead.importKey(randomBytes(32));
    const small = aead.encryptSync(k, good());
    const big = aead.encryptSync(k, Buffer.alloc(10_000));
    k.destroy();
    expect(k.destroyed).toBe(true);
    expectCode(syncThrow(() => aead.encryptSync(k, good())), 'KeyUnavailableException');
    expectCode(syncThrow(() => aead.decryptSync(k, small)), 'KeyUnavailableException');
    for (const inlineThreshold of [initial.inlineThreshold, 0]) {
      aead.configure({ inlineThreshold });
      for (const signal of [undefined, new AbortController().signal]) {
        expectCode(await rejection(asyncCall(() => aead.encrypt(k, good(), { signal }))), 'KeyUnavailableException');
        expectCode(await rejection(asyncCall(() => aead.encrypt(k, Buffer.alloc(10_000), { signal }))), 'KeyUnavailableException');
        expectCode(await rejection(asyncCall(() => aead.decrypt(k, small, { signal }))), 'KeyUnavailableException');
        expectCode(await rejection(asyncCall(() => aead.decrypt(k, big, { signal }))), 'KeyUnavailableException');
        expectCode(await rejection(asyncCall(() => aead.encryptBatch(k, [good()], { signal }))), 'KeyUnavailableException');
        expectCode(await rejection(asyncCall(() => aead.decryptBatch(k, [small], { signal }))), 'KeyUnavailableException');
      }
    }
  });
});

describe('other ArrayBufferViews are accepted as bytes', () => {
  // Views into the middle of a larger buffer, so offsets matter.
  function viewsOf(bytes: Uint8Array): Record<string, Uint8Array | DataView | Uint16Array> {
    const padded = new ArrayBuffer(bytes.length + 8);
    new Uint8Array(padded).set(bytes, 4);
    const even = bytes.length % 2 === 0;
    return {
      Buffer: Buffer.from(padded, 4, bytes.length),
      DataView: new DataView(padded, 4, bytes.length),
      ...(even ? { Uint16Array: new Uint16Array(padded, 4, bytes.length / 2) } : {}),
      'Uint8Array.subarray': new Uint8Array(padded).subarray(4, 4 + bytes.length),
    };
  }
  const message = randomBytes(64);
  const context = randomBytes(10);
  const iv = randomBytes(12);

  it.each(Object.keys(viewsOf(message)))('%s as plaintext, sealed, AAD, IV and key bytes', async (kind) => {
    const pt = viewsOf(message)[kind]! as Uint8Array;
    const ad = viewsOf(context)[kind]! as Uint8Array;
    const ivView = viewsOf(iv)[kind]! as Uint8Array;
    const k = aead.importKey(viewsOf(keyBytes)[kind]! as Uint8Array);
    const expected = nodeSeal(keyBytes, message, context, iv);
    expect(Buffer.from(aead.encryptSync(k, pt, { aad: ad, iv: ivView })).equals(expected)).toBe(true);
    expect(Buffer.from(await aead.encrypt(k, pt, { aad: ad, iv: ivView })).equals(expected)).toBe(true);
    aead.configure({ inlineThreshold: 0 });
    expect(Buffer.from(await aead.encrypt(k, pt, { aad: ad, iv: ivView })).equals(expected)).toBe(true);
    const sealedView = viewsOf(expected)[kind]! as Uint8Array;
    expect(Buffer.from(aead.decryptSync(k, sealedView, { aad: ad })).equals(message)).toBe(true);
    expect(Buffer.from(await aead.decrypt(k, sealedView, { aad: ad })).equals(message)).toBe(true);
    const [batchSealed] = await aead.encryptBatch(k, [pt], { aad: ad });
    expect(nodeOpen(keyBytes, batchSealed!, context).equals(message)).toBe(true);
    const [batchOpened] = await aead.decryptBatch(k, [sealedView], { aad: ad });
    expect(Buffer.from(batchOpened!).equals(message)).toBe(true);
    k.destroy();
  });
});

describe('the output option', () => {
  const tampered = flipBit(sealed, sealed.length * 8 - 1); // last tag bit

  it.each(['sync', 'async inline', 'async pool'] as const)('a failed decrypt wipes the caller output and rejects: %s', async (path) => {
    aead.configure({ inlineThreshold: path === 'async pool' ? 0 : initial.inlineThreshold });
    for (const input of [tampered, sealed]) {
      const output = Buffer.alloc(plaintext.length, 0xee);
      const options = { aad: input === sealed ? Buffer.from('wrong') : aad, output };
      const error = path === 'sync' ? syncThrow(() => aead.decryptSync(key, input, options)) : await rejection(asyncCall(() => aead.decrypt(key, input, options)));
      expectCode(error, 'InvalidCiphertextException');
      expect(output.every((b) => b === 0)).toBe(true);
    }
  });

  it.each(['sync', 'async pool'] as const)('a failed in-place decrypt leaves no plaintext in the region: %s', async (path) => {
    aead.configure({ inlineThreshold: path === 'async pool' ? 0 : initial.inlineThreshold });
    const copy = Buffer.from(tampered);
    const region = copy.subarray(12, copy.length - 16);
    const error =
      path === 'sync'
        ? syncThrow(() => aead.decryptSync(key, copy, { aad, output: region }))
        : await rejection(asyncCall(() => aead.decrypt(key, copy, { aad, output: region })));
    expectCode(error, 'InvalidCiphertextException');
    expect(region.every((b) => b === 0)).toBe(true);
    expect(copy.includes(plaintext)).toBe(false);
  });

  it.each(['encryptSync', 'encrypt', 'decryptSync', 'decrypt'] as const)('%s: wrong size or overlap -> ERR_INVALID_ARG_VALUE; not bytes -> TYPE', (name) => {
    const encrypting = name.startsWith('encrypt');
    const input = encrypting ? Buffer.from(plaintext) : Buffer.from(sealed);
    const length = encrypting ? input.length + 28 : input.length - 28;
    const call = (output: unknown) => () =>
      (aead[name] as (k: AeadKey, i: Uint8Array, o: object) => unknown)(key, input, { aad, output });
    for (const bad of [length - 1, length + 1, 0]) {
      const error = syncThrow(call(new Uint8Array(bad)));
      expect((error as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    }
    for (const bad of ['x', 1, {}, null]) expect((syncThrow(call(bad)) as { code: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    // Same memory as the input, but not at the in-place offset.
    const shared = new Uint8Array(input.length + 64);
    const inputView = shared.subarray(8, 8 + input.length);
    inputView.set(input);
    for (const start of [0, 8, 9, 30]) {
      const overlapping = shared.subarray(start, start + length);
      if (overlapping.length !== length) continue;
      const error = syncThrow(() => (aead[name] as (k: AeadKey, i: Uint8Array, o: object) => unknown)(key, inputView, { aad, output: overlapping }));
      expect((error as { code: string }).code, `output at ${start}`).toBe('ERR_INVALID_ARG_VALUE');
    }
  });
});
