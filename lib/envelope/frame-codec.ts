/**
 * One frame of a framed body, encrypted or decrypted on its own: a frame
 * depends only on (content key, message ID, sequence number, final?, bytes),
 * so frames can run in parallel and a stream can reuse these functions.
 *
 *   regular frame: u32 seq || IV (12) || ciphertext (frameLength) || tag (16)
 *   final frame:   FFFFFFFF || u32 seq || IV (12) || u32 length || ciphertext || tag
 *   IV = 8 zero bytes || u32 seq;  AAD = message ID || content string || u32 seq || u64 length
 *
 * A regular frame past its sequence number is exactly the AEAD engine's
 * sealed layout (IV || ciphertext || tag), so it is written and read in
 * place; the final frame's length field splits that layout, so it goes
 * through a small copy on decrypt and a fix-up on encrypt.
 */
import { ByteReader } from './byte-reader.js';
import { NativeContentKey, type ContentKey } from './content-key.js';
import { invalidMessage } from './message-errors.js';
import { IV_LENGTH, TAG_LENGTH } from './suites.js';

/** Bytes a regular frame adds to its plaintext: seq (4) + IV (12) + tag (16). */
export const REGULAR_FRAME_OVERHEAD = 4 + IV_LENGTH + TAG_LENGTH;
/** Bytes a final frame adds: marker (4) + seq (4) + IV (12) + length (4) + tag (16). */
export const FINAL_FRAME_OVERHEAD = 8 + IV_LENGTH + 4 + TAG_LENGTH;
/** The sequence-number-end marker that starts the final frame. */
export const FINAL_FRAME_MARKER = 0xffff_ffff;
/** Highest sequence number a message can use (the frame count fits a u32). */
export const MAX_SEQUENCE_NUMBER = 0xffff_ffff - 1;

const encoder = new TextEncoder();
/** The body AAD content strings (ASCII, no length prefix). */
export const CONTENT_STRING = Object.freeze({
  frame: encoder.encode('AWSKMSEncryptionClient Frame'),
  final: encoder.encode('AWSKMSEncryptionClient Final Frame'),
  single: encoder.encode('AWSKMSEncryptionClient Single Block'),
});
export type ContentKind = keyof typeof CONTENT_STRING;

/** The body AAD of one frame (or of a non-framed body: kind 'single', seq 1). */
export function bodyAad(messageId: Uint8Array, kind: ContentKind, seq: number, length: number): Uint8Array {
  const label = CONTENT_STRING[kind];
  const aad = new Uint8Array(messageId.length + label.length + 12);
  aad.set(messageId);
  aad.set(label, messageId.length);
  const view = new DataView(aad.buffer);
  view.setUint32(messageId.length + label.length, seq);
  view.setBigUint64(messageId.length + label.length + 4, BigInt(length));
  return aad;
}

/** The deterministic frame IV: 8 zero bytes || u32 seq. */
export function frameIv(seq: number): Uint8Array {
  const iv = new Uint8Array(IV_LENGTH);
  new DataView(iv.buffer).setUint32(8, seq);
  return iv;
}

/** True when `iv` is the deterministic IV of frame `seq`. */
export function isFrameIv(iv: Uint8Array, seq: number): boolean {
  for (let i = 0; i < 8; i++) if (iv[i] !== 0) return false;
  return new DataView(iv.buffer, iv.byteOffset, IV_LENGTH).getUint32(8) === seq;
}

/** The size of a frame holding `contentLength` plaintext bytes. */
export function frameSize(final: boolean, contentLength: number): number {
  return contentLength + (final ? FINAL_FRAME_OVERHEAD : REGULAR_FRAME_OVERHEAD);
}

interface SealJob {
  iv: Uint8Array;
  aad: Uint8Array;
  /** Where the engine writes IV || ciphertext || tag. */
  sealed: Uint8Array;
  /** Writes the fields the sealed layout does not cover. */
  finish(): void;
}

