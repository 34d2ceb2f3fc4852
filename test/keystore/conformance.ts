/**
 * The key store conformance suite: every KeyStore backend must pass it.
 *
 * Call `runKeyStoreConformance(name, makeStore)` from a `*.test.ts` file;
 * `makeStore` must return a new, empty store each time (the suite migrates it
 * and closes it after each test).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KmsError } from '../../dist/errors.js';
import type {
  AuditRecord,
  DomainKeyRecord,
  KeyPatch,
  KeyRecord,
  KeyStore,
  KeyVersionRecord,
  NewKeyRecord,
  Tag,
} from '../../dist/keystore/index.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0, 123);
const DAY = 86_400_000;

/** A date `offsetMs` after a fixed instant (with milliseconds, to catch truncation). */
export function at(offsetMs: number): Date {
  return new Date(T0 + offsetMs);
}

/** Deterministic bytes. */
export function bytes(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7 + 3) & 0xff);
}

/** A valid new key record; fields can be overridden. */
export function newKey(overrides: Partial<NewKeyRecord> = {}): NewKeyRecord {
  return {
    keyId: randomUUID(),
    description: 'conformance key',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    keyState: 'Enabled',
    creationDate: at(0),
    deletionDate: null,
    pendingWindowInDays: null,
    primaryVersion: 1,
    rotationEnabled: false,
    rotationPeriodInDays: null,
    nextRotationDate: null,
    origin: 'AWS_KMS',
    ...overrides,
  };
}

/** A valid key version record; fields can be overridden. */
export function versionOf(keyId: string, version = 1, overrides: Partial<KeyVersionRecord> = {}): KeyVersionRecord {
  return {
    keyId,
    version,
    createdAt: at(version * 1000),
    domainKeyVersion: 1,
    wrapped: bytes(40, version),
    publicKey: null,
    rotationType: version === 1 ? 'INITIAL' : 'ON_DEMAND',
    ...overrides,
  };
}

/** A domain key record. */
export function domainKey(version: number, overrides: Partial<DomainKeyRecord> = {}): DomainKeyRecord {
  return {
    version,
    provider: 'pkcs11',
    reference: `0a0b${version.toString(16).padStart(4, '0')}`,
    sealed: null,
    state: 'active',
    createdAt: at(-DAY + version),
    ...overrides,
  };
}

/** An audit record; fields can be overridden. */
export function auditRecord(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    time: at(0),
    operation: 'Encrypt',
    keyId: null,
    keyVersion: null,
    contextKeys: [],
    outcome: 'success',
    errorCode: null,
    principal: null,
    ...overrides,
  };
}

/** Awaits `promise`, expecting a KmsError with `code`; returns it. */
export async function expectKmsError(promise: Promise<unknown>, code: string): Promise<KmsError> {
  const outcome = await promise.then(
    (value: unknown) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  expect(outcome.ok, `expected a ${code} rejection`).toBe(false);
  const error = (outcome as { error: unknown }).error;
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).code).toBe(code);
  return error as KmsError;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function compareKeys(a: KeyRecord, b: KeyRecord): number {
  const byDate = a.creationDate.getTime() - b.creationDate.getTime();
  if (byDate !== 0) return byDate;
  return a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0;
}

