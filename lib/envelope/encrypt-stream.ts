/**
 * `envelope.encryptStream(options)`: a Node Transform from plaintext to an
 * AWS Encryption SDK message (format v2, framed), byte-identical in layout
 * to `envelope.encrypt`'s.
 *
 * - The keyring runs as soon as the stream is made; input written before the
 *   materials are ready waits in the writable buffer (bounded by its
 *   highWaterMark: the write callback is held until then).
 * - Input of any chunk size is cut into frames. A full frame is a regular
 *   frame; the end of input makes the final frame (empty when the length is
 *   a multiple of the frame length, as `planFrames` does).
 * - Frames above the engine's inline threshold (16 KiB by default) are
 *   encrypted on the worker pool in runs of about 512 KiB of plaintext, one
 *   native call per run (a call per frame cost the event loop more than the
 *   AES), and emitted in order, one buffer per run. About 2 MiB of runs are
 *   in flight (never more frames than `maxFramesInFlight`), and the write
 *   callback waits for a free slot, so back-pressure from the reader reaches
 *   the writer and memory stays bounded whatever the stream's length.
 *   Smaller frames are encrypted on the event loop in 1 MiB slices.
 * - Signed suites (0x0578): every emitted byte feeds the signer in order, on
 *   the worker pool (the event loop never hashes a frame); a frame is pushed
 *   once hashed, and at most as many runs wait for the signer as for AES; the
 *   footer follows the final frame.
 * - Every emitted chunk is a buffer of its own (never reused by the stream).
 * - Any failure destroys the stream with a KmsError.
 *
 * Events: `'header'` (a {@link MessageHeader}) once the header is emitted;
 * the `header` property holds it from then on.
 */
import { Transform, type TransformCallback, type TransformOptions } from 'node:stream';
import { KmsError } from '../errors.js';
import { encryptFrame, encryptFrameSync, encryptFrames, frameSize, MAX_SEQUENCE_NUMBER, REGULAR_FRAME_OVERHEAD } from './frame-codec.js';
import type { MessageHeader } from './header-codec.js';
import { invalidOption } from './message-errors.js';
import { prepareEncryption, type EncryptionSetup } from './message-setup.js';
import { checkEncryptOptions, type CheckedEncryptOptions, type EnvelopeEncryptOptions } from './options.js';
import { writeFooter } from './signature.js';
import { asKmsError, BufferPool, checkFramesInFlight, FrameWindow, runsInline, SlabAllocator, SYNC_SLICE_BYTES, yieldToLoop } from './stream-common.js';
import { planRuns } from './parallel-frames.js';

/** Options of `envelope.encryptStream`: those of `envelope.encrypt`, plus stream tuning. */
export interface EnvelopeEncryptStreamOptions extends EnvelopeEncryptOptions {
  /**
   * The exact number of plaintext bytes that will be written, when known.
   * Writing more, or ending with fewer, fails the stream with
   * ValidationException; a length needing more than 2^32 - 1 frames fails
   * at once.
   */
  plaintextLength?: number;
  /** Frames encrypted on the pool at once (default: about 2 MiB of frames in 512 KiB runs; frames over 256 KiB: at least AES threads × 2 + 2). Bounds the stream's memory. */
  maxFramesInFlight?: number;
  /** Node stream options for the writable side (highWaterMark of buffered input, in bytes). */
  writableHighWaterMark?: number;
  /** Node stream options for the readable side (highWaterMark of buffered output, in bytes). */
  readableHighWaterMark?: number;
}

function checkPlaintextLength(value: unknown, frameLength: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalidOption('plaintextLength must be a non-negative safe integer');
  if (Math.floor((value as number) / frameLength) > MAX_SEQUENCE_NUMBER) throw invalidOption('The plaintext needs more than 2^32 - 1 frames at this frame length');
  return value as number;
}

function streamOptions(options: EnvelopeEncryptStreamOptions): TransformOptions {
  const out: TransformOptions = {};
  if (options.writableHighWaterMark !== undefined) out.writableHighWaterMark = options.writableHighWaterMark;
  if (options.readableHighWaterMark !== undefined) out.readableHighWaterMark = options.readableHighWaterMark;
  return out;
}

/** A run of frames on its way: its ciphertext, and the plaintext buffer to recycle once it is done. */
interface PendingFrame {
  readonly out: Buffer;
  readonly recycle: Buffer | undefined;
}

/** The Transform `envelope.encryptStream` returns. */
export class EnvelopeEncryptStream extends Transform {
  /** The message header, once emitted (see the `'header'` event). */
  header: MessageHeader | undefined;

  readonly #opts: CheckedEncryptOptions;
  readonly #frameLength: number;
  readonly #inline: boolean;
  readonly #expectedLength: number | undefined;
  readonly #setupPromise: Promise<EncryptionSetup>;
  #setup: EncryptionSetup | undefined;
  readonly #window: FrameWindow<PendingFrame>;
  /** Signed suites: encrypted frames being hashed on the pool, pushed in order once hashed. */
  #signing: FrameWindow<Buffer> | undefined;
  /** Regular frames per run (pool path). */
  readonly #runFrames: number;
  /** Buffers of one frame (inline path) or one run (pool path). */
  readonly #pool: BufferPool;
  readonly #slabs = new SlabAllocator();
  /** The frame (inline) or run (pool) being filled, and how many bytes it holds. */
  #current: Buffer | undefined;
  #fill = 0;
  #seq = 0;
  #written = 0;
  #disposed = false;

