import { fork } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SQLITE_MIGRATIONS,
  SQLITE_SCHEMA_VERSION,
  SqliteKeyStore,
  openKeyStore,
  type KeyStore,
} from '../../dist/keystore/index.js';
import { auditRecord, bytes, domainKey, expectKmsError, newKey, runKeyStoreConformance, versionOf } from './conformance.js';

const require = createRequire(__filename);
const writerScript = join(__dirname, 'concurrent-writer.cjs');
const { round } = require(writerScript) as {
  round: (store: KeyStore, keyId: string, who: string) => Promise<number>;
};

let root: string;
let counter = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hsmkms-keystore-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh, not yet existing database path in its own directory. */
function freshPath(): string {
  counter += 1;
  return join(root, `case-${counter}`, 'keys.db');
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Opens and migrates a store at a fresh path. */
async function openFresh(path = freshPath()): Promise<SqliteKeyStore> {
  const store = await SqliteKeyStore.open(path);
  await store.migrate();
  return store;
}

runKeyStoreConformance('SqliteKeyStore (file)', () => SqliteKeyStore.open(freshPath()));

describe('SqliteKeyStore', () => {
  it('creates missing directories with mode 0700 and the database files with mode 0600', async () => {
    const base = join(root, 'modes');
    mkdirSync(base, { mode: 0o755 });
    chmodSync(base, 0o755);
    const path = join(base, 'a', 'b', 'keys.db');
    const umask = process.umask(0);
    let store: SqliteKeyStore;
    try {
      store = await openFresh(path);
    } finally {
      process.umask(umask);
    }
    try {
      await store.addDomainKey(domainKey(1));
      expect(mode(join(base, 'a'))).toBe(0o700);
      expect(mode(join(base, 'a', 'b'))).toBe(0o700);
      expect(mode(base)).toBe(0o755); // an existing directory is left alone
      expect(mode(path)).toBe(0o600);
      // SQLite gives the WAL and shared-memory files the database file's mode.
      expect(mode(`${path}-wal`)).toBe(0o600);
      expect(mode(`${path}-shm`)).toBe(0o600);
    } finally {
      await store.close();
    }
  });

  it('uses WAL, synchronous=FULL, foreign keys and the busy timeout (read back from SQLite)', async () => {
    const path = freshPath();
    const store = await SqliteKeyStore.open(path, { busyTimeoutMs: 1234 });
    try {
      await store.migrate();
      expect(await store.diagnostics()).toStrictEqual({
        path,
        journalMode: 'wal',
        synchronous: 'FULL',
        foreignKeys: true,
        busyTimeoutMs: 1234,
        schemaVersion: SQLITE_SCHEMA_VERSION,
      });
      // WAL is a property of the file: an independent connection sees it too.
      const other = new Database(path, { readonly: true });
      try {
        expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        other.close();
      }
    } finally {
      await store.close();
    }
  });

  it('audit batches (written by a worker thread on its own connection) are all on disk once close() resolves', async () => {
    const path = freshPath();
    const store = await openFresh(path);
    const batches = Array.from({ length: 20 }, (_, b) =>
      store.appendAudit(Array.from({ length: 128 }, (_, i) => auditRecord({ operation: `Op${b}`, contextKeys: [`k${i}`] }))),
    );
    await store.close(); // not awaiting the batches first: close waits for them
    const ids = (await Promise.all(batches)).flat();
    expect(new Set(ids).size).toBe(20 * 128);
    await expectKmsError(store.appendAudit([auditRecord()]), 'KMSInternalException');
    const reopened = await openFresh(path);
    const stored = await reopened.readAudit({ limit: 10_000 });
    expect(stored).toHaveLength(20 * 128);
    expect(stored.map((r) => r.id)).toEqual([...ids].sort((x, y) => x - y));
    await reopened.close();
  });

  it('keeps data across close and reopen', async () => {
    const path = freshPath();
    const first = await openFresh(path);
    await first.addDomainKey(domainKey(1, { provider: 'soft', sealed: bytes(48, 5) }));
    const key = newKey({ description: 'durable' });
    const created = await first.createKey(key, versionOf(key.keyId), [{ tagKey: 'keep', tagValue: 'me' }]);
    const alias = await first.createAlias('alias/durable', key.keyId);
    const [auditId] = await first.appendAudit([auditRecord({ keyId: key.keyId, contextKeys: ['k'] })]);
    await first.saveJob('job', { step: 3 }, null);
    const generation = await first.generation();
    await first.close();

    const second = await SqliteKeyStore.open(path);
    try {
      await second.migrate();
      expect(await second.getKey(key.keyId)).toStrictEqual(created);
      expect(await second.getKeyVersion(key.keyId, 1)).toStrictEqual(versionOf(key.keyId));
      expect(await second.getAlias('alias/durable')).toStrictEqual(alias);
      expect((await second.listResourceTags(key.keyId)).tags).toStrictEqual([{ tagKey: 'keep', tagValue: 'me' }]);
      expect(await second.listDomainKeys()).toStrictEqual([domainKey(1, { provider: 'soft', sealed: bytes(48, 5) })]);
      expect(await second.readAudit()).toStrictEqual([{ ...auditRecord({ keyId: key.keyId, contextKeys: ['k'] }), id: auditId }]);
      expect((await second.getJob('job'))?.state).toStrictEqual({ step: 3 });
      expect(await second.generation()).toBe(generation);
    } finally {
      await second.close();
    }
  });

  it('refuses a schema newer than the code, at open and at migrate', async () => {
    const path = freshPath();
    const store = await openFresh(path);
    const raw = new Database(path);
    try {
      raw.prepare('UPDATE schema_version SET version = ? WHERE id = 1').run(SQLITE_SCHEMA_VERSION + 98);
    } finally {
      raw.close();
    }
    const error = await expectKmsError(store.migrate(), 'UnsupportedRuntimeException');
    expect(error.message).toContain(String(SQLITE_SCHEMA_VERSION + 98));
    await store.close();
    const atOpen = await expectKmsError(SqliteKeyStore.open(path), 'UnsupportedRuntimeException');
    expect(atOpen.message).toMatch(/newer/);
    await expectKmsError(openKeyStore(path), 'UnsupportedRuntimeException');
  });

  it('migrates once: a second migrate changes nothing; migrations are numbered 1..N', async () => {
    expect(SQLITE_MIGRATIONS.map((m) => m.version)).toStrictEqual(
      Array.from({ length: SQLITE_MIGRATIONS.length }, (_, i) => i + 1),
    );
    expect(SQLITE_SCHEMA_VERSION).toBe(SQLITE_MIGRATIONS.length);
    const path = freshPath();
    const store = await SqliteKeyStore.open(path);
    try {
      expect((await store.diagnostics()).schemaVersion).toBe(0);
      await store.migrate();
      const schema = () => {
        const raw = new Database(path, { readonly: true });
        try {
          return {
            objects: raw.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all(),
            version: raw.prepare('SELECT version FROM schema_version').all(),
          };
        } finally {
          raw.close();
        }
      };
      const once = schema();
      expect(once.version).toStrictEqual([{ version: SQLITE_SCHEMA_VERSION }]);
      await store.migrate();
      expect(schema()).toStrictEqual(once);
    } finally {
      await store.close();
    }
  });

  it('says to migrate when used before migrate', async () => {
    const store = await SqliteKeyStore.open(freshPath());
    try {
      const error = await expectKmsError(store.listKeys(), 'KMSInternalException');
      expect(error.message).toMatch(/migrate/);
    } finally {
      await store.close();
    }
  });

  it('rolls every multi-row change back when the database fails midway', async () => {
    const path = freshPath();
    const store = await openFresh(path);
    try {
      await store.addDomainKey(domainKey(1));
      const raw = new Database(path);
      try {
        raw.exec(`
          CREATE TRIGGER fail_tag BEFORE INSERT ON tags WHEN NEW.tag_key = 'boom'
            BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
          CREATE TRIGGER fail_promote BEFORE UPDATE OF primary_version ON cmks WHEN NEW.primary_version = 2
            BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
          CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log WHEN NEW.operation = 'boom'
            BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
          CREATE TRIGGER fail_delete BEFORE DELETE ON cmks WHEN OLD.description = 'undeletable'
            BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
        `);
      } finally {
        raw.close();
      }
      const generation = await store.generation();

      // createKey: key and version rows are written before the failing tag.
      const key = newKey();
      await expectKmsError(
        store.createKey(key, versionOf(key.keyId), [
          { tagKey: 'a', tagValue: '1' },
          { tagKey: 'boom', tagValue: '2' },
        ]),
        'KMSInternalException',
      );
      expect(await store.getKey(key.keyId)).toBeNull();
      expect(await store.getKeyVersion(key.keyId, 1)).toBeNull();
      expect(await store.countVersionsWrappedUnder(1)).toBe(0);

      // addKeyVersion: the version row is written before the failing promotion.
      const created = await store.createKey(key, versionOf(key.keyId));
      await expectKmsError(store.addKeyVersion(key.keyId, 1, versionOf(key.keyId, 2)), 'KMSInternalException');
      expect(await store.getKey(key.keyId)).toStrictEqual(created);
      expect(await store.getKeyVersion(key.keyId, 2)).toBeNull();

      // appendAudit: one failing record loses the whole batch.
      await expectKmsError(
        store.appendAudit([auditRecord({ operation: 'ok' }), auditRecord({ operation: 'boom' })]),
        'KMSInternalException',
      );
      expect(await store.readAudit()).toStrictEqual([]);

      // deleteKey: tags, aliases and versions go before the failing key row.
      const doomed = newKey({ description: 'undeletable' });
      await store.createKey(doomed, versionOf(doomed.keyId), [{ tagKey: 't', tagValue: 'v' }]);
      await store.createAlias('alias/kept', doomed.keyId);
      const afterSetup = await store.generation();
      await expectKmsError(store.deleteKey(doomed.keyId), 'KMSInternalException');
      expect((await store.listResourceTags(doomed.keyId)).tags).toHaveLength(1);
      expect(await store.getAlias('alias/kept')).not.toBeNull();
      expect(await store.getKeyVersion(doomed.keyId, 1)).not.toBeNull();
      expect(await store.generation()).toBe(afterSetup);
      expect(afterSetup).not.toBe(generation);
    } finally {
      await store.close();
    }
  });

  it('waits for another connection holding the write lock, then fails with a KmsError', async () => {
    const path = freshPath();
    const setup = await openFresh(path);
    await setup.close();
    const store = await SqliteKeyStore.open(path, { busyTimeoutMs: 150 });
    const raw = new Database(path);
    try {
      await store.migrate();
      raw.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      const error = await expectKmsError(store.addDomainKey(domainKey(1)), 'KMSInternalException');
      expect(error.message).toMatch(/busy/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      // Reads go on while the other connection writes (WAL).
      expect(await store.listDomainKeys()).toStrictEqual([]);
      raw.exec('COMMIT');
      expect(await store.addDomainKey(domainKey(1))).toStrictEqual(domainKey(1));
    } finally {
      if (raw.inTransaction) raw.exec('ROLLBACK');
      raw.close();
      await store.close();
    }
  });

  it('loses no updates with writers in two processes', async () => {
    const rounds = 100;
    let conflicts = 0;
    const path = freshPath();
    const store = await openFresh(path);
    try {
      await store.addDomainKey(domainKey(1));
      const key = newKey({ description: '0' });
      await store.createKey(key, versionOf(key.keyId));

      const child = fork(writerScript, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      try {
        let onReady!: () => void;
        let onDone!: (conflicts: number) => void;
        let onFailure!: (error: Error) => void;
        const failed = new Promise<never>((_, reject) => (onFailure = reject));
        const ready = new Promise<void>((resolve) => (onReady = resolve));
        const done = new Promise<number>((resolve) => (onDone = resolve));
        failed.catch(() => undefined);
        child.on('message', (m: { ready?: boolean; done?: boolean; conflicts?: number; error?: string }) => {
          if (m.error !== undefined) onFailure(new Error(`child failed: ${m.error}`));
          else if (m.ready === true) onReady();
          else if (m.done === true) onDone(m.conflicts ?? 0);
        });
        child.on('exit', (code) => onFailure(new Error(`child exited (${code}) before it was done`)));
        child.send({ path, keyId: key.keyId, rounds });
        await Promise.race([ready, failed]);
        child.send({ go: true });
        for (let i = 0; i < rounds; i++) conflicts += await round(store, key.keyId, 'parent');
        conflicts += await Promise.race([done, failed]);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill();
      }

      const final = await store.getKey(key.keyId);
      expect(final?.description).toBe(String(2 * rounds));
      expect(final?.rowVersion).toBe(2 * rounds + 1);
      const job = await store.getJob('counter');
      expect(job?.state).toStrictEqual({ n: 2 * rounds });
      expect(job?.rowVersion).toBe(2 * rounds);
      const audit = await store.readAudit({ keyId: key.keyId, limit: 10_000 });
      expect(audit.filter((r) => r.principal === 'parent')).toHaveLength(rounds);
      expect(audit.filter((r) => r.principal === 'child')).toHaveLength(rounds);
      // The writers really overlapped: their audit records interleave.
      const switches = audit.slice(1).filter((r, i) => r.principal !== audit[i]?.principal).length;
      expect(switches).toBeGreaterThan(1);
      console.log(`two-process writers: ${switches} switches, ${conflicts} conflicts retried`);
      // Racing read-modify-writes were detected and retried rather than lost.
      expect(conflicts).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('fails with a KmsError when the path cannot hold a database', async () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, 'not a directory');
    await expectKmsError(SqliteKeyStore.open(join(file, 'keys.db')), 'KMSInternalException');
    const notADatabase = await expectKmsError(SqliteKeyStore.open(file), 'KMSInternalException');
    expect(notADatabase.message).toMatch(/NOTADB|not a database/);
    await expectKmsError(SqliteKeyStore.open(''), 'ValidationException');
    await expectKmsError(SqliteKeyStore.open(freshPath(), { busyTimeoutMs: -1 }), 'ValidationException');
  });
});

describe('openKeyStore', () => {
  it('opens and migrates a SQLite store from a path or a sqlite: spec', async () => {
    const direct = freshPath();
    const prefixed = freshPath();
    const slashes = freshPath();
    for (const spec of [direct, `sqlite:${prefixed}`, `sqlite://${slashes}`, ':memory:', 'sqlite::memory:']) {
      const store = await openKeyStore(spec);
      try {
        expect(store).toBeInstanceOf(SqliteKeyStore);
        expect((await store.listKeys()).keys).toStrictEqual([]);
        expect(await store.addDomainKey(domainKey(1))).toStrictEqual(domainKey(1));
      } finally {
        await store.close();
      }
    }
    for (const path of [direct, prefixed, slashes]) expect(mode(path)).toBe(0o600);
  });

  it('can leave migration to the caller', async () => {
    const store = await openKeyStore(freshPath(), { migrate: false });
    try {
      expect(await (store as SqliteKeyStore).diagnostics()).toMatchObject({ schemaVersion: 0 });
    } finally {
      await store.close();
    }
  });

  it('refuses unknown schemes and empty specs', async () => {
    const error = await expectKmsError(openKeyStore('mysql://root:pw@host/db'), 'ValidationException');
    expect(error.message).toContain("'mysql:'");
    expect(error.message).not.toContain('pw@host');
    await expectKmsError(openKeyStore(''), 'ValidationException');
    await expectKmsError(openKeyStore('sqlite:'), 'ValidationException');
    await expectKmsError(openKeyStore(42 as unknown as string), 'ValidationException');
  });
});
