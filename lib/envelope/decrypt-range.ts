/**
 * `envelope.decryptRange(source, { start, end, keyring })`: random access
 * into an unsigned framed message (suite 0x0478, or an unsigned v1 suite with
 * `allowV1`), reading only the header, the frames that cover the range, and
 * the final frame.
 *
 * Frame k (1-based) of a framed message starts at
 * headerLength + (k - 1)(frameLength + 32); the final frame (content length
 * c <= frameLength, c + 40 bytes) ends the message. So the size of the
 * source fixes the frame count: body = r(frameLength + 32) + c + 40. The
 * final frame is read and decrypted every time: its tag covers its sequence
 * number and length, so the plaintext length (and the absence of truncation
 * or trailing bytes) is authenticated, as Tink's verifiedSize() does.
 *
 * Signed messages are refused (ValidationException): their frames verify but
 * the signature covers the whole message, which a range read cannot check.
 * Non-framed (legacy) messages are refused too (ValidationException).
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { KmsError } from '../errors.js';
import { invalidArgType, toOptions } from '../validate.js';
import { decryptFrame, FINAL_FRAME_OVERHEAD, readFrame, REGULAR_FRAME_OVERHEAD, type FrameInfo, type FrameRules } from './frame-codec.js';
import { ContentType, parseHeader, type MessageHeader, type ParsedHeader } from './header-codec.js';
import { IncompleteMessage, invalidMessage, invalidOption } from './message-errors.js';
import { prepareDecryption } from './message-setup.js';
import { checkDecryptOptions, type EnvelopeDecryptOptions } from './options.js';
import { asKmsError } from './stream-common.js';
import { runFramesInParallel } from './parallel-frames.js';

/** Where the message is: its bytes, a file path (or file: URL), or an open file handle or descriptor (left open). */
export type RangeSource = Uint8Array | string | URL | fs.promises.FileHandle | number;

/** Options of `envelope.decryptRange`: those of `envelope.decrypt`, plus the range. */
export interface EnvelopeDecryptRangeOptions extends EnvelopeDecryptOptions {
  /** First plaintext byte (inclusive), default 0. Must be at most the plaintext length. */
  start?: number;
  /** End of the range (exclusive), default the plaintext length; clamped to the plaintext length. */
  end?: number;
}

/** What `envelope.decryptRange` resolves to. */
export interface EnvelopeDecryptRangeResult {
  /** Plaintext bytes [start, min(end, length)). */
  plaintext: Buffer;
  header: MessageHeader;
  /** The whole message's plaintext length (authenticated by the final frame). */
  plaintextLength: number;
}

/** Random-access reads of the message. */
interface Reader {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

const FIRST_HEADER_READ = 4096;

function isFileHandle(value: unknown): value is fs.promises.FileHandle {
  const v = value as Partial<fs.promises.FileHandle> | null;
  return typeof v === 'object' && v !== null && typeof v.read === 'function' && typeof v.stat === 'function';
}

function bytesReader(bytes: Uint8Array): Reader {
  return {
    size: bytes.length,
    read: (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length)),
    close: () => Promise.resolve(),
  };
}

/** A positional read into `out` at `at` of up to `length` bytes from file offset `position`. */
type ReadAt = (out: Buffer, at: number, length: number, position: number) => Promise<{ bytesRead: number }>;

/** Reads exactly `length` bytes at `offset` (a read may return fewer); a file that ends first is truncated. */
async function readExactly(readAt: ReadAt, offset: number, length: number): Promise<Uint8Array> {
  const out = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await readAt(out, filled, length - filled, offset + filled);
    if (bytesRead === 0) throw invalidMessage('the message is truncated');
    filled += bytesRead;
  }
  return out;
}

async function fileReader(handle: fs.promises.FileHandle, owned: boolean): Promise<Reader> {
  const { size } = await handle.stat();
  return {
    size,
    read: (offset, length) => readExactly((out, at, n, position) => handle.read(out, at, n, position), offset, length),
    close: () => (owned ? handle.close() : Promise.resolve()),
  };
}