  constructor(options: EnvelopeEncryptStreamOptions) {
    const opts = checkEncryptOptions(options);
    const maxFrames = checkFramesInFlight(options.maxFramesInFlight);
    const expected = checkPlaintextLength(options.plaintextLength, opts.frameLength);
    super(streamOptions(options));
    this.#opts = opts;
    this.#frameLength = opts.frameLength;
    this.#inline = runsInline(opts.frameLength);
    this.#expectedLength = expected;
    const plan = planRuns(opts.frameLength, maxFrames);
    this.#runFrames = plan.framesPerRun;
    this.#pool = new BufferPool(this.#inline ? opts.frameLength : plan.framesPerRun * opts.frameLength);
    this.#window = new FrameWindow<PendingFrame>(
      plan.runsInFlight,
      (frame) => this.#emit(frame.out, frame.recycle),
      (error) => this.destroy(error),
    );
    this.#setupPromise = prepareEncryption(opts, expected).then((setup) => this.#start(setup));
    // A keyring failure before any write still ends the stream, typed.
    this.#setupPromise.catch((error: unknown) => this.destroy(asKmsError(error)));
  }

  #start(setup: EncryptionSetup): EncryptionSetup {
    if (this.destroyed) {
      setup.dispose();
      throw new KmsError('ValidationException', 'The stream was destroyed');
    }
    this.#setup = setup;
    if (setup.signer !== undefined) {
      setup.signer.update(setup.headerBytes);
      this.#signing = new FrameWindow<Buffer>(
        this.#window.max,
        (out) => {
          if (!this.destroyed) this.push(out);
        },
        (error) => this.destroy(error),
      );
    }
    this.header = setup.header;
    this.push(setup.headerBytes);
    this.emit('header', setup.header);
    return setup;
  }

  /**
   * Hands finished frames to the reader. Signed suites hash them first, on
   * the pool and in order (the event loop never hashes a frame), and only
   * then push them: the reader may reuse a buffer it was given.
   */
  #emit(out: Buffer, recycle: Buffer | undefined): void {
    this.#pool.give(recycle);
    if (this.destroyed) return;
    if (this.#signing === undefined) this.push(out);
    else this.#signing.add(this.#setup!.signer!.updateInOrder(out), out);
  }

  /** Resolves once another run may start: room on the pool, and in the signer's queue. */
  async #room(): Promise<void> {
    await this.#window.slot();
    if (this.#signing !== undefined) await this.#signing.slot();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#fillRun(chunk)) {
      callback();
      return;
    }
    this.#write(chunk).then(
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
    const failure = error ?? new KmsError('ValidationException', 'The stream was destroyed');
    this.#window.fail(failure);
    this.#signing?.fail(failure);
    this.#dispose();
    // Our own failures are KmsErrors already; a caller's destroy(error) keeps its error.
    callback(error);
  }

  #dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    // Frames still on the pool fail with KeyUnavailableException: the window already stopped.
    this.#setup?.dispose();
    this.#setupPromise.then((setup) => setup.dispose(), () => undefined);
  }

  async #write(chunk: Buffer): Promise<void> {
    this.#written += chunk.length;
    if (this.#expectedLength !== undefined && this.#written > this.#expectedLength) {
      throw invalidOption(`More plaintext was written than plaintextLength (${this.#expectedLength})`);
    }
    const setup = this.#setup ?? (await this.#setupPromise);
    if (this.#inline) return this.#writeInline(setup, chunk);
    const runBytes = this.#runFrames * this.#frameLength;
    let at = 0;
    while (at < chunk.length) {
      if (this.#fill === 0 && chunk.length - at >= runBytes) {
        // A whole run inside the chunk: encrypted where it lies.
        await this.#dispatch(setup, chunk.subarray(at, at + runBytes), undefined);
        at += runBytes;
        continue;
      }
      this.#current ??= this.#pool.take();
      const take = Math.min(runBytes - this.#fill, chunk.length - at);
      this.#current.set(chunk.subarray(at, at + take), this.#fill);
      this.#fill += take;
      at += take;
      if (this.#fill === runBytes) {
        const full = this.#current;
        this.#current = undefined;
        this.#fill = 0;
        await this.#dispatch(setup, full, full);
      }
    }
  }

  /**
   * Pool path, materials ready: a chunk that only adds to the run being
   * filled is copied at once, without a promise per chunk (most chunks, as a
   * run spans many). False when the general path has to run.
   */
  #fillRun(chunk: Buffer): boolean {
    if (this.#setup === undefined || this.#inline) return false;
    if (this.#expectedLength !== undefined && this.#written + chunk.length > this.#expectedLength) return false;
    if (this.#fill + chunk.length >= this.#runFrames * this.#frameLength) return false;
    this.#current ??= this.#pool.take();
    this.#current.set(chunk, this.#fill);
    this.#fill += chunk.length;
    this.#written += chunk.length;
    return true;
  }

  #nextSeq(): number {
    return this.#takeSeqs(1);
  }

  /** Reserves `count` sequence numbers and returns the first; the final frame must still fit after them. */
  #takeSeqs(count: number): number {
    if (this.#seq + count > MAX_SEQUENCE_NUMBER) throw invalidOption('The plaintext needs more than 2^32 - 1 frames at this frame length');
    const first = this.#seq + 1;
    this.#seq += count;
    return first;
  }

  /** Starts a run of regular frames (whole frames of `plaintext`) on the pool; resolves once there is room for another. */
  async #dispatch(setup: EncryptionSetup, plaintext: Uint8Array, recycle: Buffer | undefined): Promise<void> {
    const F = this.#frameLength;
    const count = plaintext.length / F;
    const first = this.#takeSeqs(count);
    const out = this.#slabs.take(count * (F + REGULAR_FRAME_OVERHEAD));
    this.#window.add(encryptFrames(setup.contentKey, setup.header.messageId, first, F, plaintext, out), { out, recycle });
    await this.#room();
  }

  /** Small frames: encrypted on this thread, many per output buffer, in slices that yield to the event loop. */
  async #writeInline(setup: EncryptionSetup, chunk: Buffer): Promise<void> {
    const F = this.#frameLength;
    const stride = F + REGULAR_FRAME_OVERHEAD;
    const { contentKey, header } = setup;
    let at = 0;
    // Complete the frame begun by earlier chunks.
    if (this.#fill > 0) {
      const take = Math.min(F - this.#fill, chunk.length);
      this.#current!.set(chunk.subarray(0, take), this.#fill);
      this.#fill += take;
      at = take;
      if (this.#fill < F) return;
      const out = Buffer.allocUnsafe(stride);
      encryptFrameSync(contentKey, header.messageId, this.#nextSeq(), false, this.#current!, out);
      this.#fill = 0;
      this.#emit(out, undefined);
    }
    const perSlice = Math.max(1, Math.floor(SYNC_SLICE_BYTES / F));
    while (chunk.length - at >= F) {
      const count = Math.min(perSlice, Math.floor((chunk.length - at) / F));
      const out = Buffer.allocUnsafe(count * stride);
      for (let i = 0; i < count; i++) {
        encryptFrameSync(contentKey, header.messageId, this.#nextSeq(), false, chunk.subarray(at, at + F), out.subarray(i * stride, (i + 1) * stride));
        at += F;
      }
      this.#emit(out, undefined);
      if (this.#signing !== undefined) await this.#signing.slot();
      if (chunk.length - at >= F) await yieldToLoop();
      if (this.destroyed) return;
    }
    if (at < chunk.length) {
      this.#current ??= this.#pool.take();
      this.#current.set(chunk.subarray(at), 0);
      this.#fill = chunk.length - at;
    }
  }

  async #finish(): Promise<void> {
    if (this.#expectedLength !== undefined && this.#written !== this.#expectedLength) {
      throw invalidOption(`The stream ended after ${this.#written} bytes, not plaintextLength (${this.#expectedLength})`);
    }
    const setup = this.#setup ?? (await this.#setupPromise);
    // Pool path: the whole frames of a partial run go as one last run (its buffer recycled below).
    const whole = this.#inline ? 0 : this.#fill - (this.#fill % this.#frameLength);
    if (whole > 0) await this.#dispatch(setup, this.#current!.subarray(0, whole), undefined);
    await this.#window.waitFor(0);
    const rest = this.#current === undefined ? new Uint8Array(0) : this.#current.subarray(whole, this.#fill);
    const out = Buffer.allocUnsafe(frameSize(true, rest.length));
    const seq = this.#nextSeq();
    if (runsInline(rest.length)) encryptFrameSync(setup.contentKey, setup.header.messageId, seq, true, rest, out);
    else await encryptFrame(setup.contentKey, setup.header.messageId, seq, true, rest, out);
    this.#pool.give(this.#current);
    this.#current = undefined;
    this.#fill = 0;
    if (this.destroyed) return;
    this.#emit(out, undefined);
    if (setup.signer !== undefined) {
      await this.#signing!.waitFor(0);
      if (this.destroyed) return;
      const signature = await setup.signer.sign();
      if (this.destroyed) return;
      const footer = Buffer.allocUnsafe(2 + signature.length);
      writeFooter(signature, footer);
      this.push(footer);
    }
    this.#dispose();
  }
}

/**
 * Encrypts a stream: returns a Transform that takes plaintext and emits the
 * message. Throws at once (TypeError, or KmsError ValidationException) for
 * bad options; every later failure destroys the stream with a KmsError.
 */
export function encryptStream(options: EnvelopeEncryptStreamOptions): EnvelopeEncryptStream {
  return new EnvelopeEncryptStream(options);
}
