/**
 * The message header: serialization (v2 only; we never write v1) and parsing
 * (v1 and v2), byte by byte as in shared/reference/encryption-sdk-format.md
 * section 1. The parser works on a prefix of a message, so a stream can feed
 * it bytes as they arrive: it throws {@link IncompleteMessage} until the
 * whole header is there, and enforces the data-key limit as soon as the
 * count is read.
 */
import { KmsError } from '../errors.js';
import { serializeEncryptionContext, type EncryptionContext } from '../encryption-context.js';
import { ByteReader, ByteWriter } from './byte-reader.js';
import { parseEncryptionContext } from './context-codec.js';
import { invalidMessage } from './message-errors.js';
import { COMMIT_KEY_LENGTH, IV_LENGTH, suiteById, suiteName, TAG_LENGTH, type AlgorithmSuite } from './suites.js';

/** One encrypted data key as the header stores it. */
export interface EncryptedDataKey {
  /** Who can decrypt it: "hsmkms", or a raw keyring's key namespace. */
  readonly providerId: string;
  /** `rawInfo` as UTF-8 (lossy for binary info, as the AWS Encryption SDK for JavaScript shows it). */
  readonly providerInfo: string;
  /** The provider info bytes exactly (a raw AES keyring's holds its key name, tag and IV lengths and IV). */
  readonly rawInfo: Uint8Array;
  /** The wrapped data key. */
  readonly encryptedDataKey: Uint8Array;
}

/** Content type 2: framed (the only one written); 1: one non-framed block (legacy, read only). */
export const ContentType = Object.freeze({ NO_FRAMING: 1, FRAMED_DATA: 2 } as const);

/**
 * A message's header as decrypt and encrypt report it. Plain data: nothing
 * here is secret, but nothing is authenticated until the operation succeeds.
 */
export interface MessageHeader {
  /** Message format version: 2, or 1 for legacy messages. */
  readonly version: 1 | 2;
  /** Algorithm suite id, e.g. 0x0478. */
  readonly suiteId: number;
  /** 32 random bytes (16 in v1); also the key-derivation salt. */
  readonly messageId: Uint8Array;
  /** The context stored in the header (a signed message's includes `aws-crypto-public-key`). */
  readonly encryptionContext: EncryptionContext;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  /** {@link ContentType}: 2 framed, 1 non-framed. */
  readonly contentType: 1 | 2;
  /** Plaintext bytes per frame (0 for non-framed). */
  readonly frameLength: number;
  /** v2: the 32-byte commitment key. Empty in v1. */
  readonly suiteData: Uint8Array;
  /** Bytes of the header including its authentication (tag; IV and tag in v1): where the body starts. */
  readonly headerLength: number;
}

/** A parsed header plus what authenticating it needs. */
export interface ParsedHeader {
  readonly header: MessageHeader;
  readonly suite: AlgorithmSuite;
  /** The header body bytes exactly as received (the header tag's AAD). */
  readonly headerBody: Uint8Array;
  /** The header authentication IV: 12 zero bytes in v2, stored in v1. */
  readonly authIv: Uint8Array;
  readonly authTag: Uint8Array;
}

/** What a v2 header body holds. */
export interface HeaderFields {
  suite: AlgorithmSuite;
  messageId: Uint8Array;
  encryptionContext: EncryptionContext;
  encryptedDataKeys: readonly EncryptedDataKey[];
  frameLength: number;
  commitKey: Uint8Array;
  /** The context already serialized, when the caller has it. */
  serializedContext?: Uint8Array;
}

