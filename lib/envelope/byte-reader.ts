/** Big-endian reads with bounds checks, for the header, frame and footer codecs. */
import { IncompleteMessage, invalidMessage } from './message-errors.js';

/** Reads fields from `bytes` starting at `offset`; throws {@link IncompleteMessage} past the end. */
export class ByteReader {
  readonly #view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    public offset = 0,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #advance(length: number): number {
    const at = this.offset;
    if (at + length > this.bytes.length) throw new IncompleteMessage();
    this.offset = at + length;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#advance(1));
  }

  u16(): number {
    return this.#view.getUint16(this.#advance(2));
  }

  u32(): number {
    return this.#view.getUint32(this.#advance(4));
  }

  /** A u64 that must fit a JavaScript number exactly (the SDKs cap messages at 2^53 - 1 bytes). */
  u64(): number {
    const at = this.#advance(8);
    const value = this.#view.getBigUint64(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidMessage('a length is out of range');
    return Number(value);
  }

  /** The next `length` bytes, as a view (no copy). */
  take(length: number): Uint8Array {
    const at = this.#advance(length);
    return this.bytes.subarray(at, at + length);
  }

  /** The u16-length-prefixed field that follows. */
  lengthPrefixed(): Uint8Array {
    return this.take(this.u16());
  }
}

/**
 * Writes big-endian fields into a buffer sized in advance. Plain byte
 * stores, not a DataView: making one cost more than writing a whole header.
 */
export class ByteWriter {
  readonly bytes: Uint8Array;
  offset = 0;

  /** Writes into `into`, or a new zeroed buffer of `into` bytes. */
  constructor(into: number | Uint8Array) {
    this.bytes = typeof into === 'number' ? new Uint8Array(into) : into;
  }

  u8(value: number): this {
    this.bytes[this.offset++] = value;
    return this;
  }

  u16(value: number): this {
    this.bytes[this.offset++] = value >>> 8;
    this.bytes[this.offset++] = value;
    return this;
  }

  u32(value: number): this {
    this.bytes[this.offset++] = value >>> 24;
    this.bytes[this.offset++] = value >>> 16;
    this.bytes[this.offset++] = value >>> 8;
    this.bytes[this.offset++] = value;
    return this;
  }

  bytesOf(value: Uint8Array): this {
    this.bytes.set(value, this.offset);
    this.offset += value.length;
    return this;
  }

  lengthPrefixed(value: Uint8Array): this {
    return this.u16(value.length).bytesOf(value);
  }
}
