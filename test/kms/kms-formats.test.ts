// The pure formats under the KMS: encryption-context serialization (the AWS
// Encryption SDK's, checked against the bytes of a known-answer message in
// ../shared/reference), the ciphertext blob, and how callers name keys.
import { describe, expect, it } from 'vitest';
import { KmsError } from '../../dist/index.js';
import { checkEncryptionContext, serializeEncryptionContext } from '../../dist/encryption-context.js';
import { assembleBlob, blobAad, blobHeader, BLOB_HEADER_LENGTH, parseBlob } from '../../dist/kms/ciphertext-blob.js';
import { aliasArn, checkAliasName, keyArn, parseKeyReference, DEFAULT_ARN_SETTINGS } from '../../dist/kms/key-references.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('encryption context serialization', () => {
  it('matches the Encryption SDK bytes of KAT 2 ({purpose: test, owner: me})', () => {
    // From encryption-sdk-known-answers.md: the header's context section after its u16 length.
    const expected = '0002' + '0005' + '6f776e6572' + '0002' + '6d65' + '0007' + '707572706f7365' + '0004' + '74657374';
    const bytes = serializeEncryptionContext(checkEncryptionContext({ purpose: 'test', owner: 'me' }));
    expect(bytes.length).toBe(0x1c);
    expect(hex(bytes)).toBe(expected);
  });

  it('sorts by UTF-8 bytes, not locale (KAT 3: "B" before "a")', () => {
    const bytes = serializeEncryptionContext(checkEncryptionContext({ a: 'lower', B: 'upper' }));
    expect(hex(bytes)).toBe('0002' + '0001' + '42' + '0005' + hex(Buffer.from('upper')) + '0001' + '61' + '0005' + hex(Buffer.from('lower')));
  });

  it('serializes an empty context to no bytes and sorts non-ASCII by bytes', () => {
    expect(serializeEncryptionContext(checkEncryptionContext(undefined)).length).toBe(0);
    const bytes = serializeEncryptionContext(checkEncryptionContext({ 'é': '1', z: '2' }));
    // "z" (0x7a) sorts before "é" (0xc3 0xa9) in byte order.
    expect(hex(bytes).indexOf('7a')).toBeLessThan(hex(bytes).indexOf('c3a9'));
  });

  it('refuses non-string values, empty keys and lone surrogates with ValidationException', () => {
    expect(codeOf(() => checkEncryptionContext({ a: 1 }))).toBe('ValidationException');
    expect(codeOf(() => checkEncryptionContext({ '': 'x' }))).toBe('ValidationException');
    expect(codeOf(() => checkEncryptionContext('a=b'))).toBe('ValidationException');
    expect(codeOf(() => serializeEncryptionContext(checkEncryptionContext({ k: '\ud800' })))).toBe('ValidationException');
  });

  it('agrees with a plain reference serialization on random contexts from every Unicode range', () => {
    // The reference: encode every string, sort pairs by key bytes, length-prefix each.
    const reference = (context: Record<string, string>): string => {
      const pairs = Object.entries(context).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const);
      pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
      const u16 = (n: number) => n.toString(16).padStart(4, '0');
      return pairs.length === 0 ? '' : u16(pairs.length) + pairs.map(([k, v]) => u16(k.length) + hex(k) + u16(v.length) + hex(v)).join('');
    };
    // ASCII, Latin-1, below the surrogates, above them (U+E000..U+FFFF sorts before astral
    // characters in UTF-16 units but after them in UTF-8 bytes), and astral pairs.
    const pools = [[0x20, 0x7e], [0xa0, 0xff], [0x3040, 0x30ff], [0xe000, 0xffff], [0x1f600, 0x1f64f]] as const;
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const text = (length: number) => {
      let out = '';
      for (let i = 0; i < length; i++) {
        const [lo, hi] = pools[random(pools.length)]!;
        out += String.fromCodePoint(lo + random(hi - lo + 1));
      }
      return out;
    };
    for (let round = 0; round < 300; round++) {
      const context: Record<string, string> = {};
      for (let i = random(6); i > 0; i--) context[text(1 + random(4))] = text(random(6));
      expect(hex(serializeEncryptionContext(checkEncryptionContext(context)))).toBe(reference(context));
    }
  });

  it('refuses a context whose serialization exceeds 64 KiB', () => {
    const big = { k: 'x'.repeat(70_000) };
    expect(codeOf(() => serializeEncryptionContext(checkEncryptionContext(big)))).toBe('ValidationException');
  });
});

describe('ciphertext blob', () => {
  const keyId = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
  const iv = Uint8Array.from({ length: 12 }, (_, i) => i + 1);

  it('lays out version | key id | key version | IV, big-endian, and parses back', () => {
    const header = blobHeader(keyId, 0x01020304, iv);
    expect(header.length).toBe(BLOB_HEADER_LENGTH);
    expect(hex(header)).toBe('01' + keyId.replace(/-/g, '') + '01020304' + hex(iv));
    const body = new Uint8Array(5 + 16).fill(0xab);
    const parsed = parseBlob(assembleBlob(header, body));
    expect(parsed.keyId).toBe(keyId);
    expect(parsed.keyVersion).toBe(0x01020304);
    expect(hex(parsed.iv)).toBe(hex(iv));
    expect(hex(parsed.body)).toBe(hex(body));
    expect(hex(blobAad(header, Uint8Array.of(9, 9)))).toBe(hex(header) + '0909');
  });

  it('rejects a wrong format version, version 0, a short or an oversized blob', () => {
    const good = assembleBlob(blobHeader(keyId, 1, iv), new Uint8Array(16));
    const badVersion = Uint8Array.from(good);
    badVersion[0] = 2;
    const zeroKeyVersion = assembleBlob(blobHeader(keyId, 0, iv), new Uint8Array(16));
    for (const blob of [badVersion, zeroKeyVersion, good.subarray(0, 48), new Uint8Array(6145).fill(1)]) {
      expect(codeOf(() => parseBlob(blob))).toBe('InvalidCiphertextException');
    }
  });
});

describe('key references', () => {
  const arn = DEFAULT_ARN_SETTINGS;
  const keyId = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';

  it('parses key ids, key ARNs, alias names and alias ARNs', () => {
    expect(parseKeyReference(keyId, arn)).toEqual({ kind: 'key', keyId });
    expect(parseKeyReference(keyArn(keyId, arn), arn)).toEqual({ kind: 'key', keyId });
    expect(parseKeyReference('alias/app/main', arn)).toEqual({ kind: 'alias', aliasName: 'alias/app/main' });
    expect(parseKeyReference(aliasArn('alias/app', arn), arn)).toEqual({ kind: 'alias', aliasName: 'alias/app' });
  });

  it('answers NotFoundException for another account or region, ValidationException for garbage', () => {
    const foreign = `arn:aws:kms:eu-west-1:123456789012:key/${keyId}`;
    expect(codeOf(() => parseKeyReference(foreign, arn))).toBe('NotFoundException');
    for (const bad of ['', 'nope', keyId.toUpperCase(), 'alias/', 'alias/has space', 42]) {
      expect(codeOf(() => parseKeyReference(bad, arn))).toBe('ValidationException');
    }
  });

  it('reserves alias/aws/ for creation only', () => {
    expect(codeOf(() => checkAliasName('alias/aws/s3', true))).toBe('ValidationException');
    expect(checkAliasName('alias/aws/s3')).toBe('alias/aws/s3');
  });

  it('throws KmsError instances', () => {
    try {
      parseKeyReference('nope', arn);
    } catch (error) {
      expect(error).toBeInstanceOf(KmsError);
    }
    expect.assertions(1);
  });
});