const MAX_U16 = 0xffff;
const V1_TYPE = 0x80;
const ZERO_IV = new Uint8Array(IV_LENGTH);
const encoder = new TextEncoder();
// ignoreBOM: keep a leading U+FEFF, as @aws-crypto's Buffer#toString does.
const lossyUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Provider IDs are few ("hsmkms", a raw keyring's namespace): their UTF-8 is kept. */
const providerIds = new Map<string, Uint8Array>();

function providerIdBytes(id: string): Uint8Array {
  let bytes = providerIds.get(id);
  if (bytes === undefined) {
    bytes = encoder.encode(id);
    if (providerIds.size >= 64) providerIds.clear();
    providerIds.set(id, bytes);
  }
  return bytes;
}

/**
 * The v2 header body (everything before the header tag), framed content,
 * at the start of a new buffer with `room` more bytes after it (for the
 * rest of a message written in place).
 */
export function serializeHeaderBody(fields: HeaderFields, room = 0): Buffer {
  const context = fields.serializedContext ?? serializeEncryptionContext(fields.encryptionContext);
  const edks = fields.encryptedDataKeys.map((edk) => ({ id: providerIdBytes(edk.providerId), info: edk.rawInfo, key: edk.encryptedDataKey }));
  let length = 1 + 2 + fields.messageId.length + 2 + context.length + 2 + 1 + 4 + fields.commitKey.length;
  for (const edk of edks) {
    if (edk.id.length > MAX_U16 || edk.info.length > MAX_U16 || edk.key.length > MAX_U16) {
      throw new KmsError('ValidationException', 'An encrypted data key field is longer than 65,535 bytes');
    }
    length += 6 + edk.id.length + edk.info.length + edk.key.length;
  }
  if (edks.length > MAX_U16) throw new KmsError('LimitExceededException', 'A message holds at most 65,535 encrypted data keys');
  // Public bytes: a slice of Node's pool is fine (and much cheaper than an ArrayBuffer of its own).
  const bytes = Buffer.allocUnsafe(length + room);
  const out = new ByteWriter(bytes)
    .u8(2)
    .u16(fields.suite.id)
    .bytesOf(fields.messageId)
    .lengthPrefixed(context)
    .u16(edks.length);
  for (const edk of edks) out.lengthPrefixed(edk.id).lengthPrefixed(edk.info).lengthPrefixed(edk.key);
  out.u8(ContentType.FRAMED_DATA).u32(fields.frameLength).bytesOf(fields.commitKey);
  return bytes;
}

/** Options of {@link parseHeader}. */
export interface HeaderLimits {
  /** Reject a message with more encrypted data keys than this (LimitExceededException). */
  maxEncryptedDataKeys: number;
}

/**
 * A copy of a view into the message. Not `view.slice()`: on a Buffer that
 * is another view, so the header would change with the caller's buffer.
 * Buffer.from copies into Node's pool: public bytes, and fast.
 */
function copyOf(view: Uint8Array): Uint8Array {
  return Buffer.from(view);
}

function readSuite(reader: ByteReader, version: number): AlgorithmSuite {
  const id = reader.u16();
  const suite = suiteById(id);
  if (suite === undefined) throw invalidMessage(`unknown algorithm suite ${suiteName(id)}`);
  if (suite.messageFormat !== version) throw invalidMessage(`suite ${suiteName(id)} does not belong to message format ${version}`);
  return suite;
}

function readEncryptedDataKeys(reader: ByteReader, limits: HeaderLimits): EncryptedDataKey[] {
  const count = reader.u16();
  if (count === 0) throw invalidMessage('the message has no encrypted data key');
  // Checked before reading any entry: each one could cost a KMS or HSM call.
  if (count > limits.maxEncryptedDataKeys) {
    throw new KmsError('LimitExceededException', `The message has ${count} encrypted data keys, more than maxEncryptedDataKeys (${limits.maxEncryptedDataKeys})`);
  }
  const edks: EncryptedDataKey[] = [];
  for (let i = 0; i < count; i++) {
    const providerId = lossyUtf8.decode(reader.lengthPrefixed());
    // Copies: the header outlives the caller's buffer, which they may reuse.
    const rawInfo = copyOf(reader.lengthPrefixed());
    const encryptedDataKey = copyOf(reader.lengthPrefixed());
    edks.push(Object.freeze({ providerId, providerInfo: lossyUtf8.decode(rawInfo), rawInfo, encryptedDataKey }));
  }
  return edks;
}

function readContentType(reader: ByteReader): 1 | 2 {
  const type = reader.u8();
  if (type !== ContentType.FRAMED_DATA && type !== ContentType.NO_FRAMING) throw invalidMessage('unknown content type');
  return type;
}

function checkFrameLength(contentType: 1 | 2, frameLength: number): void {
  if ((contentType === ContentType.FRAMED_DATA) !== frameLength > 0) throw invalidMessage('the frame length does not match the content type');
}

/**
 * Parses the header at the start of `bytes` (which may hold more of the
 * message, or only part of the header: then {@link IncompleteMessage}).
 */
export function parseHeader(bytes: Uint8Array, limits: HeaderLimits): ParsedHeader {
  const reader = new ByteReader(bytes);
  const version = reader.u8();
  if (version !== 1 && version !== 2) throw invalidMessage('unknown message format version');
  if (version === 1 && reader.u8() !== V1_TYPE) throw invalidMessage('unknown message type');
  const suite = readSuite(reader, version);
  const messageId = copyOf(reader.take(suite.messageIdLength));
  const encryptionContext = parseEncryptionContext(reader.lengthPrefixed());
  const encryptedDataKeys = readEncryptedDataKeys(reader, limits);
  const contentType = readContentType(reader);
  let frameLength: number;
  let suiteData: Uint8Array = new Uint8Array(0);
  if (version === 1) {
    if (reader.u32() !== 0) throw invalidMessage('the reserved field is not zero');
    if (reader.u8() !== IV_LENGTH) throw invalidMessage('unsupported IV length');
    frameLength = reader.u32();
  } else {
    frameLength = reader.u32();
    suiteData = copyOf(reader.take(COMMIT_KEY_LENGTH));
  }
  checkFrameLength(contentType, frameLength);
  const headerBody = bytes.subarray(0, reader.offset);
  const authIv = version === 1 ? reader.take(IV_LENGTH) : ZERO_IV;
  const authTag = reader.take(TAG_LENGTH);
  const header: MessageHeader = Object.freeze({
    version,
    suiteId: suite.id,
    messageId,
    encryptionContext,
    encryptedDataKeys: Object.freeze(encryptedDataKeys),
    contentType,
    frameLength,
    suiteData,
    headerLength: reader.offset,
  });
  return { header, suite, headerBody, authIv, authTag };
}
