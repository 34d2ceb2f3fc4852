// encryptBatch / decryptBatch on both roots: every item as encrypt and decrypt
// would treat it, in order; a failed item fails alone, with the code the
// single call gives; what refuses the whole call; one audit record per item.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kms, KmsError } from '../../dist/index.js';
import { bytes, codeOf, makeHarness, removeToken, ROOTS, type Harness } from './kms-harness.js';

afterAll(() => removeToken());

type Result = { error?: KmsError; ciphertextBlob?: Uint8Array; plaintext?: Uint8Array; keyId?: string; keyVersion?: number; encryptionAlgorithm?: string };

const codes = (results: readonly Result[]): (string | null)[] => results.map((r) => (r.error === undefined ? null : r.error.code));

describe.each(ROOTS)('KMS batches on the %s root', (kind) => {
  let h: Harness;
  let kms: Kms;
  let keyId: string;

  beforeAll(async () => {
    h = makeHarness(kind);
    ({ kms } = await h.open());
    keyId = (await kms.createKey({ description: 'batch' })).keyMetadata.keyId;
  });

  afterAll(async () => {
    await h.cleanup();
  });

  it('encryptBatch: each blob opens with decrypt and its own context; results as encrypt gives them, in order', async () => {
    // 100 items: several slices per HSM thread; sizes 1..4096 bytes.
    const items = Array.from({ length: 100 }, (_, i) => ({ plaintext: crypto.randomBytes(i === 99 ? 4096 : 1 + i * 7), encryptionContext: { item: String(i), ...(i % 2 ? { tenant: 'odd' } : {}) } }));
    const { results } = (await kms.encryptBatch({ keyId, items })) as { results: Result[] };
    expect(results).toHaveLength(items.length);
    const arn = (await kms.describeKey({ keyId })).keyMetadata.arn;
    for (const [i, result] of results.entries()) {
      expect(result).toMatchObject({ keyId: arn, keyVersion: 1, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
      const opened = await kms.decrypt({ ciphertextBlob: result.ciphertextBlob!, encryptionContext: items[i]!.encryptionContext });
      expect(Buffer.from(opened.plaintext)).toEqual(items[i]!.plaintext);
    }
    // Fresh IVs: no two blobs alike, even for equal plaintexts.
    const same = await kms.encryptBatch({ keyId, items: [{ plaintext: bytes('twin') }, { plaintext: bytes('twin') }] });
    expect(Buffer.from((same.results[0] as Result).ciphertextBlob!)).not.toEqual(Buffer.from((same.results[1] as Result).ciphertextBlob!));
  });

  it('decryptBatch opens blobs of several keys and versions in one call, in order', async () => {
    const other = (await kms.createKey({})).keyMetadata.keyId;
    const before = await kms.encrypt({ keyId, plaintext: bytes('before rotation'), encryptionContext: { v: '1' } });
    await kms.rotateKeyOnDemand({ keyId });
    const after = await kms.encrypt({ keyId, plaintext: bytes('after rotation') });
    const fromOther = await kms.encrypt({ keyId: other, plaintext: bytes('other key'), encryptionContext: { k: 'other' } });
    const batch = (await kms.encryptBatch({ keyId: other, items: [{ plaintext: bytes('batched') }] })).results[0] as Result;
    const { results } = (await kms.decryptBatch({
      items: [
        { ciphertextBlob: fromOther.ciphertextBlob, encryptionContext: { k: 'other' } },
        { ciphertextBlob: before.ciphertextBlob, encryptionContext: { v: '1' }, keyId },
        { ciphertextBlob: batch.ciphertextBlob! },
        { ciphertextBlob: after.ciphertextBlob },
      ],
    })) as { results: Result[] };
    expect(results.map((r) => Buffer.from(r.plaintext!).toString())).toEqual(['other key', 'before rotation', 'batched', 'after rotation']);
    expect(results.map((r) => r.keyVersion)).toEqual([1, 1, 1, 2]);
    expect(results[1]!.keyId).toContain(keyId);
    expect(results[0]!.keyId).toContain(other);
  });

  it('encryptBatch fails only the bad items (ValidationException); the others are sealed', async () => {
    const items = [
      { plaintext: bytes('fine') },
      { plaintext: new Uint8Array(0) },
      { plaintext: new Uint8Array(4097) },
      { plaintext: bytes('bad context'), encryptionContext: { '': 'empty key' } },
      { plaintext: bytes('also fine'), encryptionContext: { a: 'b' } },
    ];
    const { results } = (await kms.encryptBatch({ keyId, items })) as { results: Result[] };
    expect(codes(results)).toEqual([null, 'ValidationException', 'ValidationException', 'ValidationException', null]);
    expect(results[1]!.error).toBeInstanceOf(KmsError);
    expect(Buffer.from((await kms.decrypt({ ciphertextBlob: results[4]!.ciphertextBlob!, encryptionContext: { a: 'b' } })).plaintext).toString()).toBe('also fine');
  });

  it('decryptBatch fails each bad item with the code decrypt gives, and opens the rest', async () => {
    const other = (await kms.createKey({})).keyMetadata.keyId;
    const disabled = (await kms.createKey({})).keyMetadata.keyId;
    const good = await kms.encrypt({ keyId, plaintext: bytes('good'), encryptionContext: { a: 'b' } });
    const ofDisabled = await kms.encrypt({ keyId: disabled, plaintext: bytes('disabled') });
    await kms.disableKey({ keyId: disabled });
    const stranger = await h.open({ track: true });
    const foreignKey = (await stranger.kms.createKey({})).keyMetadata.keyId;
    const foreign = await stranger.kms.encrypt({ keyId: foreignKey, plaintext: bytes('elsewhere') });
    const flipped = Buffer.from(good.ciphertextBlob);
    flipped[flipped.length - 3]! ^= 4;
    const items = [
      { ciphertextBlob: good.ciphertextBlob, encryptionContext: { a: 'b' } },
      { ciphertextBlob: flipped, encryptionContext: { a: 'b' } },
      { ciphertextBlob: good.ciphertextBlob, encryptionContext: { a: 'c' } },
      { ciphertextBlob: good.ciphertextBlob, encryptionContext: { a: 'b' }, keyId: other },
      { ciphertextBlob: ofDisabled.ciphertextBlob },
      { ciphertextBlob: foreign.ciphertextBlob },
      { ciphertextBlob: new Uint8Array(0) },
      { ciphertextBlob: good.ciphertextBlob.subarray(0, 20), encryptionContext: { a: 'b' } },
      { ciphertextBlob: good.ciphertextBlob, encryptionContext: { a: 'b' } },
    ];
    const { results } = (await kms.decryptBatch({ items })) as { results: Result[] };
    expect(codes(results)).toEqual([
      null, 'InvalidCiphertextException', 'InvalidCiphertextException', 'IncorrectKeyException', 'DisabledException',
      'InvalidCiphertextException', 'ValidationException', 'InvalidCiphertextException', null,
    ]);
    // The same codes as one decrypt each.
    for (const [i, item] of items.entries()) {
      expect(await codeOf(kms.decrypt(item))).toBe(codes(results)[i] ?? 'SUCCESS');
    }
    expect(Buffer.from(results[8]!.plaintext!).toString()).toBe('good');
  });

  it('refuses the whole call for a malformed request or a key that cannot encrypt', async () => {
    const one = [{ plaintext: bytes('x') }];
    expect(await codeOf(kms.encryptBatch({ keyId, items: [] }))).toBe('ValidationException');
    expect(await codeOf(kms.encryptBatch({ keyId, items: Array.from({ length: 1001 }, () => ({ plaintext: bytes('x') })) }))).toBe('ValidationException');
    expect(await codeOf(kms.encryptBatch({ keyId, items: 'nope' as never }))).toBe('ValidationException');
    expect(await codeOf(kms.decryptBatch({ items: undefined as never }))).toBe('ValidationException');
    expect(await codeOf(kms.encryptBatch({ keyId, items: one, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).toBe('ValidationException');
    expect(await codeOf(kms.encryptBatch({ keyId: '00000000-0000-4000-8000-000000000000', items: one }))).toBe('NotFoundException');
    expect(await codeOf(kms.encryptBatch({ keyId: 'alias/none', items: one }))).toBe('NotFoundException');
    const signing = (await kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' })).keyMetadata.keyId;
    expect(await codeOf(kms.encryptBatch({ keyId: signing, items: one }))).toBe('InvalidKeyUsageException');
    const off = (await kms.createKey({})).keyMetadata.keyId;
    await kms.disableKey({ keyId: off });
    expect(await codeOf(kms.encryptBatch({ keyId: off, items: one }))).toBe('DisabledException');
    const doomed = (await kms.createKey({})).keyMetadata.keyId;
    await kms.scheduleKeyDeletion({ keyId: doomed, pendingWindowInDays: 7 });
    expect(await codeOf(kms.encryptBatch({ keyId: doomed, items: one }))).toBe('KMSInvalidStateException');
    // A plaintext that is not bytes is the caller's bug, as with encrypt: a TypeError for the whole call.
    await expect(kms.encryptBatch({ keyId, items: [{ plaintext: bytes('ok') }, { plaintext: 'text' as never }] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    // Also in a later chunk, with earlier ones at the root: they settle unobserved (vitest fails on an unhandled rejection).
    const late = Array.from({ length: 600 }, (_, i) => ({ plaintext: i === 500 ? ('text' as never) : bytes(`item ${i}`) }));
    await expect(kms.encryptBatch({ keyId, items: late })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const closed = await h.open({ track: false });
    await closed.kms.close();
    expect(await codeOf(closed.kms.encryptBatch({ keyId, items: one }))).toBe('KMSInvalidStateException');
    expect(await codeOf(closed.kms.decryptBatch({ items: [{ ciphertextBlob: bytes('x') }] }))).toBe('KMSInvalidStateException');
  });

  it('audits every item (its key, version, context keys and outcome) and a refused call once, with no values', async () => {
    const own = await h.open();
    const id = (await own.kms.createKey({})).keyMetadata.keyId;
    await own.kms.createAlias({ aliasName: 'alias/batch', targetKeyId: id });
    const SECRET = 'batch-secret-value-41';
    const sealed = await own.kms.encryptBatch({
      keyId: 'alias/batch',
      items: [{ plaintext: bytes(SECRET), encryptionContext: { tenant: SECRET } }, { plaintext: new Uint8Array(0) }],
    });
    await own.kms.decryptBatch({ items: [{ ciphertextBlob: (sealed.results[0] as Result).ciphertextBlob!, encryptionContext: { tenant: SECRET } }, { ciphertextBlob: bytes('junk') }] });
    await codeOf(own.kms.encryptBatch({ keyId: id, items: [] }));
    const records = await own.kms.auditLog({ keyId: id });
    const ops = records.filter((r) => r.operation.endsWith('Batch')).map((r) => `${r.operation}:${r.outcome}:${r.errorCode ?? ''}:${r.keyVersion ?? ''}:${r.contextKeys.join(',')}`);
    // Each item is recorded as it settles (a refused item before the root's answers).
    expect(ops.sort()).toEqual([
      'DecryptBatch:success::1:tenant',
      'EncryptBatch:failure:ValidationException::',
      'EncryptBatch:failure:ValidationException::',
      'EncryptBatch:success::1:tenant',
    ]);
    // The junk blob names no key: its record has none.
    const all = await own.kms.auditLog({});
    expect(all.filter((r) => r.operation === 'DecryptBatch' && r.keyId === null).map((r) => r.errorCode)).toEqual(['InvalidCiphertextException']);
    const text = JSON.stringify(all);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(Buffer.from(SECRET).toString('base64'));
  });

  it('close() during a batch: the batch settles (done, or a KmsError for what had not reached the root) and close resolves', async () => {
    const own = await h.open({ track: false });
    const id = (await own.kms.createKey({})).keyMetadata.keyId;
    const items = Array.from({ length: 1000 }, (_, i) => ({ plaintext: bytes(`item ${i}`) }));
    const batch = own.kms.encryptBatch({ keyId: id, items }).then(
      (response) => ({ done: response.results.length }),
      (error: unknown) => ({ error }),
    );
    await new Promise((resolve) => setImmediate(resolve)); // the first chunk is at the root
    await own.kms.close();
    const settled = await batch;
    if ('error' in settled) expect(settled.error).toBeInstanceOf(KmsError);
    else expect(settled.done).toBe(1000);
  });

  it('close() during a decryptBatch: the same', async () => {
    const own = await h.open({ track: false });
    const id = (await own.kms.createKey({})).keyMetadata.keyId;
    const sealed = await own.kms.encryptBatch({ keyId: id, items: Array.from({ length: 1000 }, (_, i) => ({ plaintext: bytes(`item ${i}`) })) });
    const batch = own.kms.decryptBatch({ items: sealed.results.map((r) => ({ ciphertextBlob: (r as Result).ciphertextBlob! })) }).then(
      (response) => ({ done: response.results.length }),
      (error: unknown) => ({ error }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    await own.kms.close();
    const settled = await batch;
    if ('error' in settled) expect(settled.error).toBeInstanceOf(KmsError);
    else expect(settled.done).toBe(1000);
  });

  it('a caller emptying its items array while the call runs changes nothing', async () => {
    const items = Array.from({ length: 300 }, (_, i) => ({ plaintext: bytes(`kept ${i}`) }));
    const pending = kms.encryptBatch({ keyId, items });
    items.length = 0;
    const { results } = await pending;
    expect(results).toHaveLength(300);
    const opened = await kms.decryptBatch({ items: results.map((r) => ({ ciphertextBlob: (r as Result).ciphertextBlob! })) });
    expect(Buffer.from((opened.results[299] as Result).plaintext!).toString()).toBe('kept 299');
  });

  it('many callers at once each get their own items back', async () => {
    const calls = Array.from({ length: 8 }, (_, c) => Array.from({ length: 25 }, (_, i) => bytes(`caller ${c} item ${i}`)));
    const sealed = await Promise.all(calls.map((plaintexts) => kms.encryptBatch({ keyId, items: plaintexts.map((plaintext) => ({ plaintext })) })));
    const opened = await Promise.all(sealed.map((s) => kms.decryptBatch({ items: s.results.map((r) => ({ ciphertextBlob: (r as Result).ciphertextBlob! })) })));
    expect(opened.map((o) => o.results.map((r) => Buffer.from((r as Result).plaintext!).toString()))).toEqual(calls.map((c) => c.map((p) => Buffer.from(p).toString())));
  });
});