function sealJob(messageId: Uint8Array, seq: number, final: boolean, plaintextLength: number, frame: Uint8Array): SealJob {
  if (frame.length !== frameSize(final, plaintextLength)) throw new RangeError('frame buffer size mismatch');
  const iv = frameIv(seq);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
  if (!final) {
    view.setUint32(0, seq);
    return { iv, aad: bodyAad(messageId, 'frame', seq, plaintextLength), sealed: frame.subarray(4), finish: () => undefined };
  }
  // The engine writes its IV at 12..24 so that the ciphertext lands at 24;
  // then the real IV (8..20) and length (20..24) overwrite that copy.
  return {
    iv,
    aad: bodyAad(messageId, 'final', seq, plaintextLength),
    sealed: frame.subarray(12),
    finish: () => {
      view.setUint32(0, FINAL_FRAME_MARKER);
      view.setUint32(4, seq);
      frame.set(iv, 8);
      view.setUint32(20, plaintextLength);
    },
  };
}

/** Encrypts one frame into `frame` (exactly {@link frameSize} bytes), on the calling thread. */
export function encryptFrameSync(key: ContentKey, messageId: Uint8Array, seq: number, final: boolean, plaintext: Uint8Array, frame: Uint8Array): void {
  const job = sealJob(messageId, seq, final, plaintext.length, frame);
  key.sealSync(plaintext, job.iv, job.aad, job.sealed);
  job.finish();
}

/** Encrypts one frame into `frame` (exactly {@link frameSize} bytes), on the worker pool when large. */
export async function encryptFrame(key: ContentKey, messageId: Uint8Array, seq: number, final: boolean, plaintext: Uint8Array, frame: Uint8Array): Promise<void> {
  const job = sealJob(messageId, seq, final, plaintext.length, frame);
  await key.seal(plaintext, job.iv, job.aad, job.sealed);
  job.finish();
}

/** Where a frame sits in the message and what it holds. */
export interface FrameInfo {
  readonly seq: number;
  readonly final: boolean;
  readonly contentLength: number;
  /** Offset of the frame's first byte. */
  readonly start: number;
  /** Offset just past its tag. */
  readonly end: number;
}

/** How frames are checked while reading: the v2 rules, or the lenient v1 ones. */
export interface FrameRules {
  readonly frameLength: number;
  /** v2 input: the stored IV must be the deterministic one. v1: decrypt with the stored IV, as the SDKs do. */
  readonly requireFrameIv: boolean;
}

/**
 * Reads the frame at `offset` and checks its structure (sequence number,
 * length, IV) without decrypting. Throws {@link IncompleteMessage} when the
 * frame is not all there yet.
 */
export function readFrame(bytes: Uint8Array, offset: number, expectedSeq: number, rules: FrameRules): FrameInfo {
  const reader = new ByteReader(bytes, offset);
  const first = reader.u32();
  const final = first === FINAL_FRAME_MARKER;
  const seq = final ? reader.u32() : first;
  if (seq !== expectedSeq) throw invalidMessage('frames are out of order or missing');
  const iv = reader.take(IV_LENGTH);
  if (rules.requireFrameIv && !isFrameIv(iv, seq)) throw invalidMessage('a frame IV is not its sequence number');
  const contentLength = final ? reader.u32() : rules.frameLength;
  if (contentLength > rules.frameLength) throw invalidMessage('the final frame is longer than the frame length');
  if (!final && seq > MAX_SEQUENCE_NUMBER) throw invalidMessage('too many frames');
  reader.take(contentLength + TAG_LENGTH);
  return { seq, final, contentLength, start: offset, end: reader.offset };
}

/** The sealed layout of a frame: a view for a regular frame, a copy for the final one. */
function sealedOf(bytes: Uint8Array, frame: FrameInfo): Uint8Array {
  if (!frame.final) return bytes.subarray(frame.start + 4, frame.end);
  const sealed = new Uint8Array(IV_LENGTH + frame.contentLength + TAG_LENGTH);
  sealed.set(bytes.subarray(frame.start + 8, frame.start + 8 + IV_LENGTH));
  sealed.set(bytes.subarray(frame.start + 8 + IV_LENGTH + 4, frame.end), IV_LENGTH);
  return sealed;
}

function frameAad(messageId: Uint8Array, frame: FrameInfo): Uint8Array {
  return bodyAad(messageId, frame.final ? 'final' : 'frame', frame.seq, frame.contentLength);
}

