/**
 * `envelope.decryptStream(options)`: a Node Transform from an AWS Encryption
 * SDK message (v2; v1 with `allowV1`) to its plaintext.
 *
 * - The header is parsed as bytes arrive (re-tried as the buffered prefix
 *   grows by a quarter, so a header sent a byte at a time costs linear
 *   work); the data-key limit is checked as soon as the count is parsed,
 *   before any entry or keyring call. Then the keyring unwraps the data key,
 *   the commitment is checked (constant time) and the header tag verified;
 *   the `'header'` event fires with the authenticated header (also the
 *   `header` property). Input arriving meanwhile waits in the writable
 *   buffer.
 * - Frames are checked for structure (sequence numbers 1, 2, 3..., the IV,
 *   lengths) as they are read, decrypted on the worker pool (frames above
 *   the engine's inline threshold; smaller ones on the event loop in 1 MiB
 *   slices) and emitted in order, each once its tag verifies. Regular frames
 *   go in runs of up to about 512 KiB, one native call per run; while runs are
 *   in flight a short run waits for more input. About 2 MiB of runs are in
 *   flight (never more frames than `maxFramesInFlight`) and the write
 *   callback waits for a free slot: back-pressure reaches the writer.
 * - Signed suites: the bytes feed the verifier in order, hashed on the worker
 *   pool (the event loop never hashes a frame; at most about 2 MiB wait for
 *   the hash before more input is read); the final frame's
 *   plaintext (or a non-framed body's) is held back until the footer's
 *   signature verifies, and wiped if it does not. Regular frames are
 *   released as they verify: as the format's streaming caveat says, they are
 *   not signed data until the stream ends without error.
 * - `unsignedOnly`: fails right after the header for a signed suite (the
 *   SDKs' decryptUnsignedMessageStream), with ValidationException.
 * - Bytes after the end of the message, and a message that ends early, fail.
 * - Every failure destroys the stream with a KmsError: InvalidCiphertextException
 *   for a bad message, LimitExceededException for limits, the keyring's own
 *   codes otherwise.
 */
import { Transform, type TransformCallback, type TransformOptions } from 'node:stream';
import { KmsError } from '../errors.js';
import { bodyAad, decryptFrame, decryptFrames, decryptFrameSync, FINAL_FRAME_MARKER, isFrameIv, MAX_SEQUENCE_NUMBER, readFrame, REGULAR_FRAME_OVERHEAD, FINAL_FRAME_OVERHEAD, type FrameRules } from './frame-codec.js';
import { ContentType, parseHeader, type MessageHeader, type ParsedHeader } from './header-codec.js';
import { IncompleteMessage, invalidMessage, invalidOption } from './message-errors.js';
import { prepareDecryption, type DecryptionSetup } from './message-setup.js';
import { checkDecryptOptions, DEFAULT_FRAME_LENGTH, type CheckedDecryptOptions, type EnvelopeDecryptOptions } from './options.js';
import { asKmsError, ByteQueue, checkFramesInFlight, FrameWindow, runsInline, SlabAllocator, SYNC_SLICE_BYTES, yieldToLoop } from './stream-common.js';
import { IV_LENGTH, TAG_LENGTH } from './suites.js';
import { planRuns } from './parallel-frames.js';

/** Options of `envelope.decryptStream`: those of `envelope.decrypt`, plus stream limits and tuning. */
export interface EnvelopeDecryptStreamOptions extends EnvelopeDecryptOptions {
  /** Fail right after the header (ValidationException) when the suite is signed. Default false. */
  unsignedOnly?: boolean;
  /**
   * Largest plaintext a single frame (or a non-framed body) may hold, checked
   * before it is buffered (LimitExceededException). Default: no limit beyond
   * the format's. Set it for untrusted input: a whole frame is buffered.
   */
  maxBodySize?: number;
  /** Frames decrypted on the pool at once (default: about 2 MiB of frames in 512 KiB runs; frames over 256 KiB: at least AES threads × 2 + 2). */
  maxFramesInFlight?: number;
  writableHighWaterMark?: number;
  readableHighWaterMark?: number;
}

type State = 'header' | 'frames' | 'single' | 'footer' | 'done';

/** Non-framed content is capped by GCM's counter: 2^36 - 32 bytes. */
const MAX_SINGLE_BLOCK = 2 ** 36 - 32;
/** Frames (or a single block) larger than this cannot be buffered in one Buffer. */
const MAX_BUFFER = 2 ** 32 - 1;
const HEADER_RETRY_MIN = 64;
/** Signed suites: bytes queued for the verifier's hash before the stream waits for it. */
const MAX_HASH_PENDING = 2 * 1024 * 1024;