/** Declares the conformance suite for one backend. */
export function runKeyStoreConformance(name: string, makeStore: () => Promise<KeyStore>): void {
  describe(`KeyStore conformance: ${name}`, () => {
    let store: KeyStore;

    beforeEach(async () => {
      store = await makeStore();
      await store.migrate();
    });

    afterEach(async () => {
      await store.close();
    });

    /** Creates a key (domain key 1 must exist) and returns the stored record. */
    async function makeKey(overrides: Partial<NewKeyRecord> = {}, tags: Tag[] = []): Promise<KeyRecord> {
      const key = newKey(overrides);
      return store.createKey(key, versionOf(key.keyId), tags);
    }

    async function allKeys(limit: number): Promise<KeyRecord[]> {
      const out: KeyRecord[] = [];
      let marker: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await store.listKeys(marker === undefined ? { limit } : { limit, marker });
        expect(page.keys.length).toBeLessThanOrEqual(limit);
        out.push(...page.keys);
        if (page.nextMarker === undefined) return out;
        expect(page.keys).toHaveLength(limit);
        marker = page.nextMarker;
      }
      throw new Error('listKeys did not terminate');
    }

    describe('schema and lifecycle', () => {
      it('migrate is idempotent and keeps data', async () => {
        await store.addDomainKey(domainKey(1));
        const key = await makeKey();
        const generation = await store.generation();
        await store.migrate();
        await store.migrate();
        expect(await store.getKey(key.keyId)).toStrictEqual(key);
        expect(await store.listDomainKeys()).toHaveLength(1);
        expect(await store.generation()).toBe(generation);
      });

      it('close is idempotent and later calls reject with a KmsError', async () => {
        await store.close();
        await store.close();
        await expect(store.getKey(randomUUID())).rejects.toBeInstanceOf(KmsError);
        await expect(store.generation()).rejects.toBeInstanceOf(KmsError);
      });
    });

    describe('domain keys', () => {
      it('round-trips every field, pkcs11 and soft, listed by version', async () => {
        const soft = domainKey(2, { provider: 'soft', reference: 'soft-root', sealed: bytes(60, 9), state: 'retired' });
        const hsm = domainKey(1, { createdAt: new Date(-1234) });
        expect(await store.addDomainKey(soft)).toStrictEqual(soft);
        expect(await store.addDomainKey(hsm)).toStrictEqual(hsm);
        const listed = await store.listDomainKeys();
        expect(listed).toStrictEqual([hsm, soft]);
        expect(listed[1]?.sealed).toBeInstanceOf(Uint8Array);
      });

      it('starts empty', async () => {
        expect(await store.listDomainKeys()).toStrictEqual([]);
      });

      it('refuses a duplicate version with AlreadyExistsException', async () => {
        await store.addDomainKey(domainKey(1));
        await expectKmsError(store.addDomainKey(domainKey(1, { reference: 'other' })), 'AlreadyExistsException');
        expect((await store.listDomainKeys())[0]?.reference).toBe(domainKey(1).reference);
      });

      it('changes state; unknown version is NotFoundException; bad state is ValidationException', async () => {
        await store.addDomainKey(domainKey(1));
        const retired = await store.setDomainKeyState(1, 'retired');
        expect(retired).toStrictEqual({ ...domainKey(1), state: 'retired' });
        expect(await store.listDomainKeys()).toStrictEqual([retired]);
        expect((await store.setDomainKeyState(1, 'active')).state).toBe('active');
        await expectKmsError(store.setDomainKeyState(2, 'retired'), 'NotFoundException');
        await expectKmsError(store.setDomainKeyState(1, 'destroyed' as 'retired'), 'ValidationException');
      });

      it('validates records', async () => {
        await expectKmsError(store.addDomainKey(domainKey(0)), 'ValidationException');
        await expectKmsError(store.addDomainKey(domainKey(1, { provider: 'tpm' as 'soft' })), 'ValidationException');
        await expectKmsError(store.addDomainKey(domainKey(1, { createdAt: new Date(NaN) })), 'ValidationException');
        await expectKmsError(
          store.addDomainKey(domainKey(1, { sealed: [1, 2] as unknown as Uint8Array })),
          'ValidationException',
        );
        expect(await store.listDomainKeys()).toStrictEqual([]);
      });
    });

    describe('keys', () => {
      beforeEach(async () => {
        await store.addDomainKey(domainKey(1));
      });

      it('createKey round-trips every field, its first version and tags', async () => {
        const key = newKey({
          keySpec: 'ECC_NIST_P384',
          keyUsage: 'SIGN_VERIFY',
          keyState: 'PendingDeletion',
          description: 'ünïcødé description ✓',
          creationDate: new Date(-DAY + 7),
          deletionDate: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)),
          pendingWindowInDays: 7,
          rotationEnabled: true,
          rotationPeriodInDays: 365,
          nextRotationDate: at(365 * DAY + 1),
        });
        const wrappedSource = bytes(64, 3);
        const version = versionOf(key.keyId, 1, {
          wrapped: wrappedSource.subarray(8, 56),
          publicKey: bytes(120, 4),
          domainKeyVersion: 1,
        });
        const tags = [
          { tagKey: 'env', tagValue: 'prod' },
          { tagKey: 'empty', tagValue: '' },
        ];
        const created = await store.createKey(key, version, tags);
        expect(created).toStrictEqual({ ...key, rowVersion: 1 });
        expect(await store.getKey(key.keyId)).toStrictEqual(created);

        const stored = await store.getKeyVersion(key.keyId, 1);
        expect(stored).toStrictEqual({ ...version, wrapped: Uint8Array.from(wrappedSource.subarray(8, 56)) });
        expect(stored?.wrapped).toHaveLength(48);
        // The store kept its own copy.
        wrappedSource.fill(0);
        expect((await store.getKeyVersion(key.keyId, 1))?.wrapped).toStrictEqual(Uint8Array.from(bytes(64, 3).subarray(8, 56)));

        expect((await store.listResourceTags(key.keyId)).tags).toStrictEqual([
          { tagKey: 'empty', tagValue: '' },
          { tagKey: 'env', tagValue: 'prod' },
        ]);
      });

      it('createKey round-trips nulls and every key spec', async () => {
        for (const keySpec of ['SYMMETRIC_DEFAULT', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256'] as const) {
          const key = newKey({ keySpec, keyState: 'Creating' });
          const created = await store.createKey(key, versionOf(key.keyId));
          expect(created).toStrictEqual({ ...key, rowVersion: 1 });
          expect(created.deletionDate).toBeNull();
          expect(created.rotationEnabled).toBe(false);
          expect((await store.getKeyVersion(key.keyId, 1))?.publicKey).toBeNull();
          expect((await store.listResourceTags(key.keyId)).tags).toStrictEqual([]);
        }
      });

      it('getKey of an unknown key is null', async () => {
        expect(await store.getKey(randomUUID())).toBeNull();
      });

      it('refuses a taken key id with AlreadyExistsException', async () => {
        const key = await makeKey({ description: 'first' });
        await expectKmsError(
          store.createKey(newKey({ keyId: key.keyId, description: 'second' }), versionOf(key.keyId)),
          'AlreadyExistsException',
        );
        expect((await store.getKey(key.keyId))?.description).toBe('first');
      });

      it('validates the key, its first version and its tags, storing nothing', async () => {
        const id = randomUUID();
        const bad: [Partial<NewKeyRecord> | Record<string, unknown>, Partial<KeyVersionRecord>][] = [
          [{ keyId: 'not-a-uuid' }, { keyId: 'not-a-uuid' }],
          [{ keyId: id.toUpperCase() }, { keyId: id.toUpperCase() }],
          [{ keySpec: 'AES_256' }, {}],
          [{ keyUsage: 'WRAP_UNWRAP' }, {}],
          [{ keyState: 'Gone' }, {}],
          [{ origin: 'EXTERNAL' }, {}],
          [{ creationDate: new Date(NaN) }, {}],
          [{ creationDate: '2025-01-01' }, {}],
          [{ primaryVersion: 2 }, {}],
          [{ rotationEnabled: 'yes' }, {}],
          [{ pendingWindowInDays: 1.5 }, {}],
          [{ description: 'x'.repeat(8193) }, {}],
          [{}, { keyId: randomUUID() }],
          [{}, { version: 2 }],
          [{}, { domainKeyVersion: 9 }],
          [{}, { wrapped: new Uint8Array(0) }],
          [{}, { wrapped: [1, 2, 3] as unknown as Uint8Array }],
          [{}, { rotationType: 'MANUAL' as 'ON_DEMAND' }],
        ];
        for (const [keyOverrides, versionOverrides] of bad) {
          const key = { ...newKey({ keyId: id }), ...keyOverrides } as NewKeyRecord;
          const version = { ...versionOf(key.keyId), ...versionOverrides } as KeyVersionRecord;
          await expectKmsError(store.createKey(key, version), 'ValidationException');
        }
        for (const tags of [[{ tagKey: '', tagValue: 'v' }], [{ tagKey: 'k'.repeat(129), tagValue: 'v' }], [{ tagKey: 'k', tagValue: 'v'.repeat(257) }]]) {
          await expectKmsError(store.createKey(newKey({ keyId: id }), versionOf(id), tags), 'ValidationException');
        }
        expect((await store.listKeys()).keys).toStrictEqual([]);
        expect(await store.countVersionsWrappedUnder(1)).toBe(0);
      });

      it('createKey is atomic: a failing tag insert leaves nothing behind', async () => {
        const generation = await store.generation();
        const key = newKey();
        // The repeated tag key fails on the second tag insert, after the key and version rows.
        const tags = [
          { tagKey: 'a', tagValue: '1' },
          { tagKey: 'b', tagValue: '2' },
          { tagKey: 'a', tagValue: '3' },
        ];
        await expectKmsError(store.createKey(key, versionOf(key.keyId), tags), 'ValidationException');
        expect(await store.getKey(key.keyId)).toBeNull();
        expect(await store.getKeyVersion(key.keyId, 1)).toBeNull();
        expect((await store.listKeys()).keys).toStrictEqual([]);
        expect(await store.countVersionsWrappedUnder(1)).toBe(0);
        expect(await store.generation()).toBe(generation);
        // Nothing left behind: the same id can be created, with no stray tags.
        await store.createKey(key, versionOf(key.keyId), [{ tagKey: 'b', tagValue: 'fresh' }]);
        expect((await store.listResourceTags(key.keyId)).tags).toStrictEqual([{ tagKey: 'b', tagValue: 'fresh' }]);
      });

      it('listKeys pages by creation date then key id with markers and limits', async () => {
        const offsets = [5, 3, 3, 9, 1, 7, 3];
        const created: KeyRecord[] = [];
        for (const offset of offsets) created.push(await makeKey({ creationDate: at(offset * 1000) }));
        const expected = [...created].sort(compareKeys);

        const first = await store.listKeys({ limit: 3 });
        expect(first.keys).toStrictEqual(expected.slice(0, 3));
        expect(typeof first.nextMarker).toBe('string');
        const second = await store.listKeys({ limit: 3, marker: first.nextMarker as string });
        expect(second.keys).toStrictEqual(expected.slice(3, 6));
        const third = await store.listKeys({ limit: 3, marker: second.nextMarker as string });
        expect(third.keys).toStrictEqual(expected.slice(6));
        expect(third.nextMarker).toBeUndefined();

        expect(await allKeys(1)).toStrictEqual(expected);
        expect(await allKeys(7)).toStrictEqual(expected);
        const all = await store.listKeys();
        expect(all.keys).toStrictEqual(expected);
        expect(all.nextMarker).toBeUndefined();
        // Exactly a page's worth: no marker to an empty page.
        expect((await store.listKeys({ limit: 7 })).nextMarker).toBeUndefined();
        expect((await store.listKeys({ limit: 6 })).nextMarker).toBeDefined();
      });

      it('listKeys markers stay valid while keys are added and deleted', async () => {
        const created: KeyRecord[] = [];
        for (let i = 1; i <= 6; i++) created.push(await makeKey({ creationDate: at(i * 1000) }));
        const first = await store.listKeys({ limit: 2 });
        expect(first.keys).toStrictEqual(created.slice(0, 2));
        await makeKey({ creationDate: at(0) }); // before the marker: not seen on later pages
        const late = await makeKey({ creationDate: at(100_000) });
        await store.deleteKey(created[3]?.keyId as string);
        const rest: KeyRecord[] = [];
        let marker = first.nextMarker;
        while (marker !== undefined) {
          const page = await store.listKeys({ limit: 2, marker });
          rest.push(...page.keys);
          marker = page.nextMarker;
        }
        expect(rest).toStrictEqual([created[2], created[4], created[5], late]);
      });

      it('listKeys refuses bad limits and markers', async () => {
        for (const limit of [0, -1, 1.5, 1001, Number.NaN]) {
          await expectKmsError(store.listKeys({ limit }), 'ValidationException');
        }
        for (const marker of ['', 'garbage', '!!!', Buffer.from('["aliases","alias/x"]').toString('base64url')]) {
          await expectKmsError(store.listKeys({ marker }), 'ValidationException');
        }
        const keys = [await makeKey(), await makeKey()];
        const aliasMarker = (await (async () => {
          await store.createAlias('alias/m1', keys[0]?.keyId as string);
          await store.createAlias('alias/m2', keys[0]?.keyId as string);
          return store.listAliases({ limit: 1 });
        })()).nextMarker as string;
        await expectKmsError(store.listKeys({ marker: aliasMarker }), 'ValidationException');
        expect((await store.listKeys({ limit: 1000 })).keys).toHaveLength(2);
      });

      it('updateKey applies a patch, bumps rowVersion and keeps other fields', async () => {
        const key = await makeKey({ description: 'before', rotationPeriodInDays: null });
        const patch: KeyPatch = {
          description: 'after',
          keyState: 'PendingDeletion',
          deletionDate: at(7 * DAY),
          pendingWindowInDays: 7,
          rotationEnabled: true,
          rotationPeriodInDays: 90,
          nextRotationDate: at(90 * DAY + 5),
        };
        const updated = await store.updateKey(key.keyId, 1, patch);
        expect(updated).toStrictEqual({ ...key, ...patch, rowVersion: 2 });
        expect(await store.getKey(key.keyId)).toStrictEqual(updated);

        const back = await store.updateKey(key.keyId, 2, {
          keyState: 'Disabled',
          deletionDate: null,
          pendingWindowInDays: null,
          rotationEnabled: false,
          nextRotationDate: null,
        });
        expect(back).toStrictEqual({
          ...updated,
          keyState: 'Disabled',
          deletionDate: null,
          pendingWindowInDays: null,
          rotationEnabled: false,
          nextRotationDate: null,
          rowVersion: 3,
        });
        expect((await store.updateKey(key.keyId, 3, { description: '' })).rowVersion).toBe(4);
        expect(await store.getKey(key.keyId)).toMatchObject({ description: '', rotationPeriodInDays: 90, rowVersion: 4 });
      });

      it('updateKey with a stale rowVersion is ConflictException and changes nothing', async () => {
        const key = await makeKey();
        const v2 = await store.updateKey(key.keyId, 1, { description: 'v2' });
        const generation = await store.generation();
        await expectKmsError(store.updateKey(key.keyId, 1, { description: 'stale' }), 'ConflictException');
        await expectKmsError(store.updateKey(key.keyId, 3, { description: 'future' }), 'ConflictException');
        expect(await store.getKey(key.keyId)).toStrictEqual(v2);
        expect(await store.generation()).toBe(generation);
      });

      it('two concurrent updates with the same rowVersion: exactly one wins', async () => {
        const key = await makeKey();
        const results = await Promise.allSettled([
          store.updateKey(key.keyId, 1, { description: 'left' }),
          store.updateKey(key.keyId, 1, { description: 'right' }),
        ]);
        const won = results.filter((r): r is PromiseFulfilledResult<KeyRecord> => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]?.reason).toBeInstanceOf(KmsError);
        expect((lost[0]?.reason as KmsError).code).toBe('ConflictException');
        const final = await store.getKey(key.keyId);
        expect(final?.description).toBe(won[0]?.value.description);
        expect(final?.rowVersion).toBe(2);
      });

      it('updateKey refuses immutable or unknown fields, bad values, bad row versions and unknown keys', async () => {
        const key = await makeKey();
        const bad: Record<string, unknown>[] = [
          { keySpec: 'RSA_2048' },
          { keyUsage: 'SIGN_VERIFY' },
          { keyId: randomUUID() },
          { rowVersion: 7 },
          { creationDate: at(1) },
          { origin: 'AWS_KMS' },
          { colour: 'blue' },
          { keyState: 'Bogus' },
          { deletionDate: 'tomorrow' },
          { rotationEnabled: 1 },
          { primaryVersion: 0 },
          { primaryVersion: 9 },
        ];
        for (const patch of bad) {
          await expectKmsError(store.updateKey(key.keyId, 1, patch as KeyPatch), 'ValidationException');
        }
        await expectKmsError(store.updateKey(key.keyId, 0, { description: 'x' }), 'ValidationException');
        await expectKmsError(store.updateKey(randomUUID(), 1, { description: 'x' }), 'NotFoundException');
        expect(await store.getKey(key.keyId)).toStrictEqual(key);
      });

      it('updateKey can move primaryVersion to an existing version', async () => {
        const key = await makeKey();
        const rotated = await store.addKeyVersion(key.keyId, 1, versionOf(key.keyId, 2));
        expect(rotated.primaryVersion).toBe(2);
        const back = await store.updateKey(key.keyId, rotated.rowVersion, { primaryVersion: 1 });
        expect(back.primaryVersion).toBe(1);
        expect(back.rowVersion).toBe(rotated.rowVersion + 1);
      });

      it('deleteKey purges versions, aliases and tags but keeps the audit trail', async () => {
        const key = await makeKey({}, [{ tagKey: 'team', tagValue: 'a' }]);
        await store.addKeyVersion(key.keyId, 1, versionOf(key.keyId, 2));
        await store.createAlias('alias/gone', key.keyId);
        await store.createAlias('alias/gone-too', key.keyId);
        const other = await makeKey({}, [{ tagKey: 'team', tagValue: 'b' }]);
        await store.createAlias('alias/stays', other.keyId);
        await store.appendAudit([auditRecord({ keyId: key.keyId, keyVersion: 2, operation: 'ScheduleKeyDeletion' })]);

        await store.deleteKey(key.keyId);

        expect(await store.getKey(key.keyId)).toBeNull();
        expect(await store.getKeyVersion(key.keyId, 1)).toBeNull();
        expect(await store.getKeyVersion(key.keyId, 2)).toBeNull();
        expect(await store.getAlias('alias/gone')).toBeNull();
        expect((await store.listAliases()).aliases.map((a) => a.aliasName)).toStrictEqual(['alias/stays']);
        expect(await store.countVersionsWrappedUnder(1)).toBe(1);
        await expectKmsError(store.listResourceTags(key.keyId), 'NotFoundException');
        await expectKmsError(store.listKeyVersions(key.keyId), 'NotFoundException');
        expect(await store.readAudit({ keyId: key.keyId })).toHaveLength(1);
        expect((await store.listResourceTags(other.keyId)).tags).toStrictEqual([{ tagKey: 'team', tagValue: 'b' }]);

        // Re-creating the same id finds nothing left of the old key.
        await store.createKey(newKey({ keyId: key.keyId }), versionOf(key.keyId, 1, { wrapped: bytes(40, 77) }));
        expect((await store.listResourceTags(key.keyId)).tags).toStrictEqual([]);
        expect((await store.listKeyVersions(key.keyId)).versions.map((v) => v.version)).toStrictEqual([1]);
        expect((await store.listAliases({ keyId: key.keyId })).aliases).toStrictEqual([]);
      });

      it('deleteKey of an unknown key is NotFoundException; with a stale rowVersion ConflictException', async () => {
        await expectKmsError(store.deleteKey(randomUUID()), 'NotFoundException');
        const key = await makeKey();
        const cancelled = await store.updateKey(key.keyId, 1, { keyState: 'Disabled' });
        await expectKmsError(store.deleteKey(key.keyId, 1), 'ConflictException');
        expect(await store.getKey(key.keyId)).toStrictEqual(cancelled);
        await store.deleteKey(key.keyId, cancelled.rowVersion);
        expect(await store.getKey(key.keyId)).toBeNull();
        await expectKmsError(store.deleteKey(key.keyId), 'NotFoundException');
      });
    });

    describe('key versions', () => {
      beforeEach(async () => {
        await store.addDomainKey(domainKey(1));
        await store.addDomainKey(domainKey(2));
      });

      it('addKeyVersion adds the next version and makes it primary', async () => {
        const key = await makeKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
        const v2 = versionOf(key.keyId, 2, {
          rotationType: 'AUTOMATIC',
          domainKeyVersion: 2,
          publicKey: bytes(91, 2),
          wrapped: bytes(200, 2),
          createdAt: at(DAY + 999),
        });
        const updated = await store.addKeyVersion(key.keyId, 1, v2);
        expect(updated).toStrictEqual({ ...key, primaryVersion: 2, rowVersion: 2 });
        expect(await store.getKey(key.keyId)).toStrictEqual(updated);
        expect(await store.getKeyVersion(key.keyId, 2)).toStrictEqual(v2);
        expect(await store.getKeyVersion(key.keyId, 1)).toStrictEqual(versionOf(key.keyId, 1));
        const v3 = versionOf(key.keyId, 3);
        expect((await store.addKeyVersion(key.keyId, 2, v3)).primaryVersion).toBe(3);
        expect(await store.getKeyVersion(key.keyId, 3)).toStrictEqual(v3);
      });

      it('a failed addKeyVersion leaves the key and its versions unchanged', async () => {
        const key = await makeKey();
        const changed = await store.updateKey(key.keyId, 1, { description: 'moved on' });
        const generation = await store.generation();
        // Stale row version.
        await expectKmsError(store.addKeyVersion(key.keyId, 1, versionOf(key.keyId, 2)), 'ConflictException');
        // Unknown domain key.
        await expectKmsError(
          store.addKeyVersion(key.keyId, 2, versionOf(key.keyId, 2, { domainKeyVersion: 9 })),
          'ValidationException',
        );
        expect(await store.getKey(key.keyId)).toStrictEqual(changed);
        expect(await store.getKeyVersion(key.keyId, 2)).toBeNull();
        expect((await store.listKeyVersions(key.keyId)).versions).toHaveLength(1);
        expect(await store.generation()).toBe(generation);
      });

      it('two concurrent rotations with the same rowVersion: exactly one wins', async () => {
        const key = await makeKey();
        const left = versionOf(key.keyId, 2, { wrapped: bytes(40, 100) });
        const right = versionOf(key.keyId, 2, { wrapped: bytes(40, 200) });
        const results = await Promise.allSettled([
          store.addKeyVersion(key.keyId, 1, left),
          store.addKeyVersion(key.keyId, 1, right),
        ]);
        const wonIndex = results.findIndex((r) => r.status === 'fulfilled');
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect((lost?.reason as KmsError).code).toBe('ConflictException');
        expect(await store.getKeyVersion(key.keyId, 2)).toStrictEqual(wonIndex === 0 ? left : right);
        expect(await store.getKey(key.keyId)).toMatchObject({ primaryVersion: 2, rowVersion: 2 });
      });

      it('addKeyVersion refuses gaps, mismatched key ids and unknown keys', async () => {
        const key = await makeKey();
        await expectKmsError(store.addKeyVersion(key.keyId, 1, versionOf(key.keyId, 3)), 'ValidationException');
        await expectKmsError(store.addKeyVersion(key.keyId, 1, versionOf(key.keyId, 1)), 'ConflictException');
        await expectKmsError(store.addKeyVersion(key.keyId, 1, versionOf(randomUUID(), 2)), 'ValidationException');
        const unknown = randomUUID();
        await expectKmsError(store.addKeyVersion(unknown, 1, versionOf(unknown, 2)), 'NotFoundException');
        expect(await store.getKey(key.keyId)).toStrictEqual(key);
      });

      it('getKeyVersion of an unknown version or key is null', async () => {
        const key = await makeKey();
        expect(await store.getKeyVersion(key.keyId, 2)).toBeNull();
        expect(await store.getKeyVersion(randomUUID(), 1)).toBeNull();
      });

      it('listKeyVersions pages by version; unknown key is NotFoundException', async () => {
        const key = await makeKey();
        let rowVersion = key.rowVersion;
        for (let v = 2; v <= 5; v++) rowVersion = (await store.addKeyVersion(key.keyId, rowVersion, versionOf(key.keyId, v))).rowVersion;
        const seen: number[] = [];
        let marker: string | undefined;
        const sizes: number[] = [];
        do {
          const page = await store.listKeyVersions(key.keyId, marker === undefined ? { limit: 2 } : { limit: 2, marker });
          sizes.push(page.versions.length);
          seen.push(...page.versions.map((v) => v.version));
          for (const v of page.versions) expect(v).toStrictEqual(versionOf(key.keyId, v.version));
          marker = page.nextMarker;
        } while (marker !== undefined);
        expect(seen).toStrictEqual([1, 2, 3, 4, 5]);
        expect(sizes).toStrictEqual([2, 2, 1]);
        await expectKmsError(store.listKeyVersions(randomUUID()), 'NotFoundException');
        await expectKmsError(store.listKeyVersions(key.keyId, { marker: 'bogus' }), 'ValidationException');
      });

      it('rewrapKeyVersion is a compare-and-set on the domain key version', async () => {
        const key = await makeKey();
        const generation = await store.generation();
        const rewrapped = bytes(48, 42);
        expect(await store.rewrapKeyVersion(key.keyId, 1, 1, 2, rewrapped)).toBe(true);
        const after = await store.getKeyVersion(key.keyId, 1);
        expect(after).toStrictEqual({ ...versionOf(key.keyId, 1), domainKeyVersion: 2, wrapped: rewrapped });
        // Already moved: the second compare-and-set fails and changes nothing.
        expect(await store.rewrapKeyVersion(key.keyId, 1, 1, 2, bytes(48, 43))).toBe(false);
        expect(await store.getKeyVersion(key.keyId, 1)).toStrictEqual(after);
        expect(await store.rewrapKeyVersion(key.keyId, 2, 1, 2, bytes(48, 43))).toBe(false);
        expect(await store.rewrapKeyVersion(randomUUID(), 1, 1, 2, bytes(48, 43))).toBe(false);
        await expectKmsError(store.rewrapKeyVersion(key.keyId, 1, 2, 7, bytes(48, 43)), 'ValidationException');
        await expectKmsError(store.rewrapKeyVersion(key.keyId, 1, 2, 1, new Uint8Array(0)), 'ValidationException');
        expect(await store.getKeyVersion(key.keyId, 1)).toStrictEqual(after);
        // Re-wrapping changes no key state: caches of key state stay valid.
        expect(await store.generation()).toBe(generation);
        expect(await store.getKey(key.keyId)).toStrictEqual(key);
      });

      it('concurrent re-wraps of one version: exactly one succeeds', async () => {
        const key = await makeKey();
        const results = await Promise.all([
          store.rewrapKeyVersion(key.keyId, 1, 1, 2, bytes(40, 5)),
          store.rewrapKeyVersion(key.keyId, 1, 1, 2, bytes(40, 6)),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.getKeyVersion(key.keyId, 1))?.wrapped).toStrictEqual(bytes(40, results[0] ? 5 : 6));
      });

      it('lists and counts the versions wrapped under a domain key, with a cursor', async () => {
        const a = await makeKey();
        const b = await makeKey();
        await store.addKeyVersion(a.keyId, 1, versionOf(a.keyId, 2, { domainKeyVersion: 2 }));
        await store.addKeyVersion(a.keyId, 2, versionOf(a.keyId, 3, { domainKeyVersion: 1 }));
        const underOne = [versionOf(a.keyId, 1), versionOf(a.keyId, 3, { domainKeyVersion: 1 }), versionOf(b.keyId, 1)].sort(
          (x, y) => (x.keyId === y.keyId ? x.version - y.version : x.keyId < y.keyId ? -1 : 1),
        );
        expect(await store.countVersionsWrappedUnder(1)).toBe(3);
        expect(await store.countVersionsWrappedUnder(2)).toBe(1);
        expect(await store.countVersionsWrappedUnder(3)).toBe(0);
        expect(await store.listVersionsWrappedUnder(1, 10)).toStrictEqual(underOne);
        const first = await store.listVersionsWrappedUnder(1, 2);
        expect(first).toStrictEqual(underOne.slice(0, 2));
        const last = first[1] as KeyVersionRecord;
        expect(await store.listVersionsWrappedUnder(1, 2, { keyId: last.keyId, version: last.version })).toStrictEqual(
          underOne.slice(2),
        );
        expect(await store.listVersionsWrappedUnder(2, 10)).toStrictEqual([versionOf(a.keyId, 2, { domainKeyVersion: 2 })]);
        // Re-wrapping moves a version from one list to the other.
        const moved = underOne[0] as KeyVersionRecord;
        expect(await store.rewrapKeyVersion(moved.keyId, moved.version, 1, 2, bytes(40, 50))).toBe(true);
        expect(await store.countVersionsWrappedUnder(1)).toBe(2);
        expect(await store.countVersionsWrappedUnder(2)).toBe(2);
        expect(await store.listVersionsWrappedUnder(1, 10)).toStrictEqual(underOne.slice(1));
        await expectKmsError(store.listVersionsWrappedUnder(1, 0), 'ValidationException');
      });
    });

    describe('aliases', () => {
      let k1: KeyRecord;
      let k2: KeyRecord;

      beforeEach(async () => {
        await store.addDomainKey(domainKey(1));
        k1 = await makeKey();
        k2 = await makeKey();
      });

      it('createAlias round-trips, with store-stamped dates', async () => {
        const before = Date.now();
        const alias = await store.createAlias('alias/app/main_key-1', k1.keyId);
        const after = Date.now();
        expect(alias.aliasName).toBe('alias/app/main_key-1');
        expect(alias.keyId).toBe(k1.keyId);
        expect(alias.creationDate).toBeInstanceOf(Date);
        expect(alias.creationDate.getTime()).toBeGreaterThanOrEqual(before - 1000);
        expect(alias.creationDate.getTime()).toBeLessThanOrEqual(after + 1000);
        expect(alias.lastUpdatedDate).toStrictEqual(alias.creationDate);
        expect(await store.getAlias('alias/app/main_key-1')).toStrictEqual(alias);
      });

      it('refuses a taken name with AlreadyExistsException, even for another key', async () => {
        const alias = await store.createAlias('alias/taken', k1.keyId);
        await expectKmsError(store.createAlias('alias/taken', k2.keyId), 'AlreadyExistsException');
        await expectKmsError(store.createAlias('alias/taken', k1.keyId), 'AlreadyExistsException');
        expect(await store.getAlias('alias/taken')).toStrictEqual(alias);
      });

      it('validates names and refuses unknown keys', async () => {
        for (const name of ['foo', 'alias/', 'Alias/x', 'alias/has space', 'alias/ümlaut', 'alias/x:y', `alias/${'x'.repeat(251)}`, '']) {
          await expectKmsError(store.createAlias(name, k1.keyId), 'ValidationException');
          await expectKmsError(store.getAlias(name), 'ValidationException');
        }
        expect((await store.createAlias(`alias/${'x'.repeat(250)}`, k1.keyId)).aliasName).toHaveLength(256);
        await expectKmsError(store.createAlias('alias/orphan', randomUUID()), 'NotFoundException');
        expect(await store.getAlias('alias/orphan')).toBeNull();
      });

      it('updateAlias points the alias at another key', async () => {
        const alias = await store.createAlias('alias/moving', k1.keyId);
        await sleep(5);
        const moved = await store.updateAlias('alias/moving', k2.keyId);
        expect(moved.keyId).toBe(k2.keyId);
        expect(moved.creationDate).toStrictEqual(alias.creationDate);
        expect(moved.lastUpdatedDate.getTime()).toBeGreaterThan(alias.creationDate.getTime());
        expect(await store.getAlias('alias/moving')).toStrictEqual(moved);
        expect((await store.listAliases({ keyId: k1.keyId })).aliases).toStrictEqual([]);
        expect((await store.listAliases({ keyId: k2.keyId })).aliases).toStrictEqual([moved]);
        await expectKmsError(store.updateAlias('alias/nowhere', k2.keyId), 'NotFoundException');
        await expectKmsError(store.updateAlias('alias/moving', randomUUID()), 'NotFoundException');
        await expectKmsError(store.updateAlias('nope', k2.keyId), 'ValidationException');
        expect(await store.getAlias('alias/moving')).toStrictEqual(moved);
        expect(await store.getAlias('alias/nowhere')).toBeNull();
      });

      it('deleteAlias removes it; deleting again is NotFoundException', async () => {
        await store.createAlias('alias/short-lived', k1.keyId);
        await store.createAlias('alias/other', k1.keyId);
        await store.deleteAlias('alias/short-lived');
        expect(await store.getAlias('alias/short-lived')).toBeNull();
        await expectKmsError(store.deleteAlias('alias/short-lived'), 'NotFoundException');
        expect((await store.listAliases()).aliases.map((a) => a.aliasName)).toStrictEqual(['alias/other']);
        // The name is free again.
        expect((await store.createAlias('alias/short-lived', k2.keyId)).keyId).toBe(k2.keyId);
        expect(await store.getKey(k1.keyId)).toStrictEqual(k1);
      });

      it('listAliases pages by name, all or by key', async () => {
        for (const name of ['alias/c', 'alias/a', 'alias/b']) await store.createAlias(name, k1.keyId);
        await store.createAlias('alias/d', k2.keyId);
        await store.createAlias('alias/A', k2.keyId);
        const all = await store.listAliases();
        expect(all.aliases.map((a) => a.aliasName)).toStrictEqual(['alias/A', 'alias/a', 'alias/b', 'alias/c', 'alias/d']);
        expect(all.nextMarker).toBeUndefined();

        const names: string[] = [];
        let marker: string | undefined;
        do {
          const page = await store.listAliases(marker === undefined ? { limit: 2 } : { limit: 2, marker });
          expect(page.aliases.length).toBeLessThanOrEqual(2);
          names.push(...page.aliases.map((a) => a.aliasName));
          marker = page.nextMarker;
        } while (marker !== undefined);
        expect(names).toStrictEqual(all.aliases.map((a) => a.aliasName));

        const ofK1 = await store.listAliases({ keyId: k1.keyId, limit: 2 });
        expect(ofK1.aliases.map((a) => a.aliasName)).toStrictEqual(['alias/a', 'alias/b']);
        const rest = await store.listAliases({ keyId: k1.keyId, limit: 2, marker: ofK1.nextMarker as string });
        expect(rest.aliases.map((a) => a.aliasName)).toStrictEqual(['alias/c']);
        expect(rest.nextMarker).toBeUndefined();
        expect((await store.listAliases({ keyId: k2.keyId })).aliases.map((a) => a.keyId)).toStrictEqual([
          k2.keyId,
          k2.keyId,
        ]);
        await expectKmsError(store.listAliases({ keyId: randomUUID() }), 'NotFoundException');
        await expectKmsError(store.listAliases({ limit: 0 }), 'ValidationException');
      });
    });

    describe('tags', () => {
      let key: KeyRecord;

      beforeEach(async () => {
        await store.addDomainKey(domainKey(1));
        key = await makeKey({}, [{ tagKey: 'a', tagValue: '1' }]);
      });

      it('tagResource upserts; untagResource removes and ignores absent keys', async () => {
        await store.tagResource(key.keyId, [
          { tagKey: 'b', tagValue: '2' },
          { tagKey: 'c', tagValue: '3' },
        ]);
        await store.tagResource(key.keyId, [
          { tagKey: 'b', tagValue: 'two' },
          { tagKey: 'd', tagValue: '' },
        ]);
        expect((await store.listResourceTags(key.keyId)).tags).toStrictEqual([
          { tagKey: 'a', tagValue: '1' },
          { tagKey: 'b', tagValue: 'two' },
          { tagKey: 'c', tagValue: '3' },
          { tagKey: 'd', tagValue: '' },
        ]);
        await store.untagResource(key.keyId, ['b', 'zzz', 'd']);
        expect((await store.listResourceTags(key.keyId)).tags).toStrictEqual([
          { tagKey: 'a', tagValue: '1' },
          { tagKey: 'c', tagValue: '3' },
        ]);
        await store.tagResource(key.keyId, []);
        await store.untagResource(key.keyId, []);
        expect((await store.listResourceTags(key.keyId)).tags).toHaveLength(2);
        // Tags do not touch the key record.
        expect(await store.getKey(key.keyId)).toStrictEqual(key);
      });

      it('refuses unknown keys and bad tags, changing nothing', async () => {
        await expectKmsError(store.tagResource(randomUUID(), [{ tagKey: 'x', tagValue: 'y' }]), 'NotFoundException');
        await expectKmsError(store.untagResource(randomUUID(), ['a']), 'NotFoundException');
        await expectKmsError(store.listResourceTags(randomUUID()), 'NotFoundException');
        const bad: Tag[][] = [
          [{ tagKey: '', tagValue: 'v' }],
          [{ tagKey: 'k'.repeat(129), tagValue: 'v' }],
          [{ tagKey: 'k', tagValue: 'v'.repeat(257) }],
          [{ tagKey: 'k', tagValue: null as unknown as string }],
          [
            { tagKey: 'x', tagValue: '1' },
            { tagKey: 'x', tagValue: '2' },
          ],
          [{ tagKey: 'ok', tagValue: 'fine' }, { tagKey: '', tagValue: 'bad' }],
        ];
        for (const tags of bad) await expectKmsError(store.tagResource(key.keyId, tags), 'ValidationException');
        await expectKmsError(store.untagResource(key.keyId, ['']), 'ValidationException');
        expect((await store.listResourceTags(key.keyId)).tags).toStrictEqual([{ tagKey: 'a', tagValue: '1' }]);
      });

      it('listResourceTags pages by tag key', async () => {
        await store.tagResource(key.keyId, ['e', 'c', 'b', 'd'].map((k) => ({ tagKey: k, tagValue: k.toUpperCase() })));
        const first = await store.listResourceTags(key.keyId, { limit: 2 });
        expect(first.tags.map((t) => t.tagKey)).toStrictEqual(['a', 'b']);
        const second = await store.listResourceTags(key.keyId, { limit: 2, marker: first.nextMarker as string });
        expect(second.tags.map((t) => t.tagKey)).toStrictEqual(['c', 'd']);
        const third = await store.listResourceTags(key.keyId, { limit: 2, marker: second.nextMarker as string });
        expect(third.tags).toStrictEqual([{ tagKey: 'e', tagValue: 'E' }]);
        expect(third.nextMarker).toBeUndefined();
        await expectKmsError(store.listResourceTags(key.keyId, { marker: first.nextMarker?.slice(1) as string }), 'ValidationException');
      });
    });

    describe('audit trail', () => {
      const records: AuditRecord[] = [
        auditRecord({
          time: at(1000),
          operation: 'Encrypt',
          keyId: '11111111-1111-4111-8111-111111111111',
          keyVersion: 3,
          contextKeys: ['tenant', 'purpose', 'ünïcode', ''],
          outcome: 'success',
          principal: 'arn:aws:iam::123456789012:user/alice',
        }),
        auditRecord({
          time: at(2000),
          operation: 'Decrypt',
          outcome: 'failure',
          errorCode: 'InvalidCiphertextException',
        }),
        auditRecord({
          time: new Date(-5),
          operation: 'GenerateDataKey',
          keyId: '22222222-2222-4222-8222-222222222222',
          keyVersion: 1,
          contextKeys: ['b', 'a'],
        }),
        auditRecord({ time: at(3000), operation: 'Sign', keyId: '11111111-1111-4111-8111-111111111111', keyVersion: 1 }),
      ];

      it('appends a batch and reads every field back with increasing ids', async () => {
        const ids = await store.appendAudit(records);
        expect(ids).toHaveLength(records.length);
        for (let i = 1; i < ids.length; i++) expect(ids[i] as number).toBeGreaterThan(ids[i - 1] as number);
        const read = await store.readAudit();
        expect(read).toStrictEqual(records.map((r, i) => ({ ...r, id: ids[i] })));
        const more = await store.appendAudit([auditRecord({ operation: 'Verify' })]);
        expect(more[0] as number).toBeGreaterThan(ids[ids.length - 1] as number);
        expect(await store.appendAudit([])).toStrictEqual([]);
        expect(await store.readAudit()).toHaveLength(records.length + 1);
      });

      it('filters by time, key, id and limit, in id order', async () => {
        const ids = await store.appendAudit(records);
        const idsOf = (list: { id: number }[]) => list.map((r) => r.id);
        expect(idsOf(await store.readAudit({ since: at(2000) }))).toStrictEqual([ids[1], ids[3]]);
        expect(idsOf(await store.readAudit({ keyId: '11111111-1111-4111-8111-111111111111' }))).toStrictEqual([ids[0], ids[3]]);
        expect(idsOf(await store.readAudit({ afterId: ids[1] as number }))).toStrictEqual([ids[2], ids[3]]);
        expect(idsOf(await store.readAudit({ limit: 2 }))).toStrictEqual([ids[0], ids[1]]);
        expect(
          idsOf(await store.readAudit({ keyId: '11111111-1111-4111-8111-111111111111', since: at(0), afterId: ids[0] as number, limit: 5 })),
        ).toStrictEqual([ids[3]]);
        expect(await store.readAudit({ keyId: randomUUID() })).toStrictEqual([]);
        await expectKmsError(store.readAudit({ limit: 0 }), 'ValidationException');
        await expectKmsError(store.readAudit({ since: new Date(NaN) }), 'ValidationException');
      });

      it('stores any text exactly (quotes, backslashes, NUL, non-ASCII, emoji)', async () => {
        const awkward = auditRecord({
          operation: 'Op "quoted" \\ back',
          contextKeys: ['a"b', 'c\\d', 'nul\u0000x', 'é', '😀', '[1,2]'],
          errorCode: '{"not":"json"}',
          principal: 'arn:aws:iam::1:user/ü"ñ',
        });
        const ids = await store.appendAudit([awkward]);
        expect(await store.readAudit()).toStrictEqual([{ ...awkward, id: ids[0] }]);
      });

      it('appends many batches at once without losing, merging or splitting any', async () => {
        const batches = Array.from({ length: 12 }, (_, b) =>
          Array.from({ length: 1 + ((b * 37) % 90) }, (_, i) => auditRecord({ time: at(b * 1000 + i), operation: `Op${b}`, keyVersion: i + 1 })),
        );
        const ids = await Promise.all(batches.map((batch) => store.appendAudit(batch)));
        const byId = new Map((await store.readAudit({ limit: 1000 })).map((r) => [r.id, r]));
        expect(byId.size).toBe(batches.flat().length);
        batches.forEach((batch, b) => {
          expect(ids[b]).toHaveLength(batch.length);
          batch.forEach((record, i) => {
            if (i > 0) expect(ids[b]![i]!).toBeGreaterThan(ids[b]![i - 1]!);
            expect(byId.get(ids[b]![i]!)).toStrictEqual({ ...record, id: ids[b]![i] });
          });
        });
      });

      it('a batch with one bad record stores none of it', async () => {
        const bad: unknown[] = [
          { ...records[0], outcome: 'maybe' },
          { ...records[0], contextKeys: 'tenant' },
          { ...records[0], contextKeys: [1] },
          { ...records[0], operation: '' },
          { ...records[0], time: new Date(NaN) },
          { ...records[0], keyVersion: 0 },
        ];
        for (const record of bad) {
          await expectKmsError(store.appendAudit([records[1] as AuditRecord, record as AuditRecord]), 'ValidationException');
        }
        expect(await store.readAudit()).toStrictEqual([]);
      });
    });

    describe('jobs and leases', () => {
      it('saveJob creates and updates state under optimistic concurrency', async () => {
        expect(await store.getJob('rewrap')).toBeNull();
        const state = { phase: 'rewrap', cursor: { keyId: 'k', version: 3 }, done: 12, flags: [true, null, 'ü', 1.5] };
        const created = await store.saveJob('rewrap', state, null);
        expect(created).toStrictEqual({ name: 'rewrap', state, rowVersion: 1, leaseOwner: null, leaseExpiresAt: null });
        expect(await store.getJob('rewrap')).toStrictEqual(created);
        await expectKmsError(store.saveJob('rewrap', { phase: 'again' }, null), 'ConflictException');
        const next = await store.saveJob('rewrap', { phase: 'done' }, 1);
        expect(next).toStrictEqual({ ...created, state: { phase: 'done' }, rowVersion: 2 });
        await expectKmsError(store.saveJob('rewrap', { phase: 'stale' }, 1), 'ConflictException');
        await expectKmsError(store.saveJob('other', { phase: 'x' }, 4), 'ConflictException');
        expect(await store.getJob('rewrap')).toStrictEqual(next);
        expect(await store.getJob('other')).toBeNull();
      });

      it('two concurrent saves with the same rowVersion: exactly one wins', async () => {
        await store.saveJob('job', { n: 0 }, null);
        const results = await Promise.allSettled([store.saveJob('job', { n: 1 }, 1), store.saveJob('job', { n: 2 }, 1)]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect((lost?.reason as KmsError).code).toBe('ConflictException');
        expect((await store.getJob('job'))?.rowVersion).toBe(2);
      });

      it('validates job state and names', async () => {
        await expectKmsError(store.saveJob('job', [1, 2] as unknown as Record<string, never>, null), 'ValidationException');
        await expectKmsError(store.saveJob('job', null as unknown as Record<string, never>, null), 'ValidationException');
        await expectKmsError(store.saveJob('job', { big: 1n } as unknown as Record<string, never>, null), 'ValidationException');
        await expectKmsError(store.saveJob('', {}, null), 'ValidationException');
        await expectKmsError(store.getJob(''), 'ValidationException');
        expect(await store.getJob('job')).toBeNull();
      });

      it('acquire, renew, refuse while held, release, re-acquire', async () => {
        const before = Date.now();
        expect(await store.acquireLease('maintenance', 'node-a', 60_000)).toBe(true);
        const held = await store.getJob('maintenance');
        expect(held).toMatchObject({ name: 'maintenance', state: null, rowVersion: 0, leaseOwner: 'node-a' });
        expect(held?.leaseExpiresAt).toBeInstanceOf(Date);
        expect(held?.leaseExpiresAt?.getTime()).toBeGreaterThanOrEqual(before + 60_000 - 1000);
        expect(held?.leaseExpiresAt?.getTime()).toBeLessThanOrEqual(Date.now() + 60_000 + 1000);

        expect(await store.acquireLease('maintenance', 'node-b', 60_000)).toBe(false);
        expect(await store.acquireLease('maintenance', 'node-a', 120_000)).toBe(true);
        expect((await store.getJob('maintenance'))?.leaseExpiresAt?.getTime()).toBeGreaterThan(
          held?.leaseExpiresAt?.getTime() as number,
        );
        expect(await store.releaseLease('maintenance', 'node-b')).toBe(false);
        expect((await store.getJob('maintenance'))?.leaseOwner).toBe('node-a');
        expect(await store.releaseLease('maintenance', 'node-a')).toBe(true);
        expect(await store.releaseLease('maintenance', 'node-a')).toBe(false);
        expect(await store.getJob('maintenance')).toMatchObject({ leaseOwner: null, leaseExpiresAt: null });
        expect(await store.acquireLease('maintenance', 'node-b', 60_000)).toBe(true);
        expect((await store.getJob('maintenance'))?.leaseOwner).toBe('node-b');
        expect(await store.releaseLease('unknown-job', 'node-b')).toBe(false);
      });

      it('an expired lease can be taken over', async () => {
        expect(await store.acquireLease('sweep', 'node-a', 1)).toBe(true);
        await sleep(30);
        expect(await store.acquireLease('sweep', 'node-b', 60_000)).toBe(true);
        expect((await store.getJob('sweep'))?.leaseOwner).toBe('node-b');
        expect(await store.acquireLease('sweep', 'node-a', 60_000)).toBe(false);
      });

      it('a dead holder\'s lease is taken over once, whatever its expiry', async () => {
        expect(await store.acquireLease('rewrap', 'node-dead', 60_000)).toBe(true);
        expect(await store.takeOverLease('rewrap', 'node-other', 'node-b', 60_000)).toBe(false);
        expect((await store.getJob('rewrap'))?.leaseOwner).toBe('node-dead');
        const attempts = await Promise.all([
          store.takeOverLease('rewrap', 'node-dead', 'node-b', 60_000),
          store.takeOverLease('rewrap', 'node-dead', 'node-c', 60_000),
        ]);
        expect(attempts.filter(Boolean)).toHaveLength(1);
        const winner = attempts[0] ? 'node-b' : 'node-c';
        expect((await store.getJob('rewrap'))?.leaseOwner).toBe(winner);
        expect(await store.takeOverLease('unknown-job', 'node-dead', 'node-b', 60_000)).toBe(false);
        await expectKmsError(store.takeOverLease('rewrap', '', 'node-b', 60_000), 'ValidationException');
        await expectKmsError(store.takeOverLease('rewrap', winner, 'node-b', 0), 'ValidationException');
      });

      it('leases and job state are independent', async () => {
        await store.saveJob('rotate', { cursor: 'x' }, null);
        expect(await store.acquireLease('rotate', 'node-a', 60_000)).toBe(true);
        const job = await store.getJob('rotate');
        expect(job).toMatchObject({ state: { cursor: 'x' }, rowVersion: 1, leaseOwner: 'node-a' });
        const saved = await store.saveJob('rotate', { cursor: 'y' }, 1);
        expect(saved).toMatchObject({ state: { cursor: 'y' }, rowVersion: 2, leaseOwner: 'node-a' });
        // A lease-only job has no state yet: its first save expects row version 0 (or null).
        expect(await store.acquireLease('fresh', 'node-a', 60_000)).toBe(true);
        expect(await store.saveJob('fresh', { step: 1 }, null)).toMatchObject({ rowVersion: 1, leaseOwner: 'node-a' });
      });

      it('validates lease arguments', async () => {
        await expectKmsError(store.acquireLease('job', '', 1000), 'ValidationException');
        await expectKmsError(store.acquireLease('job', 'me', 0), 'ValidationException');
        await expectKmsError(store.acquireLease('job', 'me', -5), 'ValidationException');
        await expectKmsError(store.acquireLease('job', 'me', 1.5), 'ValidationException');
        await expectKmsError(store.releaseLease('job', ''), 'ValidationException');
        expect(await store.getJob('job')).toBeNull();
      });
    });

    describe('key policies', () => {
      let key: KeyRecord;

      beforeEach(async () => {
        await store.addDomainKey(domainKey(1));
        key = await makeKey();
      });

      it('keeps one policy per key, replaced by putKeyPolicy, purged with the key', async () => {
        expect(await store.getKeyPolicy(key.keyId)).toBeNull();
        await store.putKeyPolicy(key.keyId, '{"Statement":[1]}');
        await store.putKeyPolicy(key.keyId, '{"Statement":[2]}');
        expect(await store.getKeyPolicy(key.keyId)).toBe('{"Statement":[2]}');
        const other = await makeKey();
        expect(await store.getKeyPolicy(other.keyId)).toBeNull();
        // A policy does not touch the key record.
        expect(await store.getKey(key.keyId)).toStrictEqual(key);
        await store.deleteKey(key.keyId);
        await expectKmsError(store.getKeyPolicy(key.keyId), 'NotFoundException');
      });

      it('refuses unknown keys and empty or oversized documents', async () => {
        await expectKmsError(store.putKeyPolicy(randomUUID(), '{}'), 'NotFoundException');
        await expectKmsError(store.getKeyPolicy(randomUUID()), 'NotFoundException');
        await expectKmsError(store.putKeyPolicy(key.keyId, ''), 'ValidationException');
        await expectKmsError(store.putKeyPolicy(key.keyId, 'x'.repeat(32_769)), 'ValidationException');
        await expectKmsError(store.putKeyPolicy(key.keyId, 42 as unknown as string), 'ValidationException');
        expect(await store.getKeyPolicy(key.keyId)).toBeNull();
      });
    });

    describe('generation', () => {
      beforeEach(async () => {
        await store.addDomainKey(domainKey(1));
      });

      it('changes on every key, version, alias, tag and domain-key change, never repeating', async () => {
        const seen = new Set<number>([await store.generation()]);
        const step = async (what: string, change: () => Promise<unknown>) => {
          const before = await store.generation();
          await change();
          const after = await store.generation();
          expect(after, what).not.toBe(before);
          expect(seen.has(after), `${what}: generation value repeated`).toBe(false);
          seen.add(after);
        };
        const key = newKey();
        await step('addDomainKey', () => store.addDomainKey(domainKey(2)));
        await step('setDomainKeyState', () => store.setDomainKeyState(1, 'retired'));
        await step('createKey', () => store.createKey(key, versionOf(key.keyId, 1, { domainKeyVersion: 2 })));
        await step('updateKey', () => store.updateKey(key.keyId, 1, { keyState: 'Disabled' }));
        await step('addKeyVersion', () => store.addKeyVersion(key.keyId, 2, versionOf(key.keyId, 2, { domainKeyVersion: 2 })));
        await step('createAlias', () => store.createAlias('alias/gen', key.keyId));
        const other = await makeKey();
        await step('updateAlias', () => store.updateAlias('alias/gen', other.keyId));
        await step('deleteAlias', () => store.deleteAlias('alias/gen'));
        await step('tagResource', () => store.tagResource(key.keyId, [{ tagKey: 't', tagValue: 'v' }]));
        await step('untagResource', () => store.untagResource(key.keyId, ['t']));
        await step('putKeyPolicy', () => store.putKeyPolicy(key.keyId, '{"Statement":[]}'));
        await step('deleteKey', () => store.deleteKey(key.keyId));
      });

      it('does not change on reads, failed changes, audit, jobs, leases or re-wraps', async () => {
        await store.addDomainKey(domainKey(2));
        const key = await makeKey({}, [{ tagKey: 't', tagValue: 'v' }]);
        await store.createAlias('alias/read', key.keyId);
        const generation = await store.generation();
        await store.getKey(key.keyId);
        await store.listKeys();
        await store.getKeyVersion(key.keyId, 1);
        await store.listKeyVersions(key.keyId);
        await store.getAlias('alias/read');
        await store.listAliases();
        await store.listAliases({ keyId: key.keyId });
        await store.listResourceTags(key.keyId);
        await store.getKeyPolicy(key.keyId);
        await store.listDomainKeys();
        await store.countVersionsWrappedUnder(1);
        await store.listVersionsWrappedUnder(1, 10);
        await store.readAudit();
        await store.getJob('x');
        await store.generation();
        expect(await store.generation()).toBe(generation);

        await expectKmsError(store.updateKey(key.keyId, 5, { description: 'x' }), 'ConflictException');
        await expectKmsError(store.createAlias('alias/read', key.keyId), 'AlreadyExistsException');
        await expectKmsError(store.deleteAlias('alias/absent'), 'NotFoundException');
        await expectKmsError(store.tagResource(key.keyId, [{ tagKey: '', tagValue: '' }]), 'ValidationException');
        expect(await store.generation()).toBe(generation);

        await store.appendAudit([auditRecord({ keyId: key.keyId })]);
        await store.saveJob('job', { a: 1 }, null);
        await store.acquireLease('job', 'me', 60_000);
        await store.releaseLease('job', 'me');
        expect(await store.rewrapKeyVersion(key.keyId, 1, 1, 2, bytes(40, 9))).toBe(true);
        expect(await store.generation()).toBe(generation);
      });
    });
  });
}
