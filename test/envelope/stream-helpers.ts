// Helpers for the envelope stream tests: chunked sources, collecting sinks,
// and a check that no failure escapes as an uncaught exception.
import crypto from 'node:crypto';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** `bytes` cut into random chunks of 1..maxChunk bytes. */
export function randomChunks(bytes: Uint8Array, maxChunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = 1 + crypto.randomInt(maxChunk);
    out.push(Buffer.from(bytes.subarray(at, at + length)));
    at += length;
  }
  return out;
}

/** Pipes chunks through a transform and collects the output. */
export async function through(transform: Transform, chunks: Uint8Array[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(Readable.from(chunks), transform, new Writable({ write(c: Buffer, _e, cb) { parts.push(c); cb(); } }));
  return Buffer.concat(parts);
}

/** Like {@link through}, but resolves with the error and what was emitted before it. */
export async function throughFailing(transform: Transform, chunks: Uint8Array[]): Promise<{ error: unknown; emitted: Buffer }> {
  const parts: Buffer[] = [];
  try {
    await pipeline(Readable.from(chunks), transform, new Writable({ write(c: Buffer, _e, cb) { parts.push(c); cb(); } }));
  } catch (error) {
    return { error, emitted: Buffer.concat(parts) };
  }
  return { error: undefined, emitted: Buffer.concat(parts) };
}

/** Counts uncaught exceptions and unhandled rejections while a test file runs. */
export function watchUncaught(): { readonly count: number; stop(): void } {
  let count = 0;
  const onError = (): void => {
    count++;
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    get count() {
      return count;
    },
    stop() {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}