interface PendingPlaintext {
  readonly out: Buffer;
  readonly final: boolean;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidOption(`${name} must be a boolean`);
  return value;
}

function checkMaxBodySize(value: unknown): number {
  if (value === undefined) return Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalidOption('maxBodySize must be a non-negative safe integer');
  return value as number;
}

function streamOptions(options: EnvelopeDecryptStreamOptions): TransformOptions {
  const out: TransformOptions = {};
  if (options.writableHighWaterMark !== undefined) out.writableHighWaterMark = options.writableHighWaterMark;
  if (options.readableHighWaterMark !== undefined) out.readableHighWaterMark = options.readableHighWaterMark;
  return out;
}

/** The Transform `envelope.decryptStream` returns. */
export class EnvelopeDecryptStream extends Transform {
  /** The authenticated header, once read (see the `'header'` event). */
  header: MessageHeader | undefined;

  readonly #opts: CheckedDecryptOptions;
  readonly #unsignedOnly: boolean;
  readonly #maxBodySize: number;
  readonly #window: FrameWindow<PendingPlaintext>;
  #maxFramesOption: number | undefined;
  readonly #queue = new ByteQueue();
  readonly #slabs = new SlabAllocator();
  #state: State = 'header';
  #nextHeaderTry = 0;
  #parsed: ParsedHeader | undefined;
  #setup: DecryptionSetup | undefined;
  #rules: FrameRules | undefined;
  #inline = false;
  /** Regular frames per run, once the frame length is known. */
  #runFrames = 1;
  /** Complete regular frames already found at the head of the queue (a run being gathered). */
  #scanned = 1;
  #seq = 1;
  /** Signed suites: the final frame's plaintext, held until the signature verifies. */
  #held: Buffer | undefined;
  #signature: Uint8Array | undefined;
  /** Signed suites: bytes handed to the verifier's hash on the pool, not hashed yet; and the last update. */
  #hashPending = 0;
  #lastHash: Promise<void> | undefined;
  #disposed = false;

