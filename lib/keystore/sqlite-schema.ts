/**
 * The SQLite key store's schema, as an ordered list of migrations. Migration
 * N takes the schema from version N-1 to N; a store records the version it is
 * at in `schema_version`. Never edit a released migration: append a new one.
 *
 * Times are integer milliseconds since the epoch (UTC), booleans 0/1, bytes
 * BLOBs, job state and audit context keys JSON text. Tables are STRICT.
 */

/** One schema step (PostgreSQL migrations have the same shape). */
export interface SqliteMigration {
  /** The schema version this step leads to (1, 2, ...; consecutive). */
  readonly version: number;
  /** What it does, for logs. */
  readonly description: string;
  /** The SQL statements, run in order inside the migration's transaction. */
  readonly statements: readonly string[];
}

/** Every migration, in order. */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    description: 'domain keys, CMKs, versions, aliases, tags, audit trail, jobs, generation counter',
    statements: [
      `CREATE TABLE generation (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         value INTEGER NOT NULL
       ) STRICT`,
      `INSERT INTO generation (id, value) VALUES (1, 1)`,
      `CREATE TABLE domain_keys (
         version INTEGER PRIMARY KEY CHECK (version >= 1),
         provider TEXT NOT NULL CHECK (provider IN ('pkcs11', 'soft')),
         reference TEXT NOT NULL,
         sealed BLOB,
         state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
         created_at INTEGER NOT NULL
       ) STRICT`,
      `CREATE TABLE cmks (
         key_id TEXT PRIMARY KEY,
         description TEXT NOT NULL,
         key_spec TEXT NOT NULL,
         key_usage TEXT NOT NULL,
         key_state TEXT NOT NULL,
         creation_date INTEGER NOT NULL,
         deletion_date INTEGER,
         pending_window_in_days INTEGER,
         primary_version INTEGER NOT NULL,
         rotation_enabled INTEGER NOT NULL CHECK (rotation_enabled IN (0, 1)),
         rotation_period_in_days INTEGER,
         next_rotation_date INTEGER,
         row_version INTEGER NOT NULL,
         origin TEXT NOT NULL
       ) STRICT`,
      `CREATE INDEX cmks_by_creation ON cmks (creation_date, key_id)`,
      `CREATE TABLE cmk_versions (
         key_id TEXT NOT NULL REFERENCES cmks (key_id) ON DELETE CASCADE,
         version INTEGER NOT NULL CHECK (version >= 1),
         created_at INTEGER NOT NULL,
         domain_key_version INTEGER NOT NULL REFERENCES domain_keys (version),
         wrapped BLOB NOT NULL,
         public_key BLOB,
         rotation_type TEXT NOT NULL,
         PRIMARY KEY (key_id, version)
       ) STRICT`,
      `CREATE INDEX cmk_versions_by_domain_key ON cmk_versions (domain_key_version, key_id, version)`,
      `CREATE TABLE aliases (
         alias_name TEXT PRIMARY KEY,
         key_id TEXT NOT NULL REFERENCES cmks (key_id) ON DELETE CASCADE,
         creation_date INTEGER NOT NULL,
         last_updated_date INTEGER NOT NULL
       ) STRICT`,
      `CREATE INDEX aliases_by_key ON aliases (key_id, alias_name)`,
      `CREATE TABLE tags (
         key_id TEXT NOT NULL REFERENCES cmks (key_id) ON DELETE CASCADE,
         tag_key TEXT NOT NULL,
         tag_value TEXT NOT NULL,
         PRIMARY KEY (key_id, tag_key)
       ) STRICT`,
      // No foreign key: the audit trail outlives the keys it mentions.
      `CREATE TABLE audit_log (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         time INTEGER NOT NULL,
         operation TEXT NOT NULL,
         key_id TEXT,
         key_version INTEGER,
         context_keys TEXT NOT NULL,
         outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
         error_code TEXT,
         principal TEXT
       ) STRICT`,
      `CREATE INDEX audit_log_by_key ON audit_log (key_id, id)`,
      `CREATE INDEX audit_log_by_time ON audit_log (time, id)`,
      `CREATE TABLE jobs (
         name TEXT PRIMARY KEY,
         state TEXT,
         row_version INTEGER NOT NULL,
         lease_owner TEXT,
         lease_expires_at INTEGER
       ) STRICT`,
    ],
  },
  {
    version: 2,
    description: 'key policies',
    statements: [
      `CREATE TABLE key_policies (
         key_id TEXT PRIMARY KEY REFERENCES cmks (key_id) ON DELETE CASCADE,
         policy TEXT NOT NULL
       ) STRICT`,
    ],
  },
];

/** The schema version this code writes and understands. */
export const SQLITE_SCHEMA_VERSION: number = SQLITE_MIGRATIONS.length;