/** Decrypts a frame read by {@link readFrame} into `out` (contentLength bytes), on the calling thread. */
export function decryptFrameSync(key: ContentKey, messageId: Uint8Array, bytes: Uint8Array, frame: FrameInfo, out: Uint8Array): void {
  key.openSync(sealedOf(bytes, frame), frameAad(messageId, frame), out);
}

/** Decrypts a frame read by {@link readFrame} into `out` (contentLength bytes), on the worker pool when large. */
export async function decryptFrame(key: ContentKey, messageId: Uint8Array, bytes: Uint8Array, frame: FrameInfo, out: Uint8Array): Promise<void> {
  await key.open(sealedOf(bytes, frame), frameAad(messageId, frame), out);
}

/** The number of frames in a run of `bytes` bytes made of `unit`-byte pieces; throws unless exact. */
function runCount(bytes: number, unit: number, what: string): number {
  if (bytes % unit !== 0) throw new RangeError(`${what} is not a whole number of frames`);
  return bytes / unit;
}

function checkRun(firstSeq: number, count: number, outLength: number, expected: number): void {
  if (outLength !== expected) throw new RangeError('frame run output size mismatch');
  if (!Number.isInteger(firstSeq) || firstSeq < 1 || firstSeq + count - 1 > MAX_SEQUENCE_NUMBER) throw new RangeError('frame run sequence numbers out of range');
}

/**
 * Encrypts a run of regular frames firstSeq, firstSeq + 1, ... : `plaintext`
 * is n × frameLength bytes, `out` n × (frameLength + 32), each frame laid out
 * as {@link encryptFrame} writes it. A native key does the whole run in one
 * call (one hop to the pool, cut across its threads); others go frame by frame.
 */
export async function encryptFrames(key: ContentKey, messageId: Uint8Array, firstSeq: number, frameLength: number, plaintext: Uint8Array, out: Uint8Array): Promise<void> {
  const count = runCount(plaintext.length, frameLength, 'plaintext');
  const stride = frameLength + REGULAR_FRAME_OVERHEAD;
  checkRun(firstSeq, count, out.length, count * stride);
  if (count === 0) return;
  if (key instanceof NativeContentKey) {
    await key.sealFrames(messageId, firstSeq, frameLength, plaintext, out);
    return;
  }
  for (let i = 0; i < count; i++) {
    await encryptFrame(key, messageId, firstSeq + i, false, plaintext.subarray(i * frameLength, (i + 1) * frameLength), out.subarray(i * stride, (i + 1) * stride));
  }
}

/**
 * Decrypts a run of regular frames (`body`: n × (frameLength + 32) bytes,
 * sequence numbers from firstSeq; contiguous, or the segments it arrived in,
 * which a native key reads without a copy on this thread) into `out`
 * (n × frameLength). Any frame out
 * of order, with a wrong IV (when `checkIv`) or failing its tag fails the
 * whole run, and `out` is left wiped.
 */
export async function decryptFrames(key: ContentKey, messageId: Uint8Array, firstSeq: number, frameLength: number, body: Uint8Array | readonly Uint8Array[], out: Uint8Array, checkIv: boolean): Promise<void> {
  const stride = frameLength + REGULAR_FRAME_OVERHEAD;
  const bodyLength = body instanceof Uint8Array ? body.length : body.reduce((sum, part) => sum + part.length, 0);
  const count = runCount(bodyLength, stride, 'body');
  checkRun(firstSeq, count, out.length, count * frameLength);
  if (count === 0) return;
  if (key instanceof NativeContentKey) {
    await key.openFrames(messageId, firstSeq, frameLength, body, out, checkIv);
    return;
  }
  const rules: FrameRules = { frameLength, requireFrameIv: checkIv };
  const bytes = body instanceof Uint8Array ? body : Buffer.concat(body);
  try {
    for (let i = 0; i < count; i++) {
      const frame = readFrame(bytes, i * stride, firstSeq + i, rules);
      if (frame.final) throw invalidMessage('frames are out of order or missing');
      await decryptFrame(key, messageId, bytes, frame, out.subarray(i * frameLength, (i + 1) * frameLength));
    }
  } catch (error) {
    out.fill(0);
    throw error;
  }
}
