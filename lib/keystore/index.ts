/**
 * The key store layer: the {@link KeyStore} interface every backend
 * implements, the embedded SQLite backend, the PostgreSQL backend for many
 * nodes, and {@link openKeyStore}.
 *
 * @packageDocumentation
 */
export type {
  AliasListOptions,
  AliasPage,
  AliasRecord,
  AuditQuery,
  AuditRecord,
  DomainKeyProvider,
  DomainKeyRecord,
  DomainKeyState,
  JobRecord,
  JsonObject,
  JsonValue,
  KeyOrigin,
  KeyPage,
  KeyPatch,
  KeyRecord,
  KeySpec,
  KeyState,
  KeyStore,
  KeyStoreChange,
  KeyStoreStats,
  KeyUsage,
  KeyVersionCursor,
  KeyVersionPage,
  KeyVersionRecord,
  NewKeyRecord,
  PageOptions,
  RotationType,
  StoredAuditRecord,
  Tag,
  TagPage,
} from './key-store.js';
export { KEY_PATCH_FIELDS, KEY_SPECS, KEY_STATES, KEY_USAGES, ROTATION_TYPES } from './key-store.js';
export { DEFAULT_PAGE_LIMIT, MAX_AUDIT_LIMIT, MAX_LEASE_TTL_MS, MAX_PAGE_LIMIT } from './record-checks.js';
export { SqliteKeyStore } from './sqlite-key-store.js';
export type { SqliteDiagnostics, SqliteKeyStoreOptions } from './sqlite-key-store.js';
export { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './sqlite-schema.js';
export type { SqliteMigration } from './sqlite-schema.js';
export { PostgresKeyStore } from './postgres-key-store.js';
export type { PostgresKeyStoreOptions } from './postgres-key-store.js';
export { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from './postgres-schema.js';
export type { PostgresMigration } from './postgres-schema.js';
export { openKeyStore } from './open-key-store.js';
export type { KeyStoreSpec, OpenKeyStoreOptions } from './open-key-store.js';
