/**
 * Opens a key store from a connection string, so that configuration (CLI
 * flags, environment) can name the backend.
 */
import { KmsError } from '../errors.js';
import type { KeyStore } from './key-store.js';
import { PostgresKeyStore, type PostgresKeyStoreOptions } from './postgres-key-store.js';
import { SqliteKeyStore, type SqliteKeyStoreOptions } from './sqlite-key-store.js';

/** Options of {@link openKeyStore}. */
export interface OpenKeyStoreOptions {
  /** Run {@link KeyStore.migrate} after opening (default `true`). */
  migrate?: boolean;
  /** Options for a SQLite store. */
  sqlite?: SqliteKeyStoreOptions;
  /** Options for a PostgreSQL store named by a URL (merged under `connectionString`). */
  postgres?: Omit<PostgresKeyStoreOptions, 'connectionString'>;
}

/** A key store named by configuration: a path or URL, or `{ postgres: PoolConfig fields }`. */
export type KeyStoreSpec = string | { postgres: PostgresKeyStoreOptions };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/**
 * Opens a key store named by `spec`:
 * - a file path, or `sqlite:<path>` (also `sqlite://<absolute path>`): the
 *   embedded SQLite store, created if missing; `:memory:` for a throw-away one;
 * - `postgres://...` / `postgresql://...`: a {@link PostgresKeyStore}, a pool
 *   on that database (node-postgres parses the URL, `sslmode` included);
 * - `{ postgres: { connectionString?, host?, port?, user?, password?,
 *   database?, ssl?, max?, schema?, listen? } }`: the same, from node-postgres
 *   `PoolConfig` fields passed through.
 *
 * By default the schema is migrated. Messages never echo the spec of a
 * network database, which may carry a password.
 */
export async function openKeyStore(spec: KeyStoreSpec, options: OpenKeyStoreOptions = {}): Promise<KeyStore> {
  if (typeof spec === 'object' && spec !== null && 'postgres' in spec) {
    return migrated(await PostgresKeyStore.open({ ...options.postgres, ...spec.postgres }), options);
  }
  if (typeof spec !== 'string' || spec.trim().length === 0) {
    throw new KmsError('ValidationException', 'key store spec must be a non-empty string');
  }
  let path = spec;
  if (spec.startsWith('sqlite:')) {
    path = spec.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path.length === 0) throw new KmsError('ValidationException', "key store spec 'sqlite:' names no file");
  } else {
    const scheme = SCHEME.exec(spec)?.[1]?.toLowerCase();
    if (scheme === 'postgres' || scheme === 'postgresql') {
      return migrated(await PostgresKeyStore.open({ ...options.postgres, connectionString: spec }), options);
    }
    if (scheme !== undefined) {
      throw new KmsError(
        'ValidationException',
        `unsupported key store scheme '${scheme}:'; use a SQLite file path, sqlite:<path> or postgres://...`,
      );
    }
  }
  return migrated(await SqliteKeyStore.open(path, options.sqlite), options);
}

/** Migrates a just-opened store unless told not to; closes it if that fails. */
async function migrated(store: KeyStore, options: OpenKeyStoreOptions): Promise<KeyStore> {
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}
