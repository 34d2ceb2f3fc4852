// The KeyStore conformance suite on PostgreSQL (a fresh database for this
// file, a fresh schema per test), plus what only a network database has:
// concurrent migrations, connection options, an unreachable server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  POSTGRES_MIGRATIONS,
  POSTGRES_SCHEMA_VERSION,
  PostgresKeyStore,
  openKeyStore,
} from '../../dist/keystore/index.js';
import { freshDatabase } from '../helpers/postgres.js';
import { domainKey, expectKmsError, newKey, runKeyStoreConformance, versionOf } from './conformance.js';

let db: Awaited<ReturnType<typeof freshDatabase>>;
let schemas = 0;

beforeAll(async () => {
  db = await freshDatabase('conformance');
});

afterAll(async () => {
  await db?.drop();
});

/** A schema name not used yet in this file's database. */
function nextSchema(): string {
  schemas += 1;
  return `s${schemas}`;
}

/** A store on a fresh schema of this file's database. */
function freshStore(schema = nextSchema()): Promise<PostgresKeyStore> {
  return PostgresKeyStore.open({ connectionString: db.url, schema, max: 4 });
}

runKeyStoreConformance('PostgresKeyStore', () => freshStore());

describe('PostgresKeyStore', () => {
  it('migrations are numbered 1..N; many stores migrating one schema at once leave one schema', async () => {
    expect(POSTGRES_MIGRATIONS.map((m) => m.version)).toStrictEqual(
      Array.from({ length: POSTGRES_MIGRATIONS.length }, (_, i) => i + 1),
    );
    const schema = nextSchema();
    const stores = await Promise.all(
      Array.from({ length: 6 }, () => PostgresKeyStore.open({ connectionString: db.url, schema, max: 2 })),
    );
    try {
      expect(await stores[0]!.schemaVersion()).toBe(0);
      await Promise.all(stores.map((s) => s.migrate()));
      for (const s of stores) expect(await s.schemaVersion()).toBe(POSTGRES_SCHEMA_VERSION);
      await stores[0]!.addDomainKey(domainKey(1));
      await Promise.all(stores.map((s) => s.migrate()));
      expect(await stores[5]!.listDomainKeys()).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('refuses a schema newer than the code', async () => {
    const schema = nextSchema();
    const store = await freshStore(schema);
    try {
      await store.migrate();
      // Bump the recorded version behind the store's back.
      const pg = await import('pg');
      const client = new pg.default.Client({ connectionString: db.url, options: `-c search_path=${schema}` });
      await client.connect();
      await client.query('UPDATE schema_version SET version = $1', [POSTGRES_SCHEMA_VERSION + 7]);
      await client.end();
      const error = await expectKmsError(store.migrate(), 'UnsupportedRuntimeException');
      expect(error.message).toContain(String(POSTGRES_SCHEMA_VERSION + 7));
      await expectKmsError(store.schemaVersion(), 'UnsupportedRuntimeException');
    } finally {
      await store.close();
    }
  });

  it('counts its queries and calls (stats)', async () => {
    const store = await freshStore();
    try {
      await store.migrate();
      const before = store.stats();
      await store.getKey(newKey().keyId);
      await store.generation();
      const after = store.stats();
      expect(after.queries - before.queries).toBe(2);
      expect(after.calls.getKey).toBe(1);
      expect(after.calls.generation).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('sends change hints to watchers on other instances (LISTEN/NOTIFY)', async () => {
    const schema = nextSchema();
    const writer = await freshStore(schema);
    const reader = await freshStore(schema);
    try {
      await writer.migrate();
      await writer.addDomainKey(domainKey(1));
      const seen: unknown[] = [];
      const stop = reader.watchChanges((change) => seen.push(change));
      for (let i = 0; i < 100 && !reader.stats().listening; i++) await new Promise((r) => setTimeout(r, 20));
      expect(reader.stats().listening).toBe(true);
      const key = newKey();
      await writer.createKey(key, versionOf(key.keyId));
      await writer.createAlias('alias/hint', key.keyId);
      for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(seen).toStrictEqual([
        expect.objectContaining({ keyId: key.keyId }),
        expect.objectContaining({ aliasName: 'alias/hint' }),
      ]);
      stop();
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});

describe('openKeyStore with PostgreSQL', () => {
  it('opens and migrates postgres:// URLs and { postgres: {...} } options', async () => {
    for (const spec of [db.url, { postgres: { connectionString: db.url, schema: 'opened_by_options', max: 2 } }]) {
      const store = await openKeyStore(spec);
      try {
        expect(store).toBeInstanceOf(PostgresKeyStore);
        expect(await (store as PostgresKeyStore).schemaVersion()).toBe(POSTGRES_SCHEMA_VERSION);
      } finally {
        await store.close();
      }
    }
  });

  it('is KeyUnavailableException while the server is unreachable, without echoing the password', async () => {
    for (const spec of [
      'postgres://admin:s3cret-pw@127.0.0.1:1/kms',
      { postgres: { host: '127.0.0.1', port: 1, user: 'admin', password: 's3cret-pw', database: 'kms' } },
    ]) {
      const error = await expectKmsError(openKeyStore(spec), 'KeyUnavailableException');
      expect(error.message).not.toContain('s3cret-pw');
      expect(JSON.stringify(error)).not.toContain('s3cret-pw');
    }
  });

  it('refuses bad options with ValidationException', async () => {
    await expectKmsError(openKeyStore({ postgres: { schema: 'Bad-Name' } }), 'ValidationException');
    await expectKmsError(openKeyStore({ postgres: { max: 0 } }), 'ValidationException');
  });
});
