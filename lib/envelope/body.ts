/**
 * A whole message body at once: the frame layout, and every frame encrypted
 * or decrypted straight into the caller's buffer. Small frames run on the
 * calling thread (below the AEAD engine's inline threshold a hop to the pool
 * costs more than the AES), yielding to the event loop every few MiB; large
 * frames run on the worker pool in runs of about 512 KiB (one native call
 * each), a bounded number in flight, finishing in any order into their own
 * slices of the output.
 */
import { aead } from '../aead.js';
import { KmsError } from '../errors.js';
import { ByteReader } from './byte-reader.js';
import type { ContentKey } from './content-key.js';
import {
  bodyAad,
  decryptFrames,
  decryptFrameSync,
  encryptFrames,
  encryptFrameSync,
  frameSize,
  MAX_SEQUENCE_NUMBER,
  readFrame,
  REGULAR_FRAME_OVERHEAD,
  type FrameInfo,
  type FrameRules,
} from './frame-codec.js';
import { IncompleteMessage, invalidMessage, invalidOption } from './message-errors.js';
import { IV_LENGTH, TAG_LENGTH } from './suites.js';
import { planRuns, runFramesInParallel } from './parallel-frames.js';

/** Non-framed content is capped by GCM's counter: 2^36 - 32 bytes. */
const MAX_SINGLE_BLOCK = 2 ** 36 - 32;
/** Plaintext bytes run on the calling thread between two yields to the event loop. */
const SYNC_SLICE_BYTES = 4 * 1024 * 1024;

/** Frames: `count` regular ones (each frameLength bytes), then the final one of `finalLength` bytes. */
export interface FramePlan {
  readonly frameLength: number;
  readonly regularFrames: number;
  readonly finalLength: number;
}

/**
 * How a plaintext is cut into frames. An exact multiple of the frame length
 * (and an empty plaintext) ends with an empty final frame, as
 * @aws-crypto/client-node writes it and as a stream has to.
 */
export function planFrames(plaintextLength: number, frameLength: number): FramePlan {
  const regularFrames = Math.floor(plaintextLength / frameLength);
  if (regularFrames > MAX_SEQUENCE_NUMBER) throw invalidOption('The plaintext needs more than 2^32 - 1 frames at this frame length');
  return { frameLength, regularFrames, finalLength: plaintextLength - regularFrames * frameLength };
}

/** Bytes of the framed body for a plan. */
export function framedBodyLength(plan: FramePlan): number {
  return plan.regularFrames * (plan.frameLength + REGULAR_FRAME_OVERHEAD) + frameSize(true, plan.finalLength);
}

/**
 * Runs frame `i` of `count` for each i, sync below the inline threshold;
 * else on the pool, `runAsync(first, n)` for runs of frames first..first+n-1.
 */
async function runFrames(count: number, frameBytes: number, runSync: (i: number) => void, runAsync: (first: number, n: number) => Promise<void>): Promise<void> {
  if (frameBytes <= aead.settings().inlineThreshold) {
    const perSlice = Math.max(1, Math.floor(SYNC_SLICE_BYTES / Math.max(frameBytes, 1)));
    for (let i = 0; i < count; i++) {
      runSync(i);
      if ((i + 1) % perSlice === 0 && i + 1 < count) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return;
  }
  const perRun = planRuns(frameBytes, undefined).framesPerRun;
  const runs = Math.ceil(count / perRun);
  await runFramesInParallel(runs, perRun * frameBytes, (r) => runAsync(r * perRun, Math.min(perRun, count - r * perRun)));
}

/** Encrypts `plaintext` as a framed body into `body` (exactly {@link framedBodyLength} bytes). */
export async function encryptFramedBody(key: ContentKey, messageId: Uint8Array, plan: FramePlan, plaintext: Uint8Array, body: Uint8Array): Promise<void> {
  const { frameLength, regularFrames } = plan;
  const stride = frameLength + REGULAR_FRAME_OVERHEAD;
  const regular = (i: number) => [key, messageId, i + 1, false, plaintext.subarray(i * frameLength, (i + 1) * frameLength), body.subarray(i * stride, (i + 1) * stride)] as const;
  const run = (first: number, n: number) =>
    encryptFrames(key, messageId, first + 1, frameLength, plaintext.subarray(first * frameLength, (first + n) * frameLength), body.subarray(first * stride, (first + n) * stride));
  await runFrames(regularFrames, frameLength, (i) => encryptFrameSync(...regular(i)), run);
  const finalStart = regularFrames * stride;
  encryptFrameSync(key, messageId, regularFrames + 1, true, plaintext.subarray(regularFrames * frameLength), body.subarray(finalStart));
}

/** Where a body's frames are, checked for structure before any decryption. */
export type BodyLayout =
  | { readonly kind: 'framed'; readonly start: number; readonly rules: FrameRules; readonly regularFrames: number; readonly final: FrameInfo; readonly end: number; readonly plaintextLength: number }
  | { readonly kind: 'single'; readonly start: number; readonly contentLength: number; readonly end: number; readonly plaintextLength: number };

function truncatedIsInvalid<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof IncompleteMessage) throw invalidMessage('the message is truncated');
    throw error;
  }
}