function isDescriptor(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

const fstat = promisify(fs.fstat);
const readFd = promisify(fs.read);

/** A numeric file descriptor, read with positional reads (the file position is left alone). */
async function descriptorReader(fd: number): Promise<Reader> {
  let size: number;
  try {
    ({ size } = await fstat(fd));
  } catch (error) {
    throw new KmsError('NotFoundException', `Cannot read the message file descriptor: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { cause: error });
  }
  return {
    size,
    read: (offset, length) => readExactly((out, at, n, position) => readFd(fd, out, at, n, position), offset, length),
    close: () => Promise.resolve(),
  };
}

function isSource(source: unknown): boolean {
  return source instanceof Uint8Array || typeof source === 'string' || source instanceof URL || isFileHandle(source) || isDescriptor(source);
}

async function openSource(source: unknown): Promise<Reader> {
  if (source instanceof Uint8Array) return bytesReader(source);
  if (isDescriptor(source)) return descriptorReader(source);
  if (typeof source === 'string' || source instanceof URL) {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(source, 'r');
    } catch (error) {
      throw new KmsError('NotFoundException', `Cannot open the message file: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { cause: error });
    }
    try {
      return await fileReader(handle, true);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
  if (isFileHandle(source)) return fileReader(source, false);
  throw invalidArgType('source', 'a Uint8Array, a file path or URL, a FileHandle or a file descriptor', source);
}

/** Reads the header: a first 4 KiB, doubling while it is incomplete. */
async function readHeader(reader: Reader, maxEncryptedDataKeys: number): Promise<ParsedHeader> {
  let length = Math.min(FIRST_HEADER_READ, reader.size);
  for (;;) {
    const bytes = await reader.read(0, length);
    try {
      return parseHeader(bytes, { maxEncryptedDataKeys });
    } catch (error) {
      if (!(error instanceof IncompleteMessage)) throw error;
      if (length === reader.size) throw invalidMessage('the message is truncated');
      length = Math.min(length * 2, reader.size);
    }
  }
}

function checkRange(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalidOption(`${name} must be a non-negative integer`);
  return value as number;
}

/**
 * Decrypts plaintext bytes [start, end) of an unsigned framed message,
 * reading only the header, the frames covering the range and the final
 * frame. `end` is exclusive and clamped to the plaintext length; `start`
 * past the plaintext length, or `end` before `start`, is a
 * ValidationException. A signed or non-framed message is a
 * ValidationException; a malformed, truncated, extended or tampered one an
 * InvalidCiphertextException.
 */
export async function decryptRange(source: RangeSource, options: EnvelopeDecryptRangeOptions): Promise<EnvelopeDecryptRangeResult> {
  const opts = checkDecryptOptions(options);
  const raw = toOptions('options', options) as Partial<EnvelopeDecryptRangeOptions>;
  const start = checkRange('start', raw.start, 0);
  const requestedEnd = checkRange('end', raw.end, Number.MAX_SAFE_INTEGER);
  if (requestedEnd < start) throw invalidOption('end must not be less than start');
  if (!isSource(source)) throw invalidArgType('source', 'a Uint8Array, a file path or URL, a FileHandle or a file descriptor', source);
  const reader = await openSource(source);
  try {
    return await decryptFromReader(reader, opts, start, requestedEnd);
  } catch (error) {
    throw asKmsError(error);
  } finally {
    await reader.close();
  }
}

async function decryptFromReader(reader: Reader, opts: ReturnType<typeof checkDecryptOptions>, start: number, requestedEnd: number): Promise<EnvelopeDecryptRangeResult> {
  const parsed = await readHeader(reader, opts.maxEncryptedDataKeys);
  const { header, suite } = parsed;
  if (suite.signature !== undefined) {
    throw new KmsError('ValidationException', 'decryptRange reads only unsigned messages (such as suite 0x0478): a signed message must be decrypted whole to check its signature');
  }
  if (header.contentType !== ContentType.FRAMED_DATA) throw new KmsError('ValidationException', 'decryptRange reads only framed messages');
  // Layout first (from the size alone), then the keys.
  const F = header.frameLength;
  const stride = F + REGULAR_FRAME_OVERHEAD;
  const H = header.headerLength;
  const body = reader.size - H;
  if (body < FINAL_FRAME_OVERHEAD) throw invalidMessage('the message is truncated');
  const regularFrames = Math.floor((body - FINAL_FRAME_OVERHEAD) / stride);
  const finalLength = body - FINAL_FRAME_OVERHEAD - regularFrames * stride;
  if (finalLength > F) throw invalidMessage('the message is truncated or has bytes after its end');
  const rules: FrameRules = { frameLength: F, requireFrameIv: header.version === 2 };
  const finalStart = H + regularFrames * stride;
  const finalBytes = await reader.read(finalStart, finalLength + FINAL_FRAME_OVERHEAD);
  const finalFrame = readFrameChecked(finalBytes, regularFrames + 1, rules);
  if (!finalFrame.final || finalFrame.end !== finalBytes.length) throw invalidMessage('the message is truncated or has bytes after its end');

  const setup = await prepareDecryption(parsed, opts);
  try {
    const { messageId } = header;
    const finalPlaintext = Buffer.allocUnsafe(finalLength);
    await decryptFrame(setup.contentKey, messageId, finalBytes, finalFrame, finalPlaintext);
    const plaintextLength = regularFrames * F + finalLength;
    if (start > plaintextLength) throw invalidOption(`start (${start}) is past the end of the plaintext (${plaintextLength} bytes)`);
    const end = Math.min(requestedEnd, plaintextLength);
    if (end === start) return { plaintext: Buffer.alloc(0), header, plaintextLength };

    // Frames (0-based) first..last cover [start, end); the final one is index regularFrames.
    const first = Math.floor(start / F);
    const last = Math.floor((end - 1) / F);
    const lastRegular = Math.min(last, regularFrames - 1);
    const covered = Buffer.allocUnsafe((last - first + 1) * F);
    if (lastRegular >= first) {
      const span = await reader.read(H + first * stride, (lastRegular - first + 1) * stride);
      const frames: FrameInfo[] = [];
      for (let k = first; k <= lastRegular; k++) frames.push(readFrameChecked(span, k + 1, rules, (k - first) * stride));
      await runFramesInParallel(frames.length, F, (i) => decryptFrame(setup.contentKey, messageId, span, frames[i]!, covered.subarray(i * F, (i + 1) * F)));
    }
    if (last === regularFrames) covered.set(finalPlaintext, (regularFrames - first) * F);
    const from = start - first * F;
    return { plaintext: covered.subarray(from, from + (end - start)), header, plaintextLength };
  } finally {
    setup.dispose();
  }
}

function readFrameChecked(bytes: Uint8Array, seq: number, rules: FrameRules, offset = 0): FrameInfo {
  try {
    return readFrame(bytes, offset, seq, rules);
  } catch (error) {
    if (error instanceof IncompleteMessage) throw invalidMessage('the message is truncated');
    throw error;
  }
}


