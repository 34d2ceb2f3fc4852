// Shared test helpers: a reference AES-256-GCM (node:crypto) in the sealed
// format of hsmkms (IV || ciphertext || tag), a seeded PRNG, and error checks.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { expect } from 'vitest';

/** node:crypto seal: 12-byte IV || ciphertext || 16-byte tag. */
export function nodeSeal(key: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array, iv: Uint8Array = randomBytes(12)): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (aad !== undefined) cipher.setAAD(aad);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** node:crypto open of a sealed message; throws on a bad tag. */
export function nodeOpen(key: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Buffer {
  const iv = sealed.subarray(0, 12);
  const tag = sealed.subarray(sealed.length - 16);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  if (aad !== undefined) decipher.setAAD(aad);
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}

/** mulberry32: a small seeded PRNG so that a failing random case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: TEST_SEED when set, else random (printed in test names). */
export function testSeed(): number {
  const fromEnv = process.env.TEST_SEED;
  return fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 32);
}

/** Deterministic pseudo-random bytes from a PRNG: xorshift128 seeded by it (cheap enough for MiBs). */
export function bytesFrom(rand: () => number, length: number): Buffer {
  let x = (rand() * 2 ** 32) >>> 0 || 1;
  let y = (rand() * 2 ** 32) >>> 0;
  let z = (rand() * 2 ** 32) >>> 0;
  let w = (rand() * 2 ** 32) >>> 0;
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let i = 0; i < words.length; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    words[i] = w;
  }
  return Buffer.from(words.buffer, 0, length);
}

/** Asserts `error` is a KmsError-shaped error with `code`. */
export function expectCode(error: unknown, code: string, name = 'KmsError'): void {
  expect(error).toBeInstanceOf(Error);
  expect((error as { name: string }).name).toBe(name);
  expect((error as { code: string }).code).toBe(code);
}

/** Runs `fn`, which must throw synchronously; returns the error. */
export function syncThrow(fn: () => unknown): unknown {
  let returned: unknown;
  try {
    returned = fn();
  } catch (error) {
    return error;
  }
  // A returned promise means the error (if any) was not synchronous.
  if (returned instanceof Promise) returned.catch(() => undefined);
  throw new Error(`expected a synchronous throw, got ${returned instanceof Promise ? 'a promise' : typeof returned}`);
}

/** Awaits a promise that must reject; returns the reason. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got a resolved promise');
}

/** Calls an async API and checks it did not throw synchronously: operational errors must reject. */
export function asyncCall<T>(fn: () => Promise<T>): Promise<T> {
  let promise: Promise<T>;
  try {
    promise = fn();
  } catch (error) {
    throw new Error(`async function threw synchronously: ${String((error as Error)?.message ?? error)} (code ${(error as { code?: string })?.code})`);
  }
  expect(promise).toBeInstanceOf(Promise);
  return promise;
}
