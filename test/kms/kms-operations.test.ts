// The KMS's symmetric side on both roots (the embedded `soft` root and a
// fresh SoftHSM2 token): key lifecycle, aliases, tags, rotation,
// encrypt/decrypt/reEncrypt, data keys, random, domain-key rotation, reopen,
// audit and concurrency. Names and codes follow issue 4 / AWS KMS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aead, Kms, KmsError } from '../../dist/index.js';
import { bytes, codeOf, makeHarness, removeToken, ROOTS, text, TestClock, type Harness } from './kms-harness.js';

afterAll(() => removeToken());

describe.each(ROOTS)('KMS on the %s root', (kind) => {
  let h: Harness;
  let kms: Kms;
  let clock: TestClock;
  let keyId: string;

  beforeAll(async () => {
    h = makeHarness(kind);
    ({ kms, clock } = await h.open());
    keyId = (await kms.createKey({ description: 'main' })).keyMetadata.keyId;
  });

  afterAll(async () => {
    await h.cleanup();
  });

  const newKey = async (request = {}) => (await kms.createKey(request)).keyMetadata.keyId;

  it('describe() names the root (the soft root says it is not an HSM), the store and the domain keys, and no secret', async () => {
    const own = await h.open({ track: false });
    try {
      await own.kms.createKey();
      await own.kms.createKey();
      const d = await own.kms.describe();
      expect(d.rootOfTrust.kind).toBe(kind);
      expect(d.rootOfTrust.isHsm).toBe(kind === 'pkcs11');
      if (kind === 'soft') expect(d.rootOfTrust.summary).toContain('NOT an HSM');
      else expect(d.rootOfTrust.tokenLabel).toBe('hsmkms-kms-test');
      expect(d.store).toEqual({ kind: 'sqlite', location: expect.stringContaining(own.dir) });
      expect(d.activeDomainKeyVersion).toBe(1);
      expect(d.domainKeys).toEqual([{ version: 1, state: 'active', createdAt: expect.any(Date), cmkVersions: 2 }]);
      expect(JSON.stringify(d)).not.toContain('1234'); // the test token's PIN
    } finally {
      await own.kms.close();
    }
    await expect(own.kms.describe()).rejects.toMatchObject({ code: 'KMSInvalidStateException' });
  });

  it('encryptDataKey seals a data key handle without its bytes in JavaScript; decryptDataKey and decrypt open it', async () => {
    const dataKey = aead.generateKey();
    const sealed = await aead.encrypt(dataKey, bytes('under the data key'));
    const wrapped = await kms.encryptDataKey({ keyId, dataKey, encryptionContext: { purpose: 'dek' } });
    expect(wrapped).toMatchObject({ keyId: expect.stringContaining(keyId), encryptionAlgorithm: 'SYMMETRIC_DEFAULT', keyVersion: expect.any(Number) });
    const { dataKey: back } = await kms.decryptDataKey({ ciphertextBlob: wrapped.ciphertextBlob, encryptionContext: { purpose: 'dek' } });
    expect(text(await aead.decrypt(back, sealed))).toBe('under the data key');
    const { plaintext } = await kms.decrypt({ ciphertextBlob: wrapped.ciphertextBlob, encryptionContext: { purpose: 'dek' } });
    expect(plaintext).toHaveLength(32);
    expect(await codeOf(kms.decrypt({ ciphertextBlob: wrapped.ciphertextBlob }))).toBe('InvalidCiphertextException');
    await expect(kms.encryptDataKey({ keyId, dataKey: bytes('raw bytes') as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const gone = aead.generateKey();
    gone.destroy();
    expect(await codeOf(kms.encryptDataKey({ keyId, dataKey: gone }))).toBe('KeyUnavailableException');
    back.destroy();
    dataKey.destroy();
  });

  describe('createKey / describeKey / listKeys', () => {
    it('creates a symmetric key with AWS-shaped metadata', async () => {
      const { keyMetadata: m } = await kms.createKey({ description: 'd', tags: [{ tagKey: 'team', tagValue: 'x' }] });
      expect(m.keyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(m.arn).toBe(`arn:aws:kms:local:000000000000:key/${m.keyId}`);
      expect(m).toMatchObject({
        keyState: 'Enabled', enabled: true, keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT',
        description: 'd', currentKeyVersion: 1, rootOfTrust: kind, encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      });
      expect(m.creationDate).toBeInstanceOf(Date);
      expect((await kms.listResourceTags({ keyId: m.keyId })).tags).toEqual([{ tagKey: 'team', tagValue: 'x' }]);
    });

    it('refuses SYMMETRIC_DEFAULT/SIGN_VERIFY, ECC/ENCRYPT_DECRYPT and unknown specs with ValidationException', async () => {
      for (const [keySpec, keyUsage] of [
        ['SYMMETRIC_DEFAULT', 'SIGN_VERIFY'], ['ECC_NIST_P256', 'ENCRYPT_DECRYPT'], ['ECC_NIST_P384', 'ENCRYPT_DECRYPT'],
        ['AES_256', 'ENCRYPT_DECRYPT'], ['SYMMETRIC_DEFAULT', 'WRAP'],
      ]) {
        expect(await codeOf(kms.createKey({ keySpec, keyUsage } as never)), `${keySpec}/${keyUsage}`).toBe('ValidationException');
      }
      expect(await codeOf(kms.createKey({ tags: [{ tagKey: 'aws:x', tagValue: '' }] }))).toBe('ValidationException');
    });

    it('describes a key by id, ARN, alias name and alias ARN; unknown ones are NotFoundException', async () => {
      const id = await newKey();
      const arn = `arn:aws:kms:local:000000000000:key/${id}`;
      await kms.createAlias({ aliasName: 'alias/describe-me', targetKeyId: id });
      for (const ref of [id, arn, 'alias/describe-me', 'arn:aws:kms:local:000000000000:alias/describe-me']) {
        expect((await kms.describeKey({ keyId: ref })).keyMetadata.keyId).toBe(id);
      }
      expect(await codeOf(kms.describeKey({ keyId: '00000000-0000-4000-8000-000000000000' }))).toBe('NotFoundException');
      expect(await codeOf(kms.describeKey({ keyId: 'alias/none' }))).toBe('NotFoundException');
      expect(await codeOf(kms.describeKey({ keyId: 'not a key' }))).toBe('ValidationException');
    });

    it('lists every key across pages, each once', async () => {
      const own = await h.open();
      const ids = new Set<string>();
      for (let i = 0; i < 7; i++) ids.add((await own.kms.createKey()).keyMetadata.keyId);
      const seen: string[] = [];
      let marker: string | undefined;
      let pages = 0;
      do {
        const page = await own.kms.listKeys({ limit: 3, ...(marker !== undefined && { marker }) });
        pages++;
        expect(page.keys.length).toBeLessThanOrEqual(3);
        expect(page.truncated).toBe(page.nextMarker !== undefined);
        for (const k of page.keys) {
          seen.push(k.keyId);
          expect(k.keyArn).toBe(`arn:aws:kms:local:000000000000:key/${k.keyId}`);
        }
        marker = page.nextMarker;
      } while (marker !== undefined);
      expect(pages).toBeGreaterThanOrEqual(3);
      expect(seen.length).toBe(7);
      expect(new Set(seen)).toEqual(ids);
      expect(await codeOf(own.kms.listKeys({ limit: 0 }))).toBe('ValidationException');
      expect(await codeOf(own.kms.listKeys({ limit: 1001 }))).toBe('ValidationException');
    });
  });

  describe('key states', () => {
    it('disable refuses encrypt and decrypt with DisabledException; enable restores them', async () => {
      const id = await newKey();
      const { ciphertextBlob } = await kms.encrypt({ keyId: id, plaintext: bytes('x') });
      await kms.disableKey({ keyId: id });
      expect((await kms.describeKey({ keyId: id })).keyMetadata).toMatchObject({ keyState: 'Disabled', enabled: false });
      expect(await codeOf(kms.encrypt({ keyId: id, plaintext: bytes('x') }))).toBe('DisabledException');
      expect(await codeOf(kms.decrypt({ ciphertextBlob }))).toBe('DisabledException');
      expect(await codeOf(kms.generateDataKey({ keyId: id }))).toBe('DisabledException');
      await kms.enableKey({ keyId: id });
      expect(text((await kms.decrypt({ ciphertextBlob })).plaintext)).toBe('x');
    });

    it('scheduleKeyDeletion takes 7..30 days (default 30), else ValidationException', async () => {
      const id = await newKey();
      for (const days of [6, 31, 0, 7.5]) {
        expect(await codeOf(kms.scheduleKeyDeletion({ keyId: id, pendingWindowInDays: days })), String(days)).toBe('ValidationException');
      }
      const before = clock.now().getTime();
      const r = await kms.scheduleKeyDeletion({ keyId: id });
      expect(r.pendingWindowInDays).toBe(30);
      expect(r.keyState).toBe('PendingDeletion');
      expect(Math.abs(r.deletionDate.getTime() - before - 30 * 86_400_000)).toBeLessThan(60_000);
      const id7 = await newKey();
      expect((await kms.scheduleKeyDeletion({ keyId: id7, pendingWindowInDays: 7 })).pendingWindowInDays).toBe(7);
      const id30 = await newKey();
      expect((await kms.scheduleKeyDeletion({ keyId: id30, pendingWindowInDays: 30 })).pendingWindowInDays).toBe(30);
    });

    it('a key pending deletion refuses use (KMSInvalidStateException); cancel leaves it Disabled', async () => {
      const id = await newKey();
      const { ciphertextBlob } = await kms.encrypt({ keyId: id, plaintext: bytes('pending') });
      await kms.scheduleKeyDeletion({ keyId: id, pendingWindowInDays: 7 });
      const m = (await kms.describeKey({ keyId: id })).keyMetadata;
      expect(m).toMatchObject({ keyState: 'PendingDeletion', enabled: false, pendingDeletionWindowInDays: 7 });
      expect(m.deletionDate).toBeInstanceOf(Date);
      expect(await codeOf(kms.encrypt({ keyId: id, plaintext: bytes('x') }))).toBe('KMSInvalidStateException');
      expect(await codeOf(kms.decrypt({ ciphertextBlob }))).toBe('KMSInvalidStateException');
      expect(await codeOf(kms.enableKey({ keyId: id }))).toBe('KMSInvalidStateException');
      expect(await codeOf(kms.disableKey({ keyId: id }))).toBe('KMSInvalidStateException');
      expect(await codeOf(kms.scheduleKeyDeletion({ keyId: id }))).toBe('KMSInvalidStateException');
      await kms.cancelKeyDeletion({ keyId: id });
      const after = (await kms.describeKey({ keyId: id })).keyMetadata;
      expect(after.keyState).toBe('Disabled');
      expect(after.deletionDate).toBeUndefined();
      expect(await codeOf(kms.cancelKeyDeletion({ keyId: id }))).toBe('KMSInvalidStateException');
      await kms.enableKey({ keyId: id });
      expect(text((await kms.decrypt({ ciphertextBlob })).plaintext)).toBe('pending');
    });

    it('purges a key once its window has passed (moved clock), not before; then NotFoundException', async () => {
      const own = await h.open();
      const id = (await own.kms.createKey()).keyMetadata.keyId;
      const keep = (await own.kms.createKey()).keyMetadata.keyId;
      await own.kms.createAlias({ aliasName: 'alias/doomed', targetKeyId: id });
      const { ciphertextBlob } = await own.kms.encrypt({ keyId: id, plaintext: bytes('bye') });
      await own.kms.scheduleKeyDeletion({ keyId: id, pendingWindowInDays: 7 });
      own.clock.advanceDays(6);
      expect(await own.kms.purgeDeletedKeys()).toEqual([]);
      own.clock.advanceDays(1.01);
      const { purged } = await own.kms.runMaintenance();
      expect(purged).toEqual([id]);
      expect(await codeOf(own.kms.describeKey({ keyId: id }))).toBe('NotFoundException');
      expect(await codeOf(own.kms.encrypt({ keyId: id, plaintext: bytes('x') }))).toBe('NotFoundException');
      expect(await codeOf(own.kms.decrypt({ ciphertextBlob }))).toBe('InvalidCiphertextException');
      expect((await own.kms.listKeys()).keys.map((k) => k.keyId)).toEqual([keep]);
      expect((await own.kms.listAliases()).aliases.map((a) => a.aliasName)).not.toContain('alias/doomed');
      expect(await own.kms.purgeDeletedKeys()).toEqual([]);
    });
  });

  describe('aliases and tags', () => {
    it('create, use, update, list and delete aliases', async () => {
      const a = await newKey();
      const b = await newKey();
      await kms.createAlias({ aliasName: 'alias/app/one', targetKeyId: a });
      expect(await codeOf(kms.createAlias({ aliasName: 'alias/app/one', targetKeyId: b }))).toBe('AlreadyExistsException');
      const blob = (await kms.encrypt({ keyId: 'alias/app/one', plaintext: bytes('via alias') })).ciphertextBlob;
      expect((await kms.decrypt({ ciphertextBlob: blob, keyId: 'alias/app/one' })).keyId).toContain(a);
      await kms.updateAlias({ aliasName: 'alias/app/one', targetKeyId: b });
      expect((await kms.describeKey({ keyId: 'alias/app/one' })).keyMetadata.keyId).toBe(b);
      expect((await kms.encrypt({ keyId: 'alias/app/one', plaintext: bytes('x') })).keyId).toContain(b);
      expect(await codeOf(kms.decrypt({ ciphertextBlob: blob, keyId: 'alias/app/one' }))).toBe('IncorrectKeyException');
      const forB = await kms.listAliases({ keyId: b });
      expect(forB.aliases).toHaveLength(1);
      expect(forB.aliases[0]).toMatchObject({ aliasName: 'alias/app/one', targetKeyId: b, aliasArn: 'arn:aws:kms:local:000000000000:alias/app/one' });
      expect((await kms.listAliases({ keyId: a })).aliases).toHaveLength(0);
      await kms.deleteAlias({ aliasName: 'alias/app/one' });
      expect(await codeOf(kms.describeKey({ keyId: 'alias/app/one' }))).toBe('NotFoundException');
      expect(await codeOf(kms.deleteAlias({ aliasName: 'alias/app/one' }))).toBe('NotFoundException');
      expect(await codeOf(kms.updateAlias({ aliasName: 'alias/app/one', targetKeyId: a }))).toBe('NotFoundException');
    });

    it('refuses alias/aws/, bad names and unknown targets', async () => {
      expect(await codeOf(kms.createAlias({ aliasName: 'alias/aws/s3', targetKeyId: keyId }))).toBe('ValidationException');
      expect(await codeOf(kms.createAlias({ aliasName: 'noprefix', targetKeyId: keyId }))).toBe('ValidationException');
      expect(await codeOf(kms.createAlias({ aliasName: 'alias/bad name', targetKeyId: keyId }))).toBe('ValidationException');
      expect(await codeOf(kms.createAlias({ aliasName: 'alias/ok', targetKeyId: '00000000-0000-4000-8000-000000000000' }))).toBe('NotFoundException');
    });

    it('lists aliases across pages', async () => {
      const own = await h.open();
      const id = (await own.kms.createKey()).keyMetadata.keyId;
      for (let i = 0; i < 5; i++) await own.kms.createAlias({ aliasName: `alias/p${i}`, targetKeyId: id });
      const names: string[] = [];
      let marker: string | undefined;
      do {
        const page = await own.kms.listAliases({ limit: 2, ...(marker !== undefined && { marker }) });
        names.push(...page.aliases.map((a) => a.aliasName));
        marker = page.nextMarker;
      } while (marker !== undefined);
      expect(names.sort()).toEqual(['alias/p0', 'alias/p1', 'alias/p2', 'alias/p3', 'alias/p4']);
    });

    it('tags, overwrites, untags and lists tags; enforces limits', async () => {
      const id = await newKey();
      await kms.tagResource({ keyId: id, tags: [{ tagKey: 'a', tagValue: '1' }, { tagKey: 'b', tagValue: '2' }] });
      await kms.tagResource({ keyId: id, tags: [{ tagKey: 'a', tagValue: '3' }] });
      const tags = (await kms.listResourceTags({ keyId: id })).tags;
      expect(tags.sort((x, y) => x.tagKey.localeCompare(y.tagKey))).toEqual([{ tagKey: 'a', tagValue: '3' }, { tagKey: 'b', tagValue: '2' }]);
      await kms.untagResource({ keyId: id, tagKeys: ['a'] });
      expect((await kms.listResourceTags({ keyId: id })).tags).toEqual([{ tagKey: 'b', tagValue: '2' }]);
      const many = Array.from({ length: 50 }, (_, i) => ({ tagKey: `k${i}`, tagValue: 'v' }));
      expect(await codeOf(kms.tagResource({ keyId: id, tags: many }))).toBe('LimitExceededException');
      expect(await codeOf(kms.tagResource({ keyId: id, tags: [{ tagKey: 'aws:x', tagValue: 'v' }] }))).toBe('ValidationException');
      expect(await codeOf(kms.tagResource({ keyId: '00000000-0000-4000-8000-000000000000', tags: [] }))).toBe('NotFoundException');
    });
  });

  describe('rotation', () => {
    it('enableKeyRotation takes 90..2560 days; status reflects enable and disable', async () => {
      const id = await newKey();
      expect(await kms.getKeyRotationStatus({ keyId: id })).toMatchObject({ keyRotationEnabled: false });
      for (const days of [89, 2561, 100.5]) {
        expect(await codeOf(kms.enableKeyRotation({ keyId: id, rotationPeriodInDays: days })), String(days)).toBe('ValidationException');
      }
      await kms.enableKeyRotation({ keyId: id, rotationPeriodInDays: 90 });
      let status = await kms.getKeyRotationStatus({ keyId: id });
      expect(status).toMatchObject({ keyRotationEnabled: true, rotationPeriodInDays: 90 });
      expect(status.nextRotationDate).toBeInstanceOf(Date);
      await kms.enableKeyRotation({ keyId: id, rotationPeriodInDays: 2560 });
      expect((await kms.getKeyRotationStatus({ keyId: id })).rotationPeriodInDays).toBe(2560);
      await kms.disableKeyRotation({ keyId: id });
      status = await kms.getKeyRotationStatus({ keyId: id });
      expect(status.keyRotationEnabled).toBe(false);
      expect(status.nextRotationDate).toBeUndefined();
    });

    it('decrypts after 1, 2 and 10 on-demand rotations; listKeyRotations lists them', async () => {
      const id = await newKey();
      const blobs: { blob: Uint8Array; v: number }[] = [];
      const seal = async (v: number) => {
        const r = await kms.encrypt({ keyId: id, plaintext: bytes(`v${v}`), encryptionContext: { v: String(v) } });
        expect(r.keyVersion).toBe(v);
        blobs.push({ blob: r.ciphertextBlob, v });
      };
      await seal(1);
      for (let v = 2; v <= 11; v++) {
        expect((await kms.rotateKeyOnDemand({ keyId: id })).keyVersion).toBe(v);
        await seal(v);
        if (v === 2 || v === 3 || v === 11) {
          for (const b of blobs) {
            const d = await kms.decrypt({ ciphertextBlob: b.blob, encryptionContext: { v: String(b.v) } });
            expect(text(d.plaintext)).toBe(`v${b.v}`);
            expect(d.keyVersion).toBe(b.v);
          }
        }
      }
      expect((await kms.describeKey({ keyId: id })).keyMetadata.currentKeyVersion).toBe(11);
      const rotations = (await kms.listKeyRotations({ keyId: id })).rotations;
      expect(rotations.map((r) => r.keyVersion).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(rotations.every((r) => r.rotationType === 'ON_DEMAND')).toBe(true);
    });

    it('refuses rotation of disabled keys', async () => {
      const id = await newKey();
      await kms.disableKey({ keyId: id });
      expect(await codeOf(kms.rotateKeyOnDemand({ keyId: id }))).toBe('DisabledException');
      expect(await codeOf(kms.enableKeyRotation({ keyId: id }))).toBe('DisabledException');
    });

    it('runMaintenance performs a due rotation exactly once (moved clock)', async () => {
      const own = await h.open();
      const id = (await own.kms.createKey()).keyMetadata.keyId;
      const other = (await own.kms.createKey()).keyMetadata.keyId;
      const old = (await own.kms.encrypt({ keyId: id, plaintext: bytes('before') })).ciphertextBlob;
      await own.kms.enableKeyRotation({ keyId: id, rotationPeriodInDays: 90 });
      own.clock.advanceDays(89);
      expect((await own.kms.runMaintenance()).rotated).toEqual([]);
      own.clock.advanceDays(2);
      expect((await own.kms.runMaintenance()).rotated).toEqual([id]);
      expect((await own.kms.runMaintenance()).rotated).toEqual([]);
      expect((await own.kms.describeKey({ keyId: id })).keyMetadata.currentKeyVersion).toBe(2);
      expect((await own.kms.describeKey({ keyId: other })).keyMetadata.currentKeyVersion).toBe(1);
      const rotations = (await own.kms.listKeyRotations({ keyId: id })).rotations;
      expect(rotations).toHaveLength(1);
      expect(rotations[0]).toMatchObject({ keyVersion: 2, rotationType: 'AUTOMATIC' });
      const next = (await own.kms.getKeyRotationStatus({ keyId: id })).nextRotationDate!;
      expect(next.getTime()).toBeGreaterThan(own.clock.now().getTime() + 80 * 86_400_000);
      expect((await own.kms.encrypt({ keyId: id, plaintext: bytes('after') })).keyVersion).toBe(2);
      expect(text((await own.kms.decrypt({ ciphertextBlob: old })).plaintext)).toBe('before');
      own.clock.advanceDays(91);
      expect((await own.kms.runMaintenance()).rotated).toEqual([id]);
      expect((await own.kms.describeKey({ keyId: id })).keyMetadata.currentKeyVersion).toBe(3);
    });
  });

  it('concurrent maintenance runs (two KMSs on one store) perform each due rotation once', async () => {
    const dir = h.freshDir();
    const shared = new TestClock();
    const a = await h.open({ dir, clock: shared });
    const b = await h.open({ dir, clock: shared });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const id = (await a.kms.createKey()).keyMetadata.keyId;
      await a.kms.enableKeyRotation({ keyId: id, rotationPeriodInDays: 90 });
      ids.push(id);
    }
    shared.advanceDays(91);
    const runs = await Promise.all([a.kms.runMaintenance(), b.kms.runMaintenance(), a.kms.runMaintenance(), b.kms.runMaintenance()]);
    expect(runs.flatMap((r) => r.rotated).sort()).toEqual([...ids].sort());
    for (const id of ids) {
      expect((await a.kms.describeKey({ keyId: id })).keyMetadata.currentKeyVersion).toBe(2);
      const next = (await b.kms.getKeyRotationStatus({ keyId: id })).nextRotationDate!.getTime();
      // Advanced by one period from now, not once per run.
      expect(Math.abs(next - shared.now().getTime() - 90 * 86_400_000)).toBeLessThan(3_600_000);
    }
  });

  describe('encrypt / decrypt', () => {
    it('round-trips with and without context and returns AWS-shaped results', async () => {
      const arn = `arn:aws:kms:local:000000000000:key/${keyId}`;
      const plain = bytes('hello kms');
      const e = await kms.encrypt({ keyId, plaintext: plain });
      expect(e).toMatchObject({ keyId: arn, encryptionAlgorithm: 'SYMMETRIC_DEFAULT', keyVersion: 1 });
      expect(e.ciphertextBlob).toBeInstanceOf(Uint8Array);
      expect(e.ciphertextBlob.length).toBe(33 + plain.length + 16);
      const d = await kms.decrypt({ ciphertextBlob: e.ciphertextBlob });
      expect(d).toMatchObject({ keyId: arn, encryptionAlgorithm: 'SYMMETRIC_DEFAULT', keyVersion: 1 });
      expect(text(d.plaintext)).toBe('hello kms');
      const ctx = { tenant: 'acme', purpose: 'test' };
      const c = await kms.encrypt({ keyId, plaintext: plain, encryptionContext: ctx });
      expect(text((await kms.decrypt({ ciphertextBlob: c.ciphertextBlob, encryptionContext: { purpose: 'test', tenant: 'acme' } })).plaintext)).toBe('hello kms');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: c.ciphertextBlob }))).toBe('InvalidCiphertextException');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: c.ciphertextBlob, encryptionContext: { tenant: 'acme' } }))).toBe('InvalidCiphertextException');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: c.ciphertextBlob, encryptionContext: { ...ctx, tenant: 'evil' } }))).toBe('InvalidCiphertextException');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: { a: 'b' } }))).toBe('InvalidCiphertextException');
      // Two encryptions of the same plaintext differ (fresh IV).
      expect(Buffer.from((await kms.encrypt({ keyId, plaintext: plain })).ciphertextBlob).equals(Buffer.from(e.ciphertextBlob))).toBe(false);
    });

    it('takes plaintext of 1..4096 bytes: 0 and 4097 are ValidationException', async () => {
      expect(await codeOf(kms.encrypt({ keyId, plaintext: new Uint8Array(0) }))).toBe('ValidationException');
      expect(await codeOf(kms.encrypt({ keyId, plaintext: new Uint8Array(4097) }))).toBe('ValidationException');
      const max = new Uint8Array(4096).map((_, i) => i & 0xff);
      const e = await kms.encrypt({ keyId, plaintext: max });
      expect(Buffer.from((await kms.decrypt({ ciphertextBlob: e.ciphertextBlob })).plaintext).equals(Buffer.from(max))).toBe(true);
      expect(await codeOf(kms.encrypt({ keyId: 'alias/none', plaintext: bytes('x') }))).toBe('NotFoundException');
      expect(await codeOf(kms.encrypt({ keyId, plaintext: bytes('x'), encryptionAlgorithm: 'AES' }))).toBe('ValidationException');
    });

    it('rejects every single-bit flip of a ciphertext blob with a documented code', async () => {
      const ctx = { k: 'v' };
      const blob = (await kms.encrypt({ keyId, plaintext: bytes('bits!'), encryptionContext: ctx })).ciphertextBlob;
      const codes = new Map<string, number>();
      for (let bit = 0; bit < blob.length * 8; bit++) {
        const flipped = Uint8Array.from(blob);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        const inKeyId = bit >> 3 >= 1 && bit >> 3 < 17;
        const code = await codeOf(kms.decrypt({ ciphertextBlob: flipped, encryptionContext: ctx }));
        codes.set(code, (codes.get(code) ?? 0) + 1);
        const allowed = inKeyId ? ['InvalidCiphertextException', 'IncorrectKeyException', 'NotFoundException'] : ['InvalidCiphertextException'];
        expect(allowed, `bit ${bit}: ${code}`).toContain(code);
      }
      expect(codes.get('SUCCESS')).toBeUndefined();
      // The intact blob still opens.
      expect(text((await kms.decrypt({ ciphertextBlob: blob, encryptionContext: ctx })).plaintext)).toBe('bits!');
    });

    it('rejects truncated, extended and garbage blobs', async () => {
      const blob = (await kms.encrypt({ keyId, plaintext: bytes('abc') })).ciphertextBlob;
      for (const bad of [blob.subarray(0, blob.length - 1), Uint8Array.from([...blob, 0]), blob.subarray(0, 33), new Uint8Array(60)]) {
        expect(await codeOf(kms.decrypt({ ciphertextBlob: bad }))).toBe('InvalidCiphertextException');
      }
      expect(await codeOf(kms.decrypt({ ciphertextBlob: new Uint8Array(0) }))).toBe('ValidationException');
    });

    it('rejects a blob from another KMS instance', async () => {
      const other = await h.open();
      const otherKey = (await other.kms.createKey()).keyMetadata.keyId;
      const foreign = (await other.kms.encrypt({ keyId: otherKey, plaintext: bytes('elsewhere') })).ciphertextBlob;
      expect(await codeOf(kms.decrypt({ ciphertextBlob: foreign }))).toBe('InvalidCiphertextException');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: foreign, keyId }))).toBe('InvalidCiphertextException');
      const mine = (await kms.encrypt({ keyId, plaintext: bytes('here') })).ciphertextBlob;
      expect(await codeOf(other.kms.decrypt({ ciphertextBlob: mine }))).toBe('InvalidCiphertextException');
      // A blob whose header is rewritten to name a key of this KMS does not open under it.
      const relabelled = Uint8Array.from(foreign);
      relabelled.set(Buffer.from(keyId.replace(/-/g, ''), 'hex'), 1);
      expect(await codeOf(kms.decrypt({ ciphertextBlob: relabelled }))).toBe('InvalidCiphertextException');
    });

    it('a keyId that does not match the blob is IncorrectKeyException', async () => {
      const other = await newKey();
      const blob = (await kms.encrypt({ keyId, plaintext: bytes('x') })).ciphertextBlob;
      expect(await codeOf(kms.decrypt({ ciphertextBlob: blob, keyId: other }))).toBe('IncorrectKeyException');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: blob, keyId: `arn:aws:kms:local:000000000000:key/${other}` }))).toBe('IncorrectKeyException');
      expect(text((await kms.decrypt({ ciphertextBlob: blob, keyId: `arn:aws:kms:local:000000000000:key/${keyId}` })).plaintext)).toBe('x');
    });

    it('reEncrypt moves a blob to another key and context; source checks apply', async () => {
      const dest = await newKey();
      const src = await kms.encrypt({ keyId, plaintext: bytes('move me'), encryptionContext: { from: 'a' } });
      const r = await kms.reEncrypt({
        ciphertextBlob: src.ciphertextBlob, sourceEncryptionContext: { from: 'a' }, destinationKeyId: dest, destinationEncryptionContext: { to: 'b' },
      });
      expect(r.keyId).toContain(dest);
      expect(r.sourceKeyId).toContain(keyId);
      expect(r).toMatchObject({ sourceKeyVersion: 1, keyVersion: 1, sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
      expect(text((await kms.decrypt({ ciphertextBlob: r.ciphertextBlob, encryptionContext: { to: 'b' } })).plaintext)).toBe('move me');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: r.ciphertextBlob, encryptionContext: { from: 'a' } }))).toBe('InvalidCiphertextException');
      expect(await codeOf(kms.reEncrypt({ ciphertextBlob: src.ciphertextBlob, destinationKeyId: dest }))).toBe('InvalidCiphertextException');
      expect(await codeOf(kms.reEncrypt({ ciphertextBlob: src.ciphertextBlob, sourceEncryptionContext: { from: 'a' }, sourceKeyId: dest, destinationKeyId: dest }))).toBe('IncorrectKeyException');
      const disabled = await newKey();
      await kms.disableKey({ keyId: disabled });
      expect(await codeOf(kms.reEncrypt({ ciphertextBlob: src.ciphertextBlob, sourceEncryptionContext: { from: 'a' }, destinationKeyId: disabled }))).toBe('DisabledException');
    });
  });

  describe('data keys and random', () => {
    it('generateDataKey: AES_256 (default), AES_128, numberOfBytes 1..1024', async () => {
      const def = await kms.generateDataKey({ keyId });
      expect(def.plaintext.length).toBe(32);
      expect(Buffer.from((await kms.decrypt({ ciphertextBlob: def.ciphertextBlob })).plaintext).equals(Buffer.from(def.plaintext))).toBe(true);
      expect((await kms.generateDataKey({ keyId, keySpec: 'AES_128' })).plaintext.length).toBe(16);
      for (const n of [1, 1024]) {
        const d = await kms.generateDataKey({ keyId, numberOfBytes: n, encryptionContext: { n: String(n) } });
        expect(d.plaintext.length).toBe(n);
        const back = await kms.decrypt({ ciphertextBlob: d.ciphertextBlob, encryptionContext: { n: String(n) } });
        expect(Buffer.from(back.plaintext).equals(Buffer.from(d.plaintext))).toBe(true);
      }
      for (const bad of [{ numberOfBytes: 0 }, { numberOfBytes: 1025 }, { keySpec: 'AES_512' }, { keySpec: 'AES_256', numberOfBytes: 32 }]) {
        expect(await codeOf(kms.generateDataKey({ keyId, ...bad } as never)), JSON.stringify(bad)).toBe('ValidationException');
      }
    });

    it('generateDataKeyWithoutPlaintext returns only a blob that decrypts to a key of the right size', async () => {
      const r = await kms.generateDataKeyWithoutPlaintext({ keyId, keySpec: 'AES_128', encryptionContext: { a: '1' } });
      expect((r as { plaintext?: unknown }).plaintext).toBeUndefined();
      expect((await kms.decrypt({ ciphertextBlob: r.ciphertextBlob, encryptionContext: { a: '1' } })).plaintext.length).toBe(16);
    });

    it('generateDataKeyHandle and decryptDataKey give AeadKeys that interoperate with aead.*', async () => {
      const made = await kms.generateDataKeyHandle({ keyId, encryptionContext: { app: 'x' } });
      expect(made.keyId).toContain(keyId);
      const sealed = await aead.encrypt(made.dataKey, bytes('envelope'), { aad: bytes('ad') });
      const again = await kms.decryptDataKey({ ciphertextBlob: made.ciphertextBlob, encryptionContext: { app: 'x' }, keyId });
      expect(text(await aead.decrypt(again.dataKey, sealed, { aad: bytes('ad') }))).toBe('envelope');
      expect(text(aead.decryptSync(made.dataKey, aead.encryptSync(again.dataKey, bytes('sync'))))).toBe('sync');
      expect(await codeOf(kms.decryptDataKey({ ciphertextBlob: made.ciphertextBlob }))).toBe('InvalidCiphertextException');
      // The handle's bytes are a 32-byte data key: plain decrypt gives the same key as importKey.
      const raw = (await kms.decrypt({ ciphertextBlob: made.ciphertextBlob, encryptionContext: { app: 'x' } })).plaintext;
      expect(raw.length).toBe(32);
      expect(text(await aead.decrypt(aead.importKey(raw), sealed, { aad: bytes('ad') }))).toBe('envelope');
      // And a GenerateDataKey blob opens as a handle.
      const dk = await kms.generateDataKey({ keyId });
      const h2 = await kms.decryptDataKey({ ciphertextBlob: dk.ciphertextBlob });
      expect(text(await aead.decrypt(h2.dataKey, await aead.encrypt(aead.importKey(dk.plaintext), bytes('import'))))).toBe('import');
      made.dataKey.destroy();
      again.dataKey.destroy();
      h2.dataKey.destroy();
    });

    it('generateRandom takes 1..1024 bytes', async () => {
      for (const n of [1, 32, 1024]) expect((await kms.generateRandom({ numberOfBytes: n })).plaintext.length).toBe(n);
      const a = (await kms.generateRandom({ numberOfBytes: 32 })).plaintext;
      const b = (await kms.generateRandom({ numberOfBytes: 32 })).plaintext;
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
      for (const n of [0, 1025, 1.5]) expect(await codeOf(kms.generateRandom({ numberOfBytes: n })), String(n)).toBe('ValidationException');
      expect(await codeOf(kms.generateRandom({} as never))).toBe('ValidationException');
    });
  });

  describe('domain keys and reopening', () => {
    it('rotateDomainKey re-wraps everything; blobs made before still decrypt; so do they after close and reopen', async () => {
      const own = await h.open({ track: false });
      const k1 = (await own.kms.createKey()).keyMetadata.keyId;
      await own.kms.rotateKeyOnDemand({ keyId: k1 });
      const k2 = (await own.kms.createKey()).keyMetadata.keyId;
      const before = [
        await own.kms.encrypt({ keyId: k1, plaintext: bytes('one'), encryptionContext: { c: '1' } }),
        await own.kms.encrypt({ keyId: k2, plaintext: bytes('two') }),
      ];
      const oldV1 = (await own.kms.generateDataKey({ keyId: k1 }));
      const r = await own.kms.rotateDomainKey();
      expect(r.domainKeyVersion).toBe(2);
      await own.kms.waitForMaintenance();
      const k3 = (await own.kms.createKey()).keyMetadata.keyId;
      const after = await own.kms.encrypt({ keyId: k3, plaintext: bytes('three') });
      const check = async (kms2: Kms) => {
        expect(text((await kms2.decrypt({ ciphertextBlob: before[0]!.ciphertextBlob, encryptionContext: { c: '1' } })).plaintext)).toBe('one');
        expect(text((await kms2.decrypt({ ciphertextBlob: before[1]!.ciphertextBlob })).plaintext)).toBe('two');
        expect(text((await kms2.decrypt({ ciphertextBlob: after.ciphertextBlob })).plaintext)).toBe('three');
        expect(Buffer.from((await kms2.decrypt({ ciphertextBlob: oldV1.ciphertextBlob })).plaintext).equals(Buffer.from(oldV1.plaintext))).toBe(true);
      };
      await check(own.kms);
      // A second rotation whose re-wrap is not waited for: close stops it, the next open resumes it.
      expect((await own.kms.rotateDomainKey()).domainKeyVersion).toBe(3);
      await check(own.kms);
      await own.kms.close();
      expect(await codeOf(own.kms.encrypt({ keyId: k1, plaintext: bytes('x') }))).toBe('KMSInvalidStateException');
      await own.kms.close(); // idempotent

      const reopened = await h.open({ dir: own.dir });
      await reopened.kms.waitForMaintenance();
      await check(reopened.kms);
      expect((await reopened.kms.rotateDomainKey()).domainKeyVersion).toBe(4);
      await reopened.kms.waitForMaintenance();
      await check(reopened.kms);
      expect((await reopened.kms.describeKey({ keyId: k1 })).keyMetadata.currentKeyVersion).toBe(2);
      expect((await reopened.kms.encrypt({ keyId: k1, plaintext: bytes('new') })).keyVersion).toBe(2);
    });
  });

  it('a second KMS on the same store follows a domain-key rotation made by the first', async () => {
    const dir = h.freshDir();
    const a = await h.open({ dir });
    const b = await h.open({ dir });
    const k1 = (await b.kms.createKey()).keyMetadata.keyId;
    const before = (await b.kms.encrypt({ keyId: k1, plaintext: bytes('before') })).ciphertextBlob;
    await b.kms.rotateDomainKey();
    await b.kms.waitForMaintenance();
    const k2 = (await b.kms.createKey()).keyMetadata.keyId;
    const after = (await b.kms.encrypt({ keyId: k2, plaintext: bytes('after') })).ciphertextBlob;
    await b.kms.rotateKeyOnDemand({ keyId: k1 });
    const rotated = (await b.kms.encrypt({ keyId: k1, plaintext: bytes('rotated') })).ciphertextBlob;
    for (const [blob, want] of [[before, 'before'], [after, 'after'], [rotated, 'rotated']] as const) {
      expect(text((await a.kms.decrypt({ ciphertextBlob: blob })).plaintext)).toBe(want);
    }
    const fromA = (await a.kms.encrypt({ keyId: k2, plaintext: bytes('from a') })).ciphertextBlob;
    expect(text((await b.kms.decrypt({ ciphertextBlob: fromA })).plaintext)).toBe('from a');
    // New material made by A, which never rotated itself, goes under B's new domain key.
    const k3 = (await a.kms.createKey()).keyMetadata.keyId;
    await a.kms.rotateKeyOnDemand({ keyId: k3 });
    const underOld = (await a.kms.describe()).domainKeys.find((d) => d.version === 1)?.cmkVersions;
    expect(underOld).toBe(kind === 'soft' ? 0 : 1); // a token keeps k1's first version where it was made
  });

  describe('audit', () => {
    it('records successes and failures with codes and context keys, never context values or plaintext', async () => {
      const own = await h.open();
      const id = (await own.kms.createKey()).keyMetadata.keyId;
      const SECRET_VALUE = 'ctx-value-zebra-91';
      const SECRET_PLAIN = 'plaintext-walrus-73';
      const ctx = { tenantKey: SECRET_VALUE };
      const e = await own.kms.encrypt({ keyId: id, plaintext: bytes(SECRET_PLAIN), encryptionContext: ctx });
      await own.kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: ctx });
      await codeOf(own.kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: { tenantKey: 'wrong' } }));
      await own.kms.disableKey({ keyId: id });
      await codeOf(own.kms.encrypt({ keyId: id, plaintext: bytes(SECRET_PLAIN), encryptionContext: ctx }));
      const dk = await codeOf(own.kms.generateDataKey({ keyId: id }));
      expect(dk).toBe('DisabledException');

      const records = await own.kms.auditLog({ keyId: id });
      const ops = records.map((r) => `${r.operation}:${r.outcome}:${r.errorCode ?? ''}`);
      expect(ops).toEqual(expect.arrayContaining([
        'CreateKey:success:', 'Encrypt:success:', 'Decrypt:success:', 'Decrypt:failure:InvalidCiphertextException',
        'DisableKey:success:', 'Encrypt:failure:DisabledException', 'GenerateDataKey:failure:DisabledException',
      ]));
      const enc = records.find((r) => r.operation === 'Encrypt' && r.outcome === 'success')!;
      expect(enc).toMatchObject({ keyId: id, keyVersion: 1, contextKeys: ['tenantKey'], errorCode: null });
      expect(enc.time).toBeInstanceOf(Date);
      const all = JSON.stringify(await own.kms.auditLog({}));
      expect(all).not.toContain(SECRET_VALUE);
      expect(all).not.toContain(SECRET_PLAIN);
      expect(all).not.toContain('wrong');
      expect(all).not.toContain(Buffer.from(SECRET_PLAIN).toString('hex'));
      expect(all).not.toContain(Buffer.from(SECRET_PLAIN).toString('base64'));
      // since: filters by time.
      expect(await own.kms.auditLog({ since: new Date(own.clock.now().getTime() + 60_000) })).toEqual([]);
    });

    it('names keys by key id whichever reference (alias, ARN) the caller used', async () => {
      const own = await h.open();
      const id = (await own.kms.createKey()).keyMetadata.keyId;
      const arn = `arn:aws:kms:local:000000000000:key/${id}`;
      await own.kms.createAlias({ aliasName: 'alias/audited', targetKeyId: arn });
      await own.kms.describeKey({ keyId: 'alias/audited' });
      await own.kms.getKeyRotationStatus({ keyId: arn });
      await own.kms.listResourceTags({ keyId: 'alias/audited' });
      await own.kms.disableKey({ keyId: 'alias/audited' });
      await codeOf(own.kms.enableKeyRotation({ keyId: arn }));
      await own.kms.scheduleKeyDeletion({ keyId: arn, pendingWindowInDays: 7 });
      const records = await own.kms.auditLog({ keyId: 'alias/audited' });
      expect(records.map((r) => r.operation)).toEqual(expect.arrayContaining([
        'CreateKey', 'CreateAlias', 'DescribeKey', 'GetKeyRotationStatus', 'ListResourceTags', 'DisableKey', 'EnableKeyRotation', 'ScheduleKeyDeletion',
      ]));
      expect(records.every((r) => r.keyId === id)).toBe(true);
      expect(records.find((r) => r.operation === 'EnableKeyRotation')).toMatchObject({ outcome: 'failure', errorCode: 'DisabledException' });
      const all = await own.kms.auditLog({});
      expect(all.filter((r) => r.keyId === arn || r.keyId === 'alias/audited')).toEqual([]);
    });

    it('keeps the trail of a deleted key readable by key id and ARN, with its deletion', async () => {
      const own = await h.open();
      const id = (await own.kms.createKey()).keyMetadata.keyId;
      await own.kms.encrypt({ keyId: id, plaintext: bytes('x') });
      await own.kms.scheduleKeyDeletion({ keyId: id, pendingWindowInDays: 7 });
      own.clock.advanceDays(8);
      expect((await own.kms.runMaintenance()).purged).toEqual([id]);
      for (const ref of [id, `arn:aws:kms:local:000000000000:key/${id}`]) {
        const ops = (await own.kms.auditLog({ keyId: ref })).map((r) => r.operation);
        expect(ops).toEqual(['CreateKey', 'Encrypt', 'ScheduleKeyDeletion', 'DeleteKey']);
      }
    });

    it('writes key state changes at once, not in the next group commit', async () => {
      const dir = h.freshDir();
      // A group-commit interval far beyond the test: only an immediate write can be seen.
      const a = await h.open({ dir, auditFlushMs: 600_000 });
      const id = (await a.kms.createKey()).keyMetadata.keyId;
      await a.kms.disableKey({ keyId: id });
      await a.kms.scheduleKeyDeletion({ keyId: id, pendingWindowInDays: 7 });
      // Another KMS on the same store sees the records without `a` flushing its batch.
      const b = await h.open({ dir });
      const ops = (await b.kms.auditLog({ keyId: id })).map((r) => r.operation);
      expect(ops).toEqual(['CreateKey', 'DisableKey', 'ScheduleKeyDeletion']);
    });

    it('flushes on close: a reopened KMS reads what the closed one did', async () => {
      const own = await h.open({ track: false });
      const id = (await own.kms.createKey()).keyMetadata.keyId;
      await own.kms.encrypt({ keyId: id, plaintext: bytes('x') });
      await own.kms.close();
      const again = await h.open({ dir: own.dir });
      const ops = (await again.kms.auditLog({ keyId: id })).map((r) => r.operation);
      expect(ops).toEqual(expect.arrayContaining(['CreateKey', 'Encrypt']));
    });
  });

  describe('concurrency', () => {
    it('200 parallel encrypt/decrypt calls from many callers all round-trip', async () => {
      const keys = [keyId, await newKey(), await newKey()];
      const n = 200;
      const results = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const k = keys[i % keys.length]!;
          const ctx = { caller: String(i) };
          const e = await kms.encrypt({ keyId: k, plaintext: bytes(`msg ${i}`), encryptionContext: ctx });
          const d = await kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: ctx, keyId: k });
          return text(d.plaintext) === `msg ${i}`;
        }),
      );
      expect(results.filter(Boolean).length).toBe(n);
    });

    it('racing state changes: one createAlias and one scheduleKeyDeletion win, 50 parallel createKeys all land', async () => {
      const own = await h.open();
      const id = (await own.kms.createKey()).keyMetadata.keyId;
      const count = (codes: string[]) => codes.reduce<Record<string, number>>((m, c) => ({ ...m, [c]: (m[c] ?? 0) + 1 }), {});
      const aliases = await Promise.all(Array.from({ length: 20 }, () => codeOf(own.kms.createAlias({ aliasName: 'alias/race', targetKeyId: id }))));
      expect(count(aliases)).toEqual({ SUCCESS: 1, AlreadyExistsException: 19 });
      const schedules = await Promise.all(Array.from({ length: 10 }, () => codeOf(own.kms.scheduleKeyDeletion({ keyId: id, pendingWindowInDays: 7 }))));
      expect(count(schedules)).toEqual({ SUCCESS: 1, KMSInvalidStateException: 9 });
      const made = await Promise.all(Array.from({ length: 50 }, () => own.kms.createKey()));
      expect(new Set(made.map((m) => m.keyMetadata.keyId)).size).toBe(50);
      expect((await own.kms.listKeys({ limit: 1000 })).keys).toHaveLength(51);
    });

    it('a second KMS on the same store sees a disable within its cache TTL', async () => {
      const dir = h.freshDir();
      const a = await h.open({ dir });
      const b = await h.open({ dir, cacheTtlMs: 50 });
      const id = (await a.kms.createKey()).keyMetadata.keyId;
      const blob = (await b.kms.encrypt({ keyId: id, plaintext: bytes('shared') })).ciphertextBlob;
      expect(text((await a.kms.decrypt({ ciphertextBlob: blob })).plaintext)).toBe('shared');
      await a.kms.disableKey({ keyId: id });
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(await codeOf(b.kms.encrypt({ keyId: id, plaintext: bytes('x') }))).toBe('DisabledException');
    });

    it('a closed KMS refuses every call with KMSInvalidStateException', async () => {
      const own = await h.open({ track: false });
      const id = (await own.kms.createKey()).keyMetadata.keyId;
      await own.kms.close();
      expect(await codeOf(own.kms.encrypt({ keyId: id, plaintext: bytes('x') }))).toBe('KMSInvalidStateException');
      expect(await codeOf(own.kms.createKey())).toBe('KMSInvalidStateException');
      expect(await codeOf(own.kms.auditLog({}))).toBe('KMSInvalidStateException');
    });

    it('parallel on-demand rotations each add exactly one version while encrypts continue', async () => {
      const id = await newKey();
      const out = await Promise.all([
        ...Array.from({ length: 5 }, () => kms.rotateKeyOnDemand({ keyId: id })),
        ...Array.from({ length: 20 }, (_, i) => kms.encrypt({ keyId: id, plaintext: bytes(`r${i}`) })),
      ]);
      const versions = out.slice(0, 5).map((r) => r.keyVersion).sort((a, b) => a - b);
      expect(versions).toEqual([2, 3, 4, 5, 6]);
      for (const [i, r] of out.slice(5).entries()) {
        expect(text((await kms.decrypt({ ciphertextBlob: (r as { ciphertextBlob: Uint8Array }).ciphertextBlob })).plaintext)).toBe(`r${i}`);
      }
    });
  });

  it('errors are KmsError instances', async () => {
    const error = await kms.describeKey({ keyId: 'alias/missing' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KmsError);
  });
});
