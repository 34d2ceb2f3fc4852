/**
 * The PostgreSQL key store's schema, as an ordered list of migrations (the
 * same tables and column names as the SQLite store, in PostgreSQL types).
 * Migration N takes the schema from version N-1 to N; `schema_version`
 * records where a database is. Never edit a released migration: append one.
 *
 * Many nodes may migrate at once: {@link migratePostgres} runs every step in
 * one transaction under a transaction-scoped advisory lock, so one node
 * migrates and the others wait, then find nothing left to do.
 */
import type { QueryResult, QueryResultRow } from 'pg';
import { KmsError } from '../errors.js';
import type { SqliteMigration } from './sqlite-schema.js';

/** One schema step (the same shape as a SQLite step). */
export type PostgresMigration = SqliteMigration;

/** Every migration, in order. Ordered text columns use the "C" collation: byte order, as SQLite and JavaScript compare. */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    description: 'domain keys, CMKs, versions, aliases, tags, audit trail, jobs, generation counter',
    statements: [
      `CREATE TABLE generation (
         id integer PRIMARY KEY CHECK (id = 1),
         value bigint NOT NULL
       )`,
      `INSERT INTO generation (id, value) VALUES (1, 1)`,
      `CREATE TABLE domain_keys (
         version integer PRIMARY KEY CHECK (version >= 1),
         provider text NOT NULL CHECK (provider IN ('pkcs11', 'soft')),
         reference text NOT NULL,
         sealed bytea,
         state text NOT NULL CHECK (state IN ('active', 'retired')),
         created_at timestamptz NOT NULL
       )`,
      `CREATE TABLE cmks (
         key_id text COLLATE "C" PRIMARY KEY,
         description text NOT NULL,
         key_spec text NOT NULL,
         key_usage text NOT NULL,
         key_state text NOT NULL,
         creation_date timestamptz NOT NULL,
         deletion_date timestamptz,
         pending_window_in_days integer,
         primary_version integer NOT NULL,
         rotation_enabled boolean NOT NULL,
         rotation_period_in_days integer,
         next_rotation_date timestamptz,
         row_version integer NOT NULL,
         origin text NOT NULL
       )`,
      `CREATE INDEX cmks_by_creation ON cmks (creation_date, key_id)`,
      `CREATE TABLE cmk_versions (
         key_id text COLLATE "C" NOT NULL REFERENCES cmks (key_id) ON DELETE CASCADE,
         version integer NOT NULL CHECK (version >= 1),
         created_at timestamptz NOT NULL,
         domain_key_version integer NOT NULL REFERENCES domain_keys (version),
         wrapped bytea NOT NULL,
         public_key bytea,
         rotation_type text NOT NULL,
         PRIMARY KEY (key_id, version)
       )`,
      `CREATE INDEX cmk_versions_by_domain_key ON cmk_versions (domain_key_version, key_id, version)`,
      `CREATE TABLE aliases (
         alias_name text COLLATE "C" PRIMARY KEY,
         key_id text COLLATE "C" NOT NULL REFERENCES cmks (key_id) ON DELETE CASCADE,
         creation_date timestamptz NOT NULL,
         last_updated_date timestamptz NOT NULL
       )`,
      `CREATE INDEX aliases_by_key ON aliases (key_id, alias_name)`,
      `CREATE TABLE tags (
         key_id text COLLATE "C" NOT NULL REFERENCES cmks (key_id) ON DELETE CASCADE,
         tag_key text COLLATE "C" NOT NULL,
         tag_value text NOT NULL,
         PRIMARY KEY (key_id, tag_key)
       )`,
      // No foreign key: the audit trail outlives the keys it mentions.
      `CREATE TABLE audit_log (
         id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         time timestamptz NOT NULL,
         operation text NOT NULL,
         key_id text,
         key_version integer,
         context_keys text NOT NULL,
         outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
         error_code text,
         principal text
       )`,
      `CREATE INDEX audit_log_by_key ON audit_log (key_id, id)`,
      `CREATE INDEX audit_log_by_time ON audit_log (time, id)`,
      `CREATE TABLE jobs (
         name text PRIMARY KEY,
         state text,
         row_version integer NOT NULL,
         lease_owner text,
         lease_expires_at timestamptz
       )`,
    ],
  },
  {
    version: 2,
    description: 'key policies',
    statements: [
      `CREATE TABLE key_policies (
         key_id text COLLATE "C" PRIMARY KEY REFERENCES cmks (key_id) ON DELETE CASCADE,
         policy text NOT NULL
       )`,
    ],
  },
];

/** The schema version this code writes and understands. */
export const POSTGRES_SCHEMA_VERSION: number = POSTGRES_MIGRATIONS.length;

/** What the migration runs statements on: one transaction's connection. */
export interface MigrationRunner {
  q<R extends QueryResultRow>(sql: string, params?: (string | number)[]): Promise<QueryResult<R>>;
}

/** The advisory lock that serialises migrations of one schema (a 64-bit key derived from its name). */
const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended('hsmkms:migrate:' || current_schema(), 0))`;

/** The schema version recorded in the current schema (0 before the first migration). */
export async function readPostgresSchemaVersion(db: MigrationRunner): Promise<number> {
  const table = await db.q(`SELECT to_regclass('schema_version') IS NOT NULL AS present`);
  if (table.rows[0]?.present !== true) return 0;
  const row = await db.q<{ version: number }>('SELECT version FROM schema_version WHERE id = 1');
  return row.rows[0]?.version ?? 0;
}

/** The error for a database migrated by a newer hsmkms. */
export function newerPostgresSchema(found: number): KmsError {
  return new KmsError(
    'UnsupportedRuntimeException',
    `key store schema version ${found} is newer than this version of hsmkms understands (${POSTGRES_SCHEMA_VERSION}); upgrade hsmkms`,
  );
}

/**
 * Brings the current schema up to date on `db`, which must be inside a
 * transaction: takes the migration lock, then applies the missing steps.
 */
export async function migratePostgres(db: MigrationRunner): Promise<void> {
  await db.q(LOCK_SQL);
  await db.q(`CREATE TABLE IF NOT EXISTS schema_version (
    id integer PRIMARY KEY CHECK (id = 1),
    version integer NOT NULL
  )`);
  const current = await readPostgresSchemaVersion(db);
  if (current > POSTGRES_SCHEMA_VERSION) throw newerPostgresSchema(current);
  if (current === POSTGRES_SCHEMA_VERSION) return;
  for (const migration of POSTGRES_MIGRATIONS) {
    if (migration.version <= current) continue;
    for (const sql of migration.statements) await db.q(sql);
  }
  await db.q(
    `INSERT INTO schema_version (id, version) VALUES (1, $1)
     ON CONFLICT (id) DO UPDATE SET version = excluded.version`,
    [POSTGRES_SCHEMA_VERSION],
  );
}
