/**
 * Pieces shared by the envelope streams and random-access decrypt: a byte
 * queue that hands out contiguous views without quadratic concatenation, an
 * ordered window of frames in flight on the worker pool, a recycling pool of
 * frame buffers, and the mapping of any failure onto a typed KmsError.
 */
import { KmsError } from '../errors.js';
import { aead } from '../aead.js';
import { IncompleteMessage, invalidMessage, invalidOption } from './message-errors.js';

/** Every failure a stream reports is a KmsError: codec and engine errors already are; anything else is wrapped. */
export function asKmsError(error: unknown): KmsError {
  if (error instanceof KmsError) {
    // A tag failure from the engine, worded like every other bad message.
    if (error.code === 'InvalidCiphertextException' && !error.message.startsWith('The message')) return invalidMessage('a frame does not authenticate');
    return error;
  }
  if (error instanceof IncompleteMessage) return invalidMessage('the message is truncated');
  return new KmsError('KMSInternalException', `The envelope stream failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Checks the `maxFramesInFlight` option (1 to 1024); `undefined` stays: the default depends on the frame length. */
export function checkFramesInFlight(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 1024) throw invalidOption('maxFramesInFlight must be an integer from 1 to 1024');
  return value as number;
}

/** True when frames of this many bytes run on the calling thread (below the engine's inline threshold). */
export function runsInline(frameBytes: number): boolean {
  return frameBytes <= aead.settings().inlineThreshold;
}

/** Plaintext bytes processed on the event loop between two yields. */
export const SYNC_SLICE_BYTES = 1024 * 1024;

/** Lets other callbacks run between two synchronous slices. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Bytes received and not yet consumed, kept as the chunks they came in.
 * Reads return a view into a chunk when the bytes lie in one (no copy), and
 * copy only the bytes asked for when they span chunks.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #first = 0;
  /** Offset of the first unread byte in the first chunk. */
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first `n` bytes (n <= length) as one view, without consuming them; copies only when they span chunks. */
  peek(n: number): Uint8Array {
    const first = this.#chunks[this.#first];
    if (n === 0) return new Uint8Array(0);
    if (first !== undefined && first.length - this.#head >= n) return first.subarray(this.#head, this.#head + n);
    return this.#copy(n, Buffer.allocUnsafe(n), false);
  }

  /**
   * Consumes the first `n` bytes (n <= length) and returns them as one view:
   * into a received chunk when they lie in one, else copied into `into`
   * (at least n bytes) or a new buffer.
   */
  read(n: number, into?: Uint8Array): Uint8Array {
    if (n > this.#length) throw new IncompleteMessage();
    const first = this.#chunks[this.#first];
    if (n === 0) return new Uint8Array(0);
    if (first !== undefined && first.length - this.#head >= n) {
      const view = first.subarray(this.#head, this.#head + n);
      this.#advance(n);
      return view;
    }
    return this.#copy(n, into === undefined ? Buffer.allocUnsafe(n) : into.subarray(0, n), true);
  }

  /** The big-endian u32 at `offset` (offset + 4 <= length), without consuming anything. */
  u32At(offset: number): number {
    let index = this.#first;
    let at = this.#head + offset;
    let value = 0;
    for (let k = 0; k < 4; k++, at++) {
      while (at >= this.#chunks[index]!.length) at -= this.#chunks[index++]!.length;
      value = value * 256 + this.#chunks[index]![at]!;
    }
    return value;
  }

  /** A copy of the `n` bytes at `offset` (offset + n <= length), for small reads; consumes nothing. */
  peekAt(offset: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    let index = this.#first;
    let at = this.#head + offset;
    for (let k = 0; k < n; k++, at++) {
      while (at >= this.#chunks[index]!.length) at -= this.#chunks[index++]!.length;
      out[k] = this.#chunks[index]![at]!;
    }
    return out;
  }

  /** Consumes the first `n` bytes (n <= length) as views of the chunks they lie in: no copy. */
  readViews(n: number): Uint8Array[] {
    if (n > this.#length) throw new IncompleteMessage();
    const views: Uint8Array[] = [];
    let index = this.#first;
    let head = this.#head;
    for (let left = n; left > 0; index++, head = 0) {
      const chunk = this.#chunks[index]!;
      const take = Math.min(chunk.length - head, left);
      views.push(chunk.subarray(head, head + take));
      left -= take;
    }
    this.#advance(n);
    return views;
  }

  /** Drops `n` bytes (n <= length). */
  skip(n: number): void {
    this.#advance(n);
  }

  /** Every queued byte as one view (merging the chunks into one, which stays queued). */
  flatten(): Uint8Array {
    if (this.#chunks.length - this.#first > 1) {
      const merged = this.#copy(this.#length, Buffer.allocUnsafe(this.#length), true);
      this.push(merged);
    }
    return this.peek(this.#length);
  }

  #copy(n: number, out: Uint8Array, consume: boolean): Uint8Array {
    let filled = 0;
    let index = this.#first;
    let head = this.#head;
    while (filled < n) {
      const chunk = this.#chunks[index]!;
      const take = Math.min(chunk.length - head, n - filled);
      out.set(chunk.subarray(head, head + take), filled);
      filled += take;
      head += take;
      if (head === chunk.length) {
        index++;
        head = 0;
      }
    }
    if (consume) this.#advance(n);
    return out;
  }

  #advance(n: number): void {
    this.#length -= n;
    let left = n;
    while (left > 0) {
      const chunk = this.#chunks[this.#first]!;
      const available = chunk.length - this.#head;
      if (left < available) {
        this.#head += left;
        return;
      }
      left -= available;
      this.#chunks[this.#first] = undefined as unknown as Uint8Array;
      this.#first++;
      this.#head = 0;
    }
    if (this.#first > 64 && this.#first * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }
}

interface WindowEntry<T> {
  done: boolean;
  readonly value: T;
}

/**
 * Frames in flight on the worker pool, finishing in any order and released
 * in order: `release` runs for each frame once it and every frame before it
 * are done. The first failure stops all releases, rejects every waiter and
 * is reported once through `onError`.
 */
export class FrameWindow<T> {
  #entries: WindowEntry<T>[] = [];
  #failure: KmsError | undefined;
  #waiters: { limit: number; resolve: () => void; reject: (error: unknown) => void }[] = [];

  constructor(
    /** Frames in flight at most; may be set once the frame length is known. */
    public max: number,
    private readonly release: (value: T) => void,
    private readonly onError: (error: KmsError) => void,
  ) {}

  get size(): number {
    return this.#entries.length;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Adds a frame whose work is `work`; `value` is released when its turn comes. */
  add(work: Promise<unknown>, value: T): void {
    const entry: WindowEntry<T> = { done: false, value };
    this.#entries.push(entry);
    work.then(
      () => {
        entry.done = true;
        this.#drain();
      },
      (error: unknown) => this.fail(error),
    );
  }

  /** Resolves once at most `limit` frames are in flight (0: all released); rejects on failure. */
  waitFor(limit: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#entries.length <= limit) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ limit, resolve, reject }));
  }

  /** Resolves once a slot is free for one more frame. */
  slot(): Promise<void> {
    return this.waitFor(this.max - 1);
  }

  /** Stops the window: nothing more is released, waiters reject. Reports `error` unless already failed. */
  fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    const failure = asKmsError(error);
    this.#failure = failure;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(failure);
    this.onError(failure);
  }

  #drain(): void {
    if (this.#failure !== undefined) return;
    let released = 0;
    while (released < this.#entries.length && this.#entries[released]!.done) {
      try {
        this.release(this.#entries[released]!.value);
      } catch (error) {
        this.fail(error);
        return;
      }
      released++;
    }
    if (released === 0) return;
    this.#entries.splice(0, released);
    if (this.#waiters.length === 0) return;
    const left = this.#entries.length;
    const waiters = this.#waiters;
    this.#waiters = waiters.filter((w) => w.limit < left);
    for (const w of waiters) if (w.limit >= left) w.resolve();
  }
}

/** Buffers of one size, recycled: a stream's memory stays flat whatever its length. */
export class BufferPool {
  #free: Buffer[] = [];

  constructor(readonly size: number) {}

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(buffer: Uint8Array | undefined): void {
    if (buffer instanceof Buffer && buffer.length === this.size && this.#free.length < 1024) this.#free.push(buffer);
  }
}

/**
 * Output buffers carved from 256 KiB slabs: one ArrayBuffer per ~4 frames of
 * 64 KiB instead of one each, which keeps the garbage collector's work per
 * frame low. Every piece is handed over to the reader and never written
 * again; a slab is freed once all its pieces are. Larger slabs cut GC work
 * further but let more garbage pile up between collections: at 1 MiB a
 * 1 GiB encrypt -> decrypt pipeline peaked near 150 MiB RSS, at 256 KiB
 * near 95 MiB (the process itself takes ~50 MiB).
 */
export class SlabAllocator {
  #slab: Buffer | undefined;
  #used = 0;

  constructor(readonly slabSize = 256 * 1024) {}

  take(length: number): Buffer {
    if (length * 2 > this.slabSize) return Buffer.allocUnsafeSlow(length);
    if (this.#slab === undefined || this.#slab.length - this.#used < length) {
      this.#slab = Buffer.allocUnsafeSlow(this.slabSize);
      this.#used = 0;
    }
    const piece = this.#slab.subarray(this.#used, this.#used + length);
    // Keep pieces 8-byte aligned.
    this.#used += (length + 7) & ~7;
    return piece;
  }
}
