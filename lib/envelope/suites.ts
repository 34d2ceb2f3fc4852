/**
 * The AWS Encryption SDK algorithm suites this library reads (all eleven
 * ESDK suites) and writes (only the committing v2 ones, 0x0478 and 0x0578).
 * Every suite uses AES-GCM with a 12-byte IV and a 16-byte tag.
 */

/**
 * The ECDSA parameters of a signed suite. The SDK pairs each curve with one
 * hash (P-256 with SHA-256, P-384 with SHA-384); the native signer takes the
 * curve and uses its pair.
 */
export interface SignatureSuite {
  readonly curve: 'P-256' | 'P-384';
  /** Bytes of a compressed public point. */
  readonly compressedPointLength: 33 | 49;
}

/** One algorithm suite. */
export interface AlgorithmSuite {
  /** The 2-byte id written in the header, e.g. 0x0478. */
  readonly id: number;
  /** Message format version that carries it: 1 (legacy) or 2 (key commitment). */
  readonly messageFormat: 1 | 2;
  /** Bytes of the data key and of the content key (16, 24 or 32). */
  readonly keyLength: 16 | 24 | 32;
  /** Content-key derivation: none (key = data key) or HKDF with this digest. */
  readonly kdf: 'none' | 'SHA256' | 'SHA384' | 'SHA512';
  readonly signature?: SignatureSuite;
  /** True for the suites with a key commitment (v2). */
  readonly committing: boolean;
  /** Message ID bytes: 16 in v1, 32 in v2. */
  readonly messageIdLength: 16 | 32;
}

export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
/** Bytes of the v2 commitment key in the header's suite data. */
export const COMMIT_KEY_LENGTH = 32;

/** The suite written by default: AES-256-GCM, HKDF-SHA512, key commitment, no signature. */
export const DEFAULT_SUITE_ID = 0x0478;
/** The signed committing suite: 0x0478 plus an ECDSA P-384 / SHA-384 footer. */
export const SIGNED_SUITE_ID = 0x0578;

const P256: SignatureSuite = { curve: 'P-256', compressedPointLength: 33 };
const P384: SignatureSuite = { curve: 'P-384', compressedPointLength: 49 };

function v1(id: number, keyLength: 16 | 24 | 32, kdf: AlgorithmSuite['kdf'], signature?: SignatureSuite): AlgorithmSuite {
  return Object.freeze({ id, messageFormat: 1, keyLength, kdf, committing: false, messageIdLength: 16, ...(signature && { signature }) });
}

const SUITES: ReadonlyMap<number, AlgorithmSuite> = new Map(
  [
    v1(0x0014, 16, 'none'),
    v1(0x0046, 24, 'none'),
    v1(0x0078, 32, 'none'),
    v1(0x0114, 16, 'SHA256'),
    v1(0x0146, 24, 'SHA256'),
    v1(0x0178, 32, 'SHA256'),
    v1(0x0214, 16, 'SHA256', P256),
    v1(0x0346, 24, 'SHA384', P384),
    v1(0x0378, 32, 'SHA384', P384),
    Object.freeze({ id: DEFAULT_SUITE_ID, messageFormat: 2, keyLength: 32, kdf: 'SHA512', committing: true, messageIdLength: 32 } as const),
    Object.freeze({ id: SIGNED_SUITE_ID, messageFormat: 2, keyLength: 32, kdf: 'SHA512', committing: true, messageIdLength: 32, signature: P384 } as const),
  ].map((suite) => [suite.id, suite]),
);

/** The suite with this id, or undefined for an id no ESDK defines. */
export function suiteById(id: number): AlgorithmSuite | undefined {
  return SUITES.get(id);
}

/** Ids as the SDK prints them: "0x0478". */
export function suiteName(id: number): string {
  return `0x${id.toString(16).padStart(4, '0')}`;
}