  constructor(options: EnvelopeDecryptStreamOptions) {
    const opts = checkDecryptOptions(options);
    const unsignedOnly = checkBoolean('unsignedOnly', options.unsignedOnly);
    const maxBodySize = checkMaxBodySize(options.maxBodySize);
    const maxFrames = checkFramesInFlight(options.maxFramesInFlight);
    super(streamOptions(options));
    this.#opts = opts;
    this.#unsignedOnly = unsignedOnly;
    this.#maxBodySize = maxBodySize;
    this.#maxFramesOption = maxFrames;
    this.#window = new FrameWindow<PendingPlaintext>(
      planRuns(DEFAULT_FRAME_LENGTH, maxFrames).runsInFlight,
      (p) => this.#release(p),
      (error) => this.destroy(error),
    );
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length === 0) {
      callback();
      return;
    }
    if (this.#state === 'done') {
      callback(invalidMessage('bytes follow the end of the message'));
      return;
    }
    this.#queue.push(chunk);
    if (this.#waitsForInput()) {
      callback();
      return;
    }
    this.#process(false).then(
      () => callback(),
      (error: unknown) => callback(asKmsError(error)),
    );
  }

  override _flush(callback: TransformCallback): void {
    this.#finish().then(
      () => callback(),
      (error: unknown) => callback(asKmsError(error)),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#window.fail(error ?? new KmsError('ValidationException', 'The stream was destroyed'));
    this.#held?.fill(0);
    this.#held = undefined;
    this.#dispose();
    callback(error);
  }

  #dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#setup?.dispose();
  }

  /** Signed suites: feeds `bytes` (or the parts, in order) to the verifier on the pool, after every earlier update; they are read, not copied. */
  #hash(bytes: Uint8Array | readonly Uint8Array[]): void {
    const verifier = this.#setup!.verifier;
    if (verifier === undefined) return;
    const length = bytes instanceof Uint8Array ? bytes.length : bytes.reduce((sum, part) => sum + part.length, 0);
    if (length === 0) return;
    this.#hashPending += length;
    const hashed = verifier.updateInOrder(bytes);
    hashed.then(
      () => {
        this.#hashPending -= length;
      },
      (error: unknown) => this.destroy(asKmsError(error)),
    );
    this.#lastHash = hashed;
  }

  /** Resolves once the hash has caught up to within MAX_HASH_PENDING bytes (bounds the input held for it). */
  async #hashRoom(): Promise<void> {
    while (this.#hashPending > MAX_HASH_PENDING && this.#lastHash !== undefined) await this.#lastHash;
  }

  #release(p: PendingPlaintext): void {
    if (this.destroyed) return;
    if (p.final && this.#setup!.verifier !== undefined) {
      this.#held = p.out;
      return;
    }
    if (p.out.length > 0) this.push(p.out);
  }

  /**
   * True when #process would only wait for more bytes: a run being gathered
   * while others are in flight (most chunks, as a run spans many). Checked
   * synchronously, without a promise per chunk; any doubt, or an error to
   * report, goes to #process.
   */
  #waitsForInput(): boolean {
    if (this.#state !== 'frames' || this.#inline || this.#window.size === 0 || this.destroyed) return false;
    try {
      const next = this.#nextFrameSize();
      if (next === undefined || this.#queue.length < next.size) return true;
      return !next.final && !this.#countRun(next.size).whole;
    } catch {
      return false;
    }
  }

  /** Consumes what the queue holds, as far as it goes. */
  async #process(ended: boolean): Promise<void> {
    for (;;) {
      if (this.destroyed) return;
      switch (this.#state) {
        case 'header':
          if (!this.#readHeader(ended)) return;
          await this.#openHeader();
          break;
        case 'frames':
          if (this.#inline) {
            if (!(await this.#framesInline())) return;
          } else if (!(await this.#nextFrame(ended))) return;
          break;
        case 'single':
          if (!this.#singleBlock()) return;
          break;
        case 'footer':
          if (!this.#footer()) return;
          break;
        case 'done':
          if (this.#queue.length > 0) throw invalidMessage('bytes follow the end of the message');
          return;
      }
    }
  }

  #readHeader(ended: boolean): boolean {
    const available = this.#queue.length;
    if (!ended && available < this.#nextHeaderTry) return false;
    const bytes = this.#queue.flatten();
    try {
      this.#parsed = parseHeader(bytes, { maxEncryptedDataKeys: this.#opts.maxEncryptedDataKeys });
      const plan = planRuns(Math.max(this.#parsed.header.frameLength, 1), this.#maxFramesOption);
      this.#window.max = plan.runsInFlight;
      this.#runFrames = plan.framesPerRun;
    } catch (error) {
      if (!(error instanceof IncompleteMessage)) throw error;
      if (ended) throw invalidMessage('the message is truncated');
      this.#nextHeaderTry = available + Math.max(HEADER_RETRY_MIN, available >> 2);
      return false;
    }
    return true;
  }

  async #openHeader(): Promise<void> {
    const parsed = this.#parsed!;
    const { header, suite } = parsed;
    if (this.#unsignedOnly && suite.signature !== undefined) {
      throw new KmsError('ValidationException', 'The message is signed, and unsignedOnly was set: decrypt it with a signature check (not unsignedOnly)');
    }
    // The header's bytes leave the queue now; keep a copy for the verifier.
    const headerBytes = Buffer.from(this.#queue.read(header.headerLength));
    const setup = await prepareDecryption({ ...parsed, headerBody: headerBytes.subarray(0, parsed.headerBody.length) }, this.#opts);
    if (this.destroyed) {
      setup.dispose();
      return;
    }
    this.#setup = setup;
    setup.verifier?.update(headerBytes);
    if (header.contentType === ContentType.NO_FRAMING) {
      this.#state = 'single';
    } else {
      this.#rules = { frameLength: header.frameLength, requireFrameIv: header.version === 2 };
      this.#inline = runsInline(header.frameLength);
      this.#state = 'frames';
    }
    this.header = header;
    this.emit('header', header);
  }

  /** The size of the next frame, once its first bytes are there; checks the body-size limit. */
  #nextFrameSize(): { size: number; final: boolean } | undefined {
    const frameLength = this.#rules!.frameLength;
    if (this.#queue.length < 4) return undefined;
    const view = this.#queue.peek(4);
    const first = new DataView(view.buffer, view.byteOffset, 4).getUint32(0);
    let contentLength = frameLength;
    let size = frameLength + REGULAR_FRAME_OVERHEAD;
    if (first === FINAL_FRAME_MARKER) {
      if (this.#queue.length < FINAL_FRAME_OVERHEAD - TAG_LENGTH) return undefined;
      const head = this.#queue.peek(FINAL_FRAME_OVERHEAD - TAG_LENGTH);
      contentLength = new DataView(head.buffer, head.byteOffset, head.length).getUint32(20);
      if (contentLength > frameLength) throw invalidMessage('the final frame is longer than the frame length');
      size = contentLength + FINAL_FRAME_OVERHEAD;
    } else if (first !== this.#seq) {
      throw invalidMessage('frames are out of order or missing');
    }
    if (contentLength > this.#maxBodySize) throw new KmsError('LimitExceededException', `A frame holds ${contentLength} bytes, more than maxBodySize (${this.#maxBodySize})`);
    if (size > MAX_BUFFER) throw new KmsError('LimitExceededException', 'A frame is too large to buffer');
    return { size, final: first === FINAL_FRAME_MARKER };
  }

  /** Pool path: reads a run of regular frames, or the final frame, and starts its decryption; false when waiting for bytes. */
  async #nextFrame(ended: boolean): Promise<boolean> {
    const next = this.#nextFrameSize();
    if (next === undefined || this.#queue.length < next.size) return false;
    if (!next.final) return this.#nextRun(ended, next.size);
    const setup = this.#setup!;
    const bytes = this.#queue.read(next.size);
    const frame = readFrame(bytes, 0, this.#seq, this.#rules!);
    this.#hash(bytes);
    const out = this.#slabs.take(frame.contentLength);
    this.#seq++;
    if (frame.final) this.#state = setup.verifier === undefined ? 'done' : 'footer';
    this.#window.add(decryptFrame(setup.contentKey, this.#parsed!.header.messageId, bytes, frame, out), { out, final: frame.final });
    await this.#window.slot();
    await this.#hashRoom();
    return true;
  }

  /**
   * How many complete regular frames open the queue (the first one checked
   * already), up to a run; `whole` once the run cannot grow (full, or a final
   * frame follows). Peeks only each frame's first u32.
   */
  #countRun(stride: number): { count: number; whole: boolean } {
    // A run waiting for input is not scanned again from its start.
    let count = this.#scanned;
    for (; count < this.#runFrames; count++, this.#scanned = count) {
      const at = count * stride;
      if (this.#queue.length < at + 4) return { count, whole: false };
      const first = this.#queue.u32At(at);
      if (first === FINAL_FRAME_MARKER) return { count, whole: true };
      if (first !== this.#seq + count) throw invalidMessage('frames are out of order or missing');
      if (this.#queue.length < at + stride) return { count, whole: false };
    }
    return { count, whole: true };
  }

  /** The structure checks of readFrame for a run still in the queue (seq numbers were checked by #countRun); the native call checks again. */
  #checkRun(count: number, stride: number): void {
    if (this.#seq + count - 1 > MAX_SEQUENCE_NUMBER) throw invalidMessage('too many frames');
    if (!this.#rules!.requireFrameIv) return;
    for (let i = 0; i < count; i++) {
      if (!isFrameIv(this.#queue.peekAt(i * stride + 4, IV_LENGTH), this.#seq + i)) throw invalidMessage('a frame IV is not its sequence number');
    }
  }

  /** Starts a run of regular frames (one native call); false when a short run waits for more bytes. */
  async #nextRun(ended: boolean, stride: number): Promise<boolean> {
    const { count, whole } = this.#countRun(stride);
    // While the pool is busy, a short run waits for more input: fewer, larger calls.
    if (!whole && !ended && this.#window.size > 0) return false;
    const setup = this.#setup!;
    const rules = this.#rules!;
    this.#checkRun(count, stride);
    this.#scanned = 1;
    // The run's bytes stay in the chunks they came in: the workers read them where they lie.
    const parts = this.#queue.readViews(count * stride);
    this.#hash(parts);
    const out = this.#slabs.take(count * rules.frameLength);
    const first = this.#seq;
    this.#seq += count;
    const work = decryptFrames(setup.contentKey, this.#parsed!.header.messageId, first, rules.frameLength, parts.length === 1 ? parts[0]! : parts, out, rules.requireFrameIv);
    this.#window.add(work, { out, final: false });
    await this.#window.slot();
    await this.#hashRoom();
    return true;
  }

  /** Small frames: decrypted on this thread, many per output buffer, in slices; false when waiting for bytes. */
  async #framesInline(): Promise<boolean> {
    const setup = this.#setup!;
    const { messageId } = this.#parsed!.header;
    const frameLength = this.#rules!.frameLength;
    const perSlice = Math.max(1, Math.floor(SYNC_SLICE_BYTES / Math.max(frameLength, 1)));
    let batch: Buffer | undefined;
    let used = 0;
    let progressed = false;
    for (let n = 0; n < perSlice; n++) {
      const next = this.#nextFrameSize();
      if (next === undefined || this.#queue.length < next.size) break;
      const { size } = next;
      const bytes = this.#queue.read(size);
      const frame = readFrame(bytes, 0, this.#seq, this.#rules!);
      this.#hash(bytes);
      this.#seq++;
      progressed = true;
      if (frame.final) {
        const out = Buffer.allocUnsafe(frame.contentLength);
        decryptFrameSync(setup.contentKey, messageId, bytes, frame, out);
        if (batch !== undefined && used > 0) this.push(batch.subarray(0, used));
        batch = undefined;
        this.#state = setup.verifier === undefined ? 'done' : 'footer';
        this.#release({ out, final: true });
        return true;
      }
      batch ??= Buffer.allocUnsafe(Math.min(perSlice, Math.floor(this.#queue.length / size) + 1) * frameLength);
      if (used + frameLength > batch.length) {
        this.push(batch.subarray(0, used));
        batch = Buffer.allocUnsafe(Math.min(perSlice, Math.floor(this.#queue.length / size) + 1) * frameLength);
        used = 0;
      }
      decryptFrameSync(setup.contentKey, messageId, bytes, frame, batch.subarray(used, used + frameLength));
      used += frameLength;
    }
    if (batch !== undefined && used > 0) this.push(batch.subarray(0, used));
    if (progressed) await yieldToLoop();
    await this.#hashRoom();
    return progressed;
  }

  /** A non-framed (legacy) body: buffered whole, then decrypted; held back for signed suites. */
  #singleBlock(): boolean {
    const prefix = IV_LENGTH + 8;
    if (this.#queue.length < prefix) return false;
    const head = this.#queue.peek(prefix);
    const big = new DataView(head.buffer, head.byteOffset, head.length).getBigUint64(IV_LENGTH);
    if (big > BigInt(MAX_SINGLE_BLOCK)) throw invalidMessage('the content is too long');
    const contentLength = Number(big);
    if (contentLength > this.#maxBodySize) throw new KmsError('LimitExceededException', `The body holds ${contentLength} bytes, more than maxBodySize (${this.#maxBodySize})`);
    const size = prefix + contentLength + TAG_LENGTH;
    if (size > MAX_BUFFER) throw new KmsError('LimitExceededException', 'The non-framed body is too large to buffer');
    if (this.#queue.length < size) return false;
    const setup = this.#setup!;
    const bytes = this.#queue.read(size);
    this.#hash(bytes);
    const sealed = Buffer.allocUnsafe(IV_LENGTH + contentLength + TAG_LENGTH);
    sealed.set(bytes.subarray(0, IV_LENGTH));
    sealed.set(bytes.subarray(prefix), IV_LENGTH);
    const out = Buffer.allocUnsafe(contentLength);
    const aad = bodyAad(this.#parsed!.header.messageId, 'single', 1, contentLength);
    this.#state = setup.verifier === undefined ? 'done' : 'footer';
    this.#window.add(setup.contentKey.open(sealed, aad, out), { out, final: true });
    return true;
  }

  #footer(): boolean {
    if (this.#queue.length < 2) return false;
    const head = this.#queue.peek(2);
    const length = (head[0]! << 8) | head[1]!;
    if (this.#queue.length < 2 + length) return false;
    this.#queue.skip(2);
    this.#signature = Buffer.from(this.#queue.read(length));
    this.#state = 'done';
    return true;
  }

  async #finish(): Promise<void> {
    await this.#process(true);
    if (this.#state !== 'done') throw invalidMessage('the message is truncated');
    await this.#window.waitFor(0);
    const setup = this.#setup!;
    if (setup.verifier !== undefined) {
      // The check runs after every hash (and on the digest threads).
      const verified = await setup.verifier.verify(this.#signature!);
      if (this.destroyed) return;
      if (!verified) {
        this.#held?.fill(0);
        this.#held = undefined;
        throw invalidMessage('the signature does not verify');
      }
      const held = this.#held;
      this.#held = undefined;
      if (held !== undefined && held.length > 0) this.push(held);
    }
    this.#dispose();
  }
}

/**
 * Decrypts a stream: returns a Transform that takes a message and emits its
 * plaintext. Throws at once (TypeError, or KmsError ValidationException) for
 * bad options; every later failure destroys the stream with a KmsError.
 */
export function decryptStream(options: EnvelopeDecryptStreamOptions): EnvelopeDecryptStream {
  return new EnvelopeDecryptStream(options);
}
