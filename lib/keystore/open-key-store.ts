/**
 * Opens a key store from a connection string, so that configuration (CLI
 * flags, environment) can name the backend.
 */
import { KmsError } from '../errors.js';
import type { KeyStore } from './key-store.js';
import { SqliteKeyStore, type SqliteKeyStoreOptions } from './sqlite-key-store.js';

/** Options of {@link openKeyStore}. */
export interface OpenKeyStoreOptions {
  /** Run {@link KeyStore.migrate} after opening (default `true`). */
  migrate?: boolean;
  /** Options for a SQLite store. */
  sqlite?: SqliteKeyStoreOptions;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/**
 * Opens a key store named by `spec`:
 * - a file path, or `sqlite:<path>` (also `sqlite://<absolute path>`): the
 *   embedded SQLite store, created if missing; `:memory:` for a throw-away one;
 * - `postgres://` / `postgresql://`: refused for now (`ValidationException`);
 *   the PostgreSQL backend comes later.
 *
 * By default the schema is migrated. Messages never echo the spec of a
 * network database, which may carry a password.
 */
export async function openKeyStore(spec: string, options: OpenKeyStoreOptions = {}): Promise<KeyStore> {
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
      throw new KmsError(
        'ValidationException',
        'PostgreSQL key stores are not supported by this version of hsmkms yet; use a SQLite file path or sqlite:<path>',
      );
    }
    if (scheme !== undefined) {
      throw new KmsError(
        'ValidationException',
        `unsupported key store scheme '${scheme}:'; use a SQLite file path or sqlite:<path>`,
      );
    }
  }
  const store = await SqliteKeyStore.open(path, options.sqlite);
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