/**
 * Walks the framed body at `start`: sequence numbers 1, 2, 3... then exactly
 * one final frame. Rejects reordered, missing or truncated frames.
 */
export function readFramedBody(bytes: Uint8Array, start: number, rules: FrameRules): BodyLayout {
  return truncatedIsInvalid(() => {
    let offset = start;
    for (let seq = 1; ; seq++) {
      const frame = readFrame(bytes, offset, seq, rules);
      offset = frame.end;
      if (frame.final) {
        const regularFrames = seq - 1;
        return { kind: 'framed', start, rules, regularFrames, final: frame, end: offset, plaintextLength: regularFrames * rules.frameLength + frame.contentLength };
      }
    }
  });
}

/** Reads a non-framed (legacy) body: IV (12) || u64 length || ciphertext || tag. */
export function readSingleBlockBody(bytes: Uint8Array, start: number): BodyLayout {
  return truncatedIsInvalid(() => {
    const reader = new ByteReader(bytes, start + IV_LENGTH);
    const contentLength = reader.u64();
    if (contentLength > MAX_SINGLE_BLOCK) throw invalidMessage('the content is too long');
    reader.take(contentLength + TAG_LENGTH);
    return { kind: 'single', start, contentLength, end: reader.offset, plaintextLength: contentLength };
  });
}

/** A tag failure from the engine, reported like every other bad message. */
function asInvalid(error: unknown): unknown {
  return error instanceof KmsError && error.code === 'InvalidCiphertextException' ? invalidMessage('a frame does not authenticate') : error;
}

/** Decrypts a body read by {@link readFramedBody} / {@link readSingleBlockBody} into `out` (plaintextLength bytes). */
export async function decryptBody(key: ContentKey, messageId: Uint8Array, bytes: Uint8Array, layout: BodyLayout, out: Uint8Array): Promise<void> {
  try {
    if (layout.kind === 'single') {
      decryptSingleBlock(key, messageId, bytes, layout, out);
      return;
    }
    const { frameLength } = layout.rules;
    const stride = frameLength + REGULAR_FRAME_OVERHEAD;
    const regular = (i: number) => {
      const start = layout.start + i * stride;
      const frame: FrameInfo = { seq: i + 1, final: false, contentLength: frameLength, start, end: start + stride };
      return [key, messageId, bytes, frame, out.subarray(i * frameLength, (i + 1) * frameLength)] as const;
    };
    const run = (first: number, n: number) =>
      decryptFrames(key, messageId, first + 1, frameLength, bytes.subarray(layout.start + first * stride, layout.start + (first + n) * stride), out.subarray(first * frameLength, (first + n) * frameLength), layout.rules.requireFrameIv);
    await runFrames(layout.regularFrames, frameLength, (i) => decryptFrameSync(...regular(i)), run);
    decryptFrameSync(key, messageId, bytes, layout.final, out.subarray(layout.regularFrames * frameLength));
  } catch (error) {
    throw asInvalid(error);
  }
}

function decryptSingleBlock(key: ContentKey, messageId: Uint8Array, bytes: Uint8Array, layout: BodyLayout & { kind: 'single' }, out: Uint8Array): void {
  const sealed = new Uint8Array(IV_LENGTH + layout.contentLength + TAG_LENGTH);
  sealed.set(bytes.subarray(layout.start, layout.start + IV_LENGTH));
  sealed.set(bytes.subarray(layout.start + IV_LENGTH + 8, layout.end), IV_LENGTH);
  key.openSync(sealed, bodyAad(messageId, 'single', 1, layout.contentLength), out);
}
