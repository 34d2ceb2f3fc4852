/**
 * The options of envelope.encrypt / envelope.decrypt, checked before any
 * work: wrong types are TypeErrors (ERR_INVALID_ARG_TYPE), values the
 * operation cannot take are KmsError ValidationException.
 */
import { checkEncryptionContext, type EncryptionContext } from '../encryption-context.js';
import { invalidArgType } from '../validate.js';
import { checkNoReservedKeys } from './context-codec.js';
import { isKeyring, type Keyring } from './materials.js';
import { invalidOption } from './message-errors.js';
import { DEFAULT_SUITE_ID, SIGNED_SUITE_ID, suiteById, type AlgorithmSuite } from './suites.js';

/**
 * Which suites encrypt writes and decrypt reads, named as @aws-crypto's
 * CommitmentPolicy enum values:
 * - REQUIRE_ENCRYPT_REQUIRE_DECRYPT (default): write and read only the committing suites;
 * - REQUIRE_ENCRYPT_ALLOW_DECRYPT: also read v1 suites (with `allowV1`);
 * - FORBID_ENCRYPT_ALLOW_DECRYPT: legacy writers only; this library never
 *   writes non-committing suites, so encrypt refuses it.
 */
export type CommitmentPolicy = 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT' | 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' | 'FORBID_ENCRYPT_ALLOW_DECRYPT';

const POLICIES: ReadonlySet<string> = new Set(['REQUIRE_ENCRYPT_REQUIRE_DECRYPT', 'REQUIRE_ENCRYPT_ALLOW_DECRYPT', 'FORBID_ENCRYPT_ALLOW_DECRYPT']);

/** Default plaintext bytes per frame: 64 KiB (the SDKs' 4 KiB costs ~40x in throughput). */
export const DEFAULT_FRAME_LENGTH = 64 * 1024;
const MAX_FRAME_LENGTH = 0xffff_ffff;
const MAX_EDKS = 0xffff;

/** Options of `envelope.encrypt`. */
export interface EnvelopeEncryptOptions {
  keyring: Keyring;
  /** Non-secret pairs bound to the message. Keys starting with "aws-crypto-" are reserved. */
  encryptionContext?: Record<string, string>;
  /** Plaintext bytes per frame, 1 to 2^32 - 1 (default 65,536). */
  frameLength?: number;
  /** 0x0478 (default) or 0x0578 (adds an ECDSA P-384 signature), as @aws-crypto's AlgorithmSuiteIdentifier. */
  algorithmSuite?: number;
  /** Default REQUIRE_ENCRYPT_REQUIRE_DECRYPT; FORBID_ENCRYPT_ALLOW_DECRYPT is refused. */
  commitmentPolicy?: CommitmentPolicy;
  /** Refuse to write more encrypted data keys than this (LimitExceededException). */
  maxEncryptedDataKeys?: number;
}

/** Options of `envelope.decrypt`. */
export interface EnvelopeDecryptOptions {
  keyring: Keyring;
  /**
   * Pairs the message must carry. Each must equal the stored pair, or, when
   * the header does not store that key, be one of the message's
   * authenticated-only pairs (which the header tag then proves).
   */
  encryptionContext?: Record<string, string>;
  /** Reject messages with more encrypted data keys than this, as soon as the count is read (LimitExceededException). Default 65,535 (no limit). */
  maxEncryptedDataKeys?: number;
  /**
   * Default REQUIRE_ENCRYPT_REQUIRE_DECRYPT, or REQUIRE_ENCRYPT_ALLOW_DECRYPT
   * when `allowV1` is true. v1 messages need `allowV1` and a policy that allows them.
   */
  commitmentPolicy?: CommitmentPolicy;
  /** Read messages of format v1 (non-committing suites). Default false. */
  allowV1?: boolean;
}

function requireKeyring(value: unknown): Keyring {
  if (!isKeyring(value)) throw invalidArgType('options.keyring', 'a keyring (RawAesKeyring, RawRsaKeyring, KmsKeyring, MultiKeyring, ...)', value);
  return value;
}

function policy(value: unknown, fallback: CommitmentPolicy): CommitmentPolicy {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !POLICIES.has(value)) throw invalidOption(`Unknown commitmentPolicy ${String(value)}`);
  return value as CommitmentPolicy;
}

function maxEdks(value: unknown): number {
  if (value === undefined) return MAX_EDKS;
  if (!Number.isInteger(value) || (value as number) < 1) throw invalidOption('maxEncryptedDataKeys must be a positive integer');
  return Math.min(value as number, MAX_EDKS);
}

function options<T extends object>(value: T | undefined): Partial<T> {
  if (typeof value !== 'object' || value === null) throw invalidArgType('options', 'of type object', value);
  return value;
}

/** Encrypt options, checked and defaulted. */
export interface CheckedEncryptOptions {
  keyring: Keyring;
  encryptionContext: EncryptionContext;
  frameLength: number;
  suite: AlgorithmSuite;
  maxEncryptedDataKeys: number;
}

export function checkEncryptOptions(value: EnvelopeEncryptOptions | undefined): CheckedEncryptOptions {
  const opts = options(value);
  const keyring = requireKeyring(opts.keyring);
  const encryptionContext = checkEncryptionContext(opts.encryptionContext);
  checkNoReservedKeys(encryptionContext);
  const frameLength = opts.frameLength ?? DEFAULT_FRAME_LENGTH;
  if (!Number.isInteger(frameLength) || frameLength < 1 || frameLength > MAX_FRAME_LENGTH) {
    throw invalidOption('frameLength must be an integer from 1 to 2^32 - 1');
  }
  const suiteId = opts.algorithmSuite ?? DEFAULT_SUITE_ID;
  if (suiteId !== DEFAULT_SUITE_ID && suiteId !== SIGNED_SUITE_ID) {
    throw invalidOption('algorithmSuite must be 0x0478 or 0x0578: only the committing suites are written');
  }
  if (policy(opts.commitmentPolicy, 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT') === 'FORBID_ENCRYPT_ALLOW_DECRYPT') {
    throw invalidOption('FORBID_ENCRYPT_ALLOW_DECRYPT is not supported: only committing suites are written');
  }
  return { keyring, encryptionContext, frameLength, suite: suiteById(suiteId)!, maxEncryptedDataKeys: maxEdks(opts.maxEncryptedDataKeys) };
}

/** Decrypt options, checked and defaulted. */
export interface CheckedDecryptOptions {
  keyring: Keyring;
  encryptionContext: EncryptionContext | undefined;
  maxEncryptedDataKeys: number;
  /** True when v1 (non-committing) messages may be read. */
  readV1: boolean;
}

export function checkDecryptOptions(value: EnvelopeDecryptOptions | undefined): CheckedDecryptOptions {
  const opts = options(value);
  const keyring = requireKeyring(opts.keyring);
  const encryptionContext = opts.encryptionContext === undefined ? undefined : checkEncryptionContext(opts.encryptionContext);
  if (opts.allowV1 !== undefined && typeof opts.allowV1 !== 'boolean') throw invalidArgType('options.allowV1', 'of type boolean', opts.allowV1);
  const allowV1 = opts.allowV1 === true;
  const chosen = policy(opts.commitmentPolicy, allowV1 ? 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' : 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT');
  return { keyring, encryptionContext, maxEncryptedDataKeys: maxEdks(opts.maxEncryptedDataKeys), readV1: allowV1 && chosen !== 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT' };
}
