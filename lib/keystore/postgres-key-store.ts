/**
 * The key store for many nodes: PostgreSQL (or a PostgreSQL-wire distributed
 * SQL engine) through node-postgres, with a connection pool per instance.
 *
 * Every state change is one transaction that locks the key's row
 * (`SELECT ... FOR UPDATE`) before checking its row version, so two nodes
 * changing one key serialise and the stale one gets `ConflictException`:
 * no lost update. Each change bumps the store generation and sends a NOTIFY
 * hint in the same transaction (delivered on commit). Times the store stamps
 * (alias dates, lease expiry) come from the database clock, which all nodes
 * share. An unreachable database is `KeyUnavailableException`; reads retry
 * once on a fresh connection, and the pool reconnects by itself.
 */
import pg from 'pg';
import { KmsError } from '../errors.js';
import type {
  AliasListOptions,
  AliasPage,
  AliasRecord,
  AuditQuery,
  AuditRecord,
  DomainKeyRecord,
  DomainKeyState,
  JobRecord,
  JsonObject,
  KeyPage,
  KeyPatch,
  KeyRecord,
  KeyStore,
  KeyStoreChange,
  KeyStoreStats,
  KeyVersionCursor,
  KeyVersionPage,
  KeyVersionRecord,
  NewKeyRecord,
  PageOptions,
  StoredAuditRecord,
  Tag,
  TagPage,
} from './key-store.js';
import { isForeignKeyViolation, isUnavailable, isUniqueViolation, toKmsError } from './postgres-errors.js';
import { ChangeListener } from './postgres-listener.js';
import { migratePostgres, newerPostgresSchema, POSTGRES_SCHEMA_VERSION, readPostgresSchemaVersion } from './postgres-schema.js';
import {
  alreadyExists,
  checkAliasName,
  checkString,
  MAX_POLICY_LENGTH,
  checkAuditLimit,
  checkAuditRecord,
  checkBytes,
  checkDate,
  checkDomainKey,
  checkDomainKeyState,
  checkInt,
  checkJobName,
  checkJobState,
  checkKeyIdArg,
  checkKeyPatch,
  checkKeyVersion,
  checkLimit,
  checkNewKey,
  checkOwner,
  checkRowVersion,
  checkTagKeys,
  checkTags,
  checkTtl,
  conflict,
  decodeMarker,
  encodeMarker,
  invalid,
  notFound,
} from './record-checks.js';
import {
  aliasFromRow,
  auditFromRow,
  domainKeyFromRow,
  jobFromRow,
  keyFromRow,
  versionFromRow,
  type AliasRow,
  type AuditRow,
  type CmkRow,
  type DomainKeyRow,
  type JobRow,
  type TagRow,
  type VersionRow,
} from './store-rows.js';

/**
 * Options of {@link PostgresKeyStore.open}: node-postgres `PoolConfig` fields,
 * passed through as they are (`ssl` takes `true` or a `tls.connect` options
 * object: `ca`, `cert`, `key`, `rejectUnauthorized`...), plus `schema` and `listen`.
 */
export interface PostgresKeyStoreOptions
  extends Pick<
    pg.PoolConfig,
    | 'connectionString'
    | 'host'
    | 'port'
    | 'user'
    | 'password'
    | 'database'
    | 'ssl'
    | 'max'
    | 'connectionTimeoutMillis'
    | 'idleTimeoutMillis'
    | 'application_name'
  > {
  /**
   * The PostgreSQL schema to keep the tables in (created by migrate when
   * missing); default: the connection's own search path (usually `public`).
   * Lower-case letters, digits and `_`.
   */
  schema?: string;
  /** Keep a LISTEN connection for change hints while someone watches (default `true`). */
  listen?: boolean;
}

/** A parameter of a statement (arrays for `unnest` batches). */
type Param = string | number | boolean | Date | Buffer | null | readonly (string | number | Date | null)[];

/** Where statements go: the pool (one autocommit statement each) or one transaction's connection. */
interface Runner {
  q<R extends pg.QueryResultRow>(sql: string, params?: Param[]): Promise<pg.QueryResult<R>>;
}

/** Pooled connections that already have an 'error' listener (connections are reused). */
const guarded = new WeakSet<pg.PoolClient>();

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

function bytea(bytes: Uint8Array | null): Buffer | null {
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One transaction of a write: its statements, and the change it commits (for the generation bump). */
interface Tx extends Runner {
  /** Bumps the generation and sends a change hint, both committed with the transaction. */
  changed(change: Omit<KeyStoreChange, 'generation'>): Promise<void>;
}

const BUMP_SQL = `WITH g AS (UPDATE generation SET value = value + 1 WHERE id = 1 RETURNING value)
  SELECT pg_notify($1, json_build_object('generation', value, 'keyId', $2::text, 'aliasName', $3::text)::text) FROM g`;

/** The PostgreSQL-backed {@link KeyStore}. Open it with {@link PostgresKeyStore.open}. */
export class PostgresKeyStore implements KeyStore {
  #pool: pg.Pool | null;
  readonly #schema: string | null;
  readonly #channel: string;
  readonly #clientConfig: pg.ClientConfig;
  readonly #listen: boolean;
  readonly #watchers = new Set<(change: KeyStoreChange) => void>();
  #listener: ChangeListener | null = null;
  #queries = 0;
  readonly #calls: Record<string, number> = {};

  private constructor(config: pg.PoolConfig, schema: string | null, listen: boolean) {
    this.#clientConfig = config;
    this.#schema = schema;
    this.#channel = `hsmkms:${schema ?? 'default'}`;
    this.#listen = listen;
    this.#pool = new pg.Pool(config);
    // An idle connection that dies (server restart) must not end the process; the pool drops it.
    this.#pool.on('error', () => undefined);
  }

  /**
   * Opens a pool on the database (connections are made on first use).
   * `ValidationException` for bad options; messages never echo the
   * connection string or the password.
   */
  static async open(options: PostgresKeyStoreOptions): Promise<PostgresKeyStore> {
    if (options === null || typeof options !== 'object') throw invalid('PostgreSQL options must be an object');
    const { schema, listen, ...pool } = options;
    if (schema !== undefined && (typeof schema !== 'string' || !SCHEMA_NAME.test(schema))) {
      throw invalid('schema must be 1..63 lower-case letters, digits or _ (not starting with a digit)');
    }
    if (pool.max !== undefined) checkInt('max', pool.max, 1, 10_000);
    if (pool.connectionString !== undefined && typeof pool.connectionString !== 'string') {
      throw invalid('connectionString must be a string');
    }
    const config: pg.PoolConfig = {
      connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: 'hsmkms',
      ...pool,
      ...(schema !== undefined && { options: `-c search_path=${schema}` }),
    };
    try {
      return new PostgresKeyStore(config, schema ?? null, listen !== false);
    } catch {
      // node-postgres parses the connection string here; its errors may quote it.
      throw invalid('PostgreSQL connection options could not be parsed');
    }
  }

  // ---- plumbing -------------------------------------------------------------

  #database(): pg.Pool {
    if (this.#pool === null) throw new KmsError('KMSInternalException', 'key store is closed');
    return this.#pool;
  }

  #count(method: string): void {
    this.#calls[method] = (this.#calls[method] ?? 0) + 1;
  }

  /** A runner on `db` that counts what it sends. */
  #runner(db: pg.Pool | pg.PoolClient): Runner {
    return {
      q: <R extends pg.QueryResultRow>(sql: string, params: Param[] = []) => {
        this.#queries++;
        return db.query<R>(sql, params as unknown[]);
      },
    };
  }

  /**
   * Runs reads (or one self-contained statement) on the pool. With `retry`,
   * a failure of a dead pooled connection is retried once on a fresh one:
   * only for statements that are safe to run twice.
   */
  async #read<T>(method: string, fn: (db: Runner) => Promise<T>, retry = true): Promise<T> {
    this.#count(method);
    const db = this.#runner(this.#database());
    try {
      return await fn(db);
    } catch (error) {
      if (!retry || !isUnavailable(error) || this.#pool === null) throw toKmsError(error);
    }
    try {
      return await fn(db);
    } catch (error) {
      throw toKmsError(error);
    }
  }

  /** Runs `fn` in one transaction (rolled back if it throws). */
  async #write<T>(method: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.#count(method);
    const client = await this.#begin();
    const run = this.#runner(client);
    const tx: Tx = {
      q: run.q,
      changed: async (change) => {
        await run.q(BUMP_SQL, [this.#channel, change.keyId ?? null, change.aliasName ?? null]);
      },
    };
    let broken = false;
    try {
      const result = await fn(tx);
      await run.q('COMMIT');
      return result;
    } catch (error) {
      broken = isUnavailable(error);
      if (!broken) await run.q('ROLLBACK').catch(() => (broken = true));
      throw toKmsError(error);
    } finally {
      client.release(broken);
    }
  }

  /** A pooled connection inside BEGIN; a dead pooled connection is replaced once. */
  async #begin(): Promise<pg.PoolClient> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.#database().connect();
      } catch (error) {
        throw toKmsError(error);
      }
      // A connection lost while checked out (server restart) emits 'error' on the client;
      // unheard, it would end the process. The failing statement reports it instead.
      if (!guarded.has(client)) {
        guarded.add(client);
        client.on('error', () => undefined);
      }
      try {
        await this.#runner(client).q('BEGIN');
        return client;
      } catch (error) {
        client.release(true);
        if (attempt >= 2 || !isUnavailable(error)) throw toKmsError(error);
      }
    }
  }

  async #keyRow(db: Runner, keyId: string, lock = false): Promise<CmkRow | undefined> {
    const result = await db.q<CmkRow>(`SELECT * FROM cmks WHERE key_id = $1${lock ? ' FOR UPDATE' : ''}`, [keyId]);
    return result.rows[0];
  }

  async #requireKey(db: Runner, keyId: string, lock = false): Promise<CmkRow> {
    const row = await this.#keyRow(db, keyId, lock);
    if (row === undefined) throw notFound(`key ${keyId} does not exist`);
    return row;
  }

  async #domainKeyExists(db: Runner, version: number): Promise<boolean> {
    return (await db.q('SELECT 1 FROM domain_keys WHERE version = $1', [version])).rowCount === 1;
  }

  async #insertVersion(tx: Tx, v: KeyVersionRecord): Promise<void> {
    await tx.q(
      `INSERT INTO cmk_versions (key_id, version, created_at, domain_key_version, wrapped, public_key, rotation_type)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [v.keyId, v.version, v.createdAt, v.domainKeyVersion, bytea(v.wrapped), bytea(v.publicKey), v.rotationType],
    );
  }

  async #versionRow(db: Runner, keyId: string, version: number): Promise<VersionRow | undefined> {
    return (await db.q<VersionRow>('SELECT * FROM cmk_versions WHERE key_id = $1 AND version = $2', [keyId, version]))
      .rows[0];
  }

  // ---- lifecycle, stats and change hints ----------------------------------------

  /** {@inheritDoc KeyStore.migrate} */
  async migrate(): Promise<void> {
    await this.#write('migrate', async (tx) => {
      if (this.#schema !== null) {
        // Under the same lock as the migration, so nodes racing to create the schema do not collide.
        await tx.q(`SELECT pg_advisory_xact_lock(hashtextextended('hsmkms:migrate:' || $1, 0))`, [this.#schema]);
        await tx.q(`CREATE SCHEMA IF NOT EXISTS ${this.#schema}`);
      }
      await migratePostgres(tx);
    });
  }

  /** The schema version recorded in the database (0 before {@link PostgresKeyStore.migrate}). */
  async schemaVersion(): Promise<number> {
    return this.#read('schemaVersion', async (db) => {
      const found = await readPostgresSchemaVersion(db);
      if (found > POSTGRES_SCHEMA_VERSION) throw newerPostgresSchema(found);
      return found;
    });
  }

  /** {@inheritDoc KeyStore.close} */
  async close(): Promise<void> {
    const pool = this.#pool;
    if (pool === null) return;
    this.#pool = null;
    this.#watchers.clear();
    await this.#listener?.stop();
    this.#listener = null;
    await pool.end();
  }

  /**
   * {@inheritDoc KeyStore.stats}
   * Also says whether the LISTEN connection is up and how often it connected.
   */
  stats(): KeyStoreStats & { listening: boolean; listenConnects: number } {
    return {
      queries: this.#queries,
      calls: { ...this.#calls },
      listening: this.#listener?.connected ?? false,
      listenConnects: this.#listener?.connects ?? 0,
    };
  }

  /** {@inheritDoc KeyStore.watchChanges} */
  watchChanges(listener: (change: KeyStoreChange) => void): () => void {
    this.#database();
    this.#watchers.add(listener);
    if (this.#listen && this.#listener === null) {
      this.#listener = new ChangeListener(
        { ...this.#clientConfig, application_name: `hsmkms-listen:${process.pid}` },
        this.#channel,
        (change) => {
          for (const watcher of this.#watchers) watcher(change);
        },
      );
      this.#listener.start();
    }
    return () => {
      this.#watchers.delete(listener);
    };
  }

  /** {@inheritDoc KeyStore.generation} */
  async generation(): Promise<number> {
    return this.#read('generation', async (db) => {
      const result = await db.q<{ value: string }>('SELECT value FROM generation WHERE id = 1');
      return Number(result.rows[0]?.value);
    });
  }

  // ---- domain keys ----------------------------------------------------------

  /** {@inheritDoc KeyStore.addDomainKey} */
  async addDomainKey(record: DomainKeyRecord): Promise<DomainKeyRecord> {
    const r = checkDomainKey(record);
    return this.#write('addDomainKey', async (tx) => {
      const inserted = await tx.q<DomainKeyRow>(
        `INSERT INTO domain_keys (version, provider, reference, sealed, state, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (version) DO NOTHING RETURNING *`,
        [r.version, r.provider, r.reference, bytea(r.sealed), r.state, r.createdAt],
      );
      const row = inserted.rows[0];
      if (row === undefined) throw alreadyExists(`domain key version ${r.version} already exists`);
      await tx.changed({});
      return domainKeyFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.listDomainKeys} */
  async listDomainKeys(): Promise<DomainKeyRecord[]> {
    return this.#read('listDomainKeys', async (db) =>
      (await db.q<DomainKeyRow>('SELECT * FROM domain_keys ORDER BY version')).rows.map(domainKeyFromRow),
    );
  }

  /** {@inheritDoc KeyStore.setDomainKeyState} */
  async setDomainKeyState(version: number, state: DomainKeyState): Promise<DomainKeyRecord> {
    const v = checkInt('version', version, 1);
    const s = checkDomainKeyState(state);
    return this.#write('setDomainKeyState', async (tx) => {
      const row = (await tx.q<DomainKeyRow>('UPDATE domain_keys SET state = $1 WHERE version = $2 RETURNING *', [s, v])).rows[0];
      if (row === undefined) throw notFound(`domain key version ${v} does not exist`);
      await tx.changed({});
      return domainKeyFromRow(row);
    });
  }

  // ---- keys -----------------------------------------------------------------

  /** {@inheritDoc KeyStore.createKey} */
  async createKey(key: NewKeyRecord, firstVersion: KeyVersionRecord, tags: readonly Tag[] = []): Promise<KeyRecord> {
    const k: KeyRecord = { ...checkNewKey(key), rowVersion: 1 };
    const v = checkKeyVersion(k.keyId, firstVersion);
    if (v.version !== 1) throw invalid('the first version of a key must be version 1');
    // Repeated tag keys are refused by the tags table's primary key, inside the transaction.
    const t = checkTags(tags, false);
    return this.#write('createKey', async (tx) => {
      if (!(await this.#domainKeyExists(tx, v.domainKeyVersion))) {
        throw invalid(`domain key version ${v.domainKeyVersion} does not exist`);
      }
      const inserted = await tx.q<CmkRow>(
        `INSERT INTO cmks (key_id, description, key_spec, key_usage, key_state, creation_date, deletion_date,
           pending_window_in_days, primary_version, rotation_enabled, rotation_period_in_days, next_rotation_date,
           row_version, origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13)
         ON CONFLICT (key_id) DO NOTHING RETURNING *`,
        [
          k.keyId, k.description, k.keySpec, k.keyUsage, k.keyState, k.creationDate, k.deletionDate,
          k.pendingWindowInDays, k.primaryVersion, k.rotationEnabled, k.rotationPeriodInDays, k.nextRotationDate, k.origin,
        ],
      );
      const row = inserted.rows[0];
      if (row === undefined) throw alreadyExists(`key ${k.keyId} already exists`);
      await this.#insertVersion(tx, v);
      for (const tag of t) {
        try {
          await tx.q('INSERT INTO tags (key_id, tag_key, tag_value) VALUES ($1, $2, $3)', [k.keyId, tag.tagKey, tag.tagValue]);
        } catch (error) {
          if (isUniqueViolation(error)) throw invalid('tag keys must be unique');
          throw error;
        }
      }
      await tx.changed({ keyId: k.keyId });
      return keyFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.getKey} */
  async getKey(keyId: string): Promise<KeyRecord | null> {
    const id = checkKeyIdArg(keyId);
    return this.#read('getKey', async (db) => {
      const row = await this.#keyRow(db, id);
      return row === undefined ? null : keyFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.listKeys} */
  async listKeys(options: PageOptions = {}): Promise<KeyPage> {
    const limit = checkLimit(options.limit);
    const after = options.marker === undefined ? undefined : decodeMarker('keys', options.marker, ['number', 'string']);
    return this.#read('listKeys', async (db) => {
      const rows = (
        after === undefined
          ? await db.q<CmkRow>('SELECT * FROM cmks ORDER BY creation_date, key_id LIMIT $1', [limit + 1])
          : await db.q<CmkRow>(
              'SELECT * FROM cmks WHERE (creation_date, key_id) > ($1::timestamptz, $2::text) ORDER BY creation_date, key_id LIMIT $3',
              [new Date(after[0] as number), after[1] as string, limit + 1],
            )
      ).rows;
      const keys = rows.slice(0, limit).map(keyFromRow);
      const last = keys[keys.length - 1];
      return rows.length > limit && last !== undefined
        ? { keys, nextMarker: encodeMarker('keys', [last.creationDate.getTime(), last.keyId]) }
        : { keys };
    });
  }

  /** {@inheritDoc KeyStore.updateKey} */
  async updateKey(keyId: string, expectedRowVersion: number, patch: KeyPatch): Promise<KeyRecord> {
    const id = checkKeyIdArg(keyId);
    const expected = checkRowVersion(expectedRowVersion);
    const p = checkKeyPatch(patch);
    return this.#write('updateKey', async (tx) => {
      const db = tx;
      const row = await this.#requireKey(db, id, true);
      if (row.row_version !== expected) throw conflict(`key ${id} was changed concurrently; re-read it and retry`);
      const next: KeyRecord = { ...keyFromRow(row), ...p };
      if (p.primaryVersion !== undefined && (await this.#versionRow(db, id, p.primaryVersion)) === undefined) {
        throw invalid(`primaryVersion ${p.primaryVersion} does not exist for key ${id}`);
      }
      const updated = await tx.q<CmkRow>(
        `UPDATE cmks SET description = $2, key_state = $3, deletion_date = $4, pending_window_in_days = $5,
           primary_version = $6, rotation_enabled = $7, rotation_period_in_days = $8, next_rotation_date = $9,
           row_version = row_version + 1
         WHERE key_id = $1 AND row_version = $10 RETURNING *`,
        [
          id, next.description, next.keyState, next.deletionDate, next.pendingWindowInDays, next.primaryVersion,
          next.rotationEnabled, next.rotationPeriodInDays, next.nextRotationDate, expected,
        ],
      );
      const out = updated.rows[0];
      if (out === undefined) throw conflict(`key ${id} was changed concurrently; re-read it and retry`);
      await tx.changed({ keyId: id });
      return keyFromRow(out);
    });
  }

  /** {@inheritDoc KeyStore.deleteKey} */
  async deleteKey(keyId: string, expectedRowVersion?: number): Promise<void> {
    const id = checkKeyIdArg(keyId);
    const expected = expectedRowVersion === undefined ? undefined : checkRowVersion(expectedRowVersion);
    await this.#write('deleteKey', async (tx) => {
      const row = await this.#requireKey(tx, id, true);
      if (expected !== undefined && row.row_version !== expected) {
        throw conflict(`key ${id} was changed concurrently; re-read it and retry`);
      }
      // Versions, aliases and tags go with the key (ON DELETE CASCADE).
      await tx.q('DELETE FROM cmks WHERE key_id = $1', [id]);
      await tx.changed({ keyId: id });
    });
  }

  // ---- key versions ---------------------------------------------------------

  /** {@inheritDoc KeyStore.addKeyVersion} */
  async addKeyVersion(keyId: string, expectedRowVersion: number, version: KeyVersionRecord): Promise<KeyRecord> {
    const id = checkKeyIdArg(keyId);
    const expected = checkRowVersion(expectedRowVersion);
    const v = checkKeyVersion(id, version);
    return this.#write('addKeyVersion', async (tx) => {
      const db = tx;
      const row = await this.#requireKey(db, id, true);
      const newest = (
        await tx.q<{ newest: number | null }>('SELECT MAX(version) AS newest FROM cmk_versions WHERE key_id = $1', [id])
      ).rows[0]?.newest ?? 0;
      if (v.version <= newest) throw conflict(`version ${v.version} of key ${id} already exists; re-read and retry`);
      if (v.version !== newest + 1) throw invalid(`the next version of key ${id} must be ${newest + 1}`);
      if (!(await this.#domainKeyExists(db, v.domainKeyVersion))) {
        throw invalid(`domain key version ${v.domainKeyVersion} does not exist`);
      }
      if (row.row_version !== expected) throw conflict(`key ${id} was changed concurrently; re-read it and retry`);
      await this.#insertVersion(tx, v);
      const updated = await tx.q<CmkRow>(
        'UPDATE cmks SET primary_version = $1, row_version = row_version + 1 WHERE key_id = $2 AND row_version = $3 RETURNING *',
        [v.version, id, expected],
      );
      const out = updated.rows[0];
      if (out === undefined) throw conflict(`key ${id} was changed concurrently; re-read it and retry`);
      await tx.changed({ keyId: id });
      return keyFromRow(out);
    });
  }

  /** {@inheritDoc KeyStore.getKeyVersion} */
  async getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | null> {
    const id = checkKeyIdArg(keyId);
    const n = checkInt('version', version, 1);
    return this.#read('getKeyVersion', async (db) => {
      const row = await this.#versionRow(db, id, n);
      return row === undefined ? null : versionFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.listKeyVersions} */
  async listKeyVersions(keyId: string, options: PageOptions = {}): Promise<KeyVersionPage> {
    const id = checkKeyIdArg(keyId);
    const limit = checkLimit(options.limit);
    const after = options.marker === undefined ? 0 : (decodeMarker('versions', options.marker, ['number'])[0] as number);
    return this.#read('listKeyVersions', async (db) => {
      await this.#requireKey(db, id);
      const rows = (
        await db.q<VersionRow>('SELECT * FROM cmk_versions WHERE key_id = $1 AND version > $2 ORDER BY version LIMIT $3', [
          id,
          after,
          limit + 1,
        ])
      ).rows;
      const versions = rows.slice(0, limit).map(versionFromRow);
      const last = versions[versions.length - 1];
      return rows.length > limit && last !== undefined
        ? { versions, nextMarker: encodeMarker('versions', [last.version]) }
        : { versions };
    });
  }

  /** {@inheritDoc KeyStore.rewrapKeyVersion} */
  async rewrapKeyVersion(
    keyId: string,
    version: number,
    fromDomainVersion: number,
    toDomainVersion: number,
    wrapped: Uint8Array,
  ): Promise<boolean> {
    const id = checkKeyIdArg(keyId);
    const n = checkInt('version', version, 1);
    const from = checkInt('fromDomainVersion', fromDomainVersion, 1);
    const to = checkInt('toDomainVersion', toDomainVersion, 1);
    const bytes = checkBytes('wrapped', wrapped, 65_536);
    return this.#write('rewrapKeyVersion', async (tx) => {
      if (!(await this.#domainKeyExists(tx, to))) throw invalid(`domain key version ${to} does not exist`);
      const result = await tx.q(
        `UPDATE cmk_versions SET wrapped = $1, domain_key_version = $2
         WHERE key_id = $3 AND version = $4 AND domain_key_version = $5`,
        [bytea(bytes), to, id, n, from],
      );
      return result.rowCount === 1;
    });
  }

  /** {@inheritDoc KeyStore.listVersionsWrappedUnder} */
  async listVersionsWrappedUnder(domainVersion: number, limit: number, after?: KeyVersionCursor): Promise<KeyVersionRecord[]> {
    const d = checkInt('domainVersion', domainVersion, 1);
    const n = checkInt('limit', limit, 1, 1000);
    let cursor: [string, number] | undefined;
    if (after !== undefined) {
      if (typeof after !== 'object' || after === null) throw invalid('after must be an object');
      cursor = [checkKeyIdArg(after.keyId), checkInt('after.version', after.version, 0)];
    }
    return this.#read('listVersionsWrappedUnder', async (db) => {
      const result =
        cursor === undefined
          ? await db.q<VersionRow>('SELECT * FROM cmk_versions WHERE domain_key_version = $1 ORDER BY key_id, version LIMIT $2', [d, n])
          : await db.q<VersionRow>(
              `SELECT * FROM cmk_versions WHERE domain_key_version = $1 AND (key_id, version) > ($2::text, $3::integer)
               ORDER BY key_id, version LIMIT $4`,
              [d, cursor[0], cursor[1], n],
            );
      return result.rows.map(versionFromRow);
    });
  }

  /** {@inheritDoc KeyStore.countVersionsWrappedUnder} */
  async countVersionsWrappedUnder(domainVersion: number): Promise<number> {
    const d = checkInt('domainVersion', domainVersion, 1);
    return this.#read('countVersionsWrappedUnder', async (db) => {
      const result = await db.q<{ n: string }>('SELECT COUNT(*) AS n FROM cmk_versions WHERE domain_key_version = $1', [d]);
      return Number(result.rows[0]?.n ?? 0);
    });
  }

  // ---- aliases --------------------------------------------------------------

  async #aliasRow(db: Runner, aliasName: string): Promise<AliasRow | undefined> {
    return (await db.q<AliasRow>('SELECT * FROM aliases WHERE alias_name = $1', [aliasName])).rows[0];
  }

  /** {@inheritDoc KeyStore.createAlias} */
  async createAlias(aliasName: string, keyId: string): Promise<AliasRecord> {
    const name = checkAliasName(aliasName);
    const id = checkKeyIdArg(keyId);
    return this.#write('createAlias', async (tx) => {
      const db = tx;
      if ((await this.#aliasRow(db, name)) !== undefined) throw alreadyExists(`alias ${name} already exists`);
      await this.#requireKey(db, id, true);
      let row: AliasRow | undefined;
      try {
        row = (
          await tx.q<AliasRow>(
            `INSERT INTO aliases (alias_name, key_id, creation_date, last_updated_date) VALUES ($1, $2, now(), now())
             RETURNING *`,
            [name, id],
          )
        ).rows[0];
      } catch (error) {
        // Created by another node since the check above.
        if (isUniqueViolation(error)) throw alreadyExists(`alias ${name} already exists`);
        throw error;
      }
      await tx.changed({ aliasName: name });
      return aliasFromRow(row as AliasRow);
    });
  }

  /** {@inheritDoc KeyStore.updateAlias} */
  async updateAlias(aliasName: string, keyId: string): Promise<AliasRecord> {
    const name = checkAliasName(aliasName);
    const id = checkKeyIdArg(keyId);
    return this.#write('updateAlias', async (tx) => {
      const db = tx;
      if ((await this.#aliasRow(db, name)) === undefined) throw notFound(`alias ${name} does not exist`);
      await this.#requireKey(db, id, true);
      const row = (
        await tx.q<AliasRow>('UPDATE aliases SET key_id = $1, last_updated_date = now() WHERE alias_name = $2 RETURNING *', [
          id,
          name,
        ])
      ).rows[0];
      if (row === undefined) throw notFound(`alias ${name} does not exist`);
      await tx.changed({ aliasName: name });
      return aliasFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.deleteAlias} */
  async deleteAlias(aliasName: string): Promise<void> {
    const name = checkAliasName(aliasName);
    await this.#write('deleteAlias', async (tx) => {
      if ((await tx.q('DELETE FROM aliases WHERE alias_name = $1', [name])).rowCount === 0) {
        throw notFound(`alias ${name} does not exist`);
      }
      await tx.changed({ aliasName: name });
    });
  }

  /** {@inheritDoc KeyStore.getAlias} */
  async getAlias(aliasName: string): Promise<AliasRecord | null> {
    const name = checkAliasName(aliasName);
    return this.#read('getAlias', async (db) => {
      const row = await this.#aliasRow(db, name);
      return row === undefined ? null : aliasFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.listAliases} */
  async listAliases(options: AliasListOptions = {}): Promise<AliasPage> {
    const limit = checkLimit(options.limit);
    const keyId = options.keyId === undefined ? undefined : checkKeyIdArg(options.keyId);
    const after = options.marker === undefined ? '' : (decodeMarker('aliases', options.marker, ['string'])[0] as string);
    return this.#read('listAliases', async (db) => {
      let rows: AliasRow[];
      if (keyId === undefined) {
        rows = (await db.q<AliasRow>('SELECT * FROM aliases WHERE alias_name > $1 ORDER BY alias_name LIMIT $2', [after, limit + 1]))
          .rows;
      } else {
        await this.#requireKey(db, keyId);
        rows = (
          await db.q<AliasRow>('SELECT * FROM aliases WHERE key_id = $1 AND alias_name > $2 ORDER BY alias_name LIMIT $3', [
            keyId,
            after,
            limit + 1,
          ])
        ).rows;
      }
      const aliases = rows.slice(0, limit).map(aliasFromRow);
      const last = aliases[aliases.length - 1];
      return rows.length > limit && last !== undefined
        ? { aliases, nextMarker: encodeMarker('aliases', [last.aliasName]) }
        : { aliases };
    });
  }

  // ---- tags -----------------------------------------------------------------

  /** {@inheritDoc KeyStore.tagResource} */
  async tagResource(keyId: string, tags: readonly Tag[]): Promise<void> {
    const id = checkKeyIdArg(keyId);
    const t = checkTags(tags, true);
    await this.#write('tagResource', async (tx) => {
      await this.#requireKey(tx, id, true);
      for (const tag of t) {
        await tx.q(
          `INSERT INTO tags (key_id, tag_key, tag_value) VALUES ($1, $2, $3)
           ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value`,
          [id, tag.tagKey, tag.tagValue],
        );
      }
      await tx.changed({ keyId: id });
    });
  }

  /** {@inheritDoc KeyStore.untagResource} */
  async untagResource(keyId: string, tagKeys: readonly string[]): Promise<void> {
    const id = checkKeyIdArg(keyId);
    const keys = checkTagKeys(tagKeys);
    await this.#write('untagResource', async (tx) => {
      await this.#requireKey(tx, id, true);
      for (const tagKey of keys) await tx.q('DELETE FROM tags WHERE key_id = $1 AND tag_key = $2', [id, tagKey]);
      await tx.changed({ keyId: id });
    });
  }

  /** {@inheritDoc KeyStore.listResourceTags} */
  async listResourceTags(keyId: string, options: PageOptions = {}): Promise<TagPage> {
    const id = checkKeyIdArg(keyId);
    const limit = checkLimit(options.limit);
    const after = options.marker === undefined ? '' : (decodeMarker('tags', options.marker, ['string'])[0] as string);
    return this.#read('listResourceTags', async (db) => {
      await this.#requireKey(db, id);
      const rows = (
        await db.q<TagRow>('SELECT tag_key, tag_value FROM tags WHERE key_id = $1 AND tag_key > $2 ORDER BY tag_key LIMIT $3', [
          id,
          after,
          limit + 1,
        ])
      ).rows;
      const tags = rows.slice(0, limit).map((r) => ({ tagKey: r.tag_key, tagValue: r.tag_value }));
      const last = tags[tags.length - 1];
      return rows.length > limit && last !== undefined ? { tags, nextMarker: encodeMarker('tags', [last.tagKey]) } : { tags };
    });
  }

  // ---- key policies ---------------------------------------------------------

  /** {@inheritDoc KeyStore.putKeyPolicy} */
  async putKeyPolicy(keyId: string, policy: string): Promise<void> {
    const id = checkKeyIdArg(keyId);
    const text = checkString('policy', policy, 1, MAX_POLICY_LENGTH);
    await this.#write('putKeyPolicy', async (tx) => {
      await this.#requireKey(tx, id, true);
      await tx.q(
        `INSERT INTO key_policies (key_id, policy) VALUES ($1, $2)
         ON CONFLICT (key_id) DO UPDATE SET policy = excluded.policy`,
        [id, text],
      );
      await tx.changed({ keyId: id });
    });
  }

  /** {@inheritDoc KeyStore.getKeyPolicy} */
  async getKeyPolicy(keyId: string): Promise<string | null> {
    const id = checkKeyIdArg(keyId);
    return this.#read('getKeyPolicy', async (db) => {
      await this.#requireKey(db, id);
      const row = (await db.q<{ policy: string }>('SELECT policy FROM key_policies WHERE key_id = $1', [id])).rows[0];
      return row?.policy ?? null;
    });
  }

  // ---- audit ----------------------------------------------------------------

  /** {@inheritDoc KeyStore.appendAudit} */
  async appendAudit(records: readonly AuditRecord[]): Promise<number[]> {
    if (!Array.isArray(records)) throw invalid('records must be an array');
    const checked = records.map(checkAuditRecord);
    if (checked.length === 0) return [];
    // One statement for the whole batch (unnest keeps the order; identity ids increase with it).
    return this.#write('appendAudit', async (tx) => {
      const result = await tx.q<{ id: string }>(
        `INSERT INTO audit_log (time, operation, key_id, key_version, context_keys, outcome, error_code, principal)
         SELECT time, operation, key_id, key_version, context_keys, outcome, error_code, principal FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[], $8::text[])
           WITH ORDINALITY AS r(time, operation, key_id, key_version, context_keys, outcome, error_code, principal, n)
         ORDER BY n
         RETURNING id`,
        [
          checked.map((r) => r.time),
          checked.map((r) => r.operation),
          checked.map((r) => r.keyId),
          checked.map((r) => r.keyVersion),
          checked.map((r) => JSON.stringify(r.contextKeys)),
          checked.map((r) => r.outcome),
          checked.map((r) => r.errorCode),
          checked.map((r) => r.principal),
        ],
      );
      return result.rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    });
  }

  /** {@inheritDoc KeyStore.readAudit} */
  async readAudit(query: AuditQuery = {}): Promise<StoredAuditRecord[]> {
    if (typeof query !== 'object' || query === null) throw invalid('query must be an object');
    const where: string[] = [];
    const params: Param[] = [];
    if (query.since !== undefined) {
      params.push(checkDate('since', query.since));
      where.push(`time >= $${params.length}`);
    }
    if (query.afterId !== undefined) {
      params.push(checkInt('afterId', query.afterId, 0));
      where.push(`id > $${params.length}`);
    }
    if (query.keyId !== undefined) {
      params.push(checkKeyIdArg(query.keyId));
      where.push(`key_id = $${params.length}`);
    }
    params.push(checkAuditLimit(query.limit));
    const sql = `SELECT * FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $${params.length}`;
    return this.#read('readAudit', async (db) => (await db.q<AuditRow>(sql, params)).rows.map(auditFromRow));
  }

  // ---- jobs and leases ------------------------------------------------------

  /** {@inheritDoc KeyStore.getJob} */
  async getJob(name: string): Promise<JobRecord | null> {
    const n = checkJobName(name);
    return this.#read('getJob', async (db) => {
      const row = (await db.q<JobRow>('SELECT * FROM jobs WHERE name = $1', [n])).rows[0];
      return row === undefined ? null : jobFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.saveJob} */
  async saveJob(name: string, state: JsonObject, expectedRowVersion: number | null): Promise<JobRecord> {
    const n = checkJobName(name);
    const text = checkJobState(state);
    const expected = expectedRowVersion === null ? 0 : checkInt('expectedRowVersion', expectedRowVersion, 0);
    // One compare-and-set statement: at 0, insert (or fill a lease-only row); else update at the expected version.
    const sql =
      expected === 0
        ? `INSERT INTO jobs (name, state, row_version, lease_owner, lease_expires_at) VALUES ($1, $2, 1, NULL, NULL)
           ON CONFLICT (name) DO UPDATE SET state = excluded.state, row_version = jobs.row_version + 1
             WHERE jobs.row_version = 0
           RETURNING *`
        : 'UPDATE jobs SET state = $2, row_version = row_version + 1 WHERE name = $1 AND row_version = $3 RETURNING *';
    const row = await this.#read(
      'saveJob',
      async (db) => (await db.q<JobRow>(sql, expected === 0 ? [n, text] : [n, text, expected])).rows[0],
      false,
    );
    if (row === undefined) throw conflict(`job ${n} was saved concurrently; re-read it and retry`);
    return jobFromRow(row);
  }

  /** {@inheritDoc KeyStore.acquireLease} */
  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const n = checkJobName(name);
    const o = checkOwner(owner);
    const ttl = checkTtl(ttlMs);
    return this.#read('acquireLease', async (db) => {
      const result = await db.q(
        `INSERT INTO jobs (name, state, row_version, lease_owner, lease_expires_at)
         VALUES ($1, NULL, 0, $2, clock_timestamp() + $3::integer * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_expires_at = excluded.lease_expires_at
           WHERE jobs.lease_owner IS NULL OR jobs.lease_owner = $2 OR jobs.lease_expires_at <= clock_timestamp()
         RETURNING 1`,
        [n, o, ttl],
      );
      return result.rowCount === 1;
    });
  }

  /** {@inheritDoc KeyStore.takeOverLease} */
  async takeOverLease(name: string, staleOwner: string, owner: string, ttlMs: number): Promise<boolean> {
    const n = checkJobName(name);
    const stale = checkOwner(staleOwner);
    const o = checkOwner(owner);
    // Not retried: after a lost reply, a retry would report failure for what the first try did.
    const ttl = checkTtl(ttlMs);
    return this.#read('takeOverLease', async (db) => {
      const result = await db.q(
        `UPDATE jobs SET lease_owner = $1, lease_expires_at = clock_timestamp() + $2::integer * interval '1 millisecond'
         WHERE name = $3 AND lease_owner = $4`,
        [o, ttl, n, stale],
      );
      return result.rowCount === 1;
    }, false);
  }

  /** {@inheritDoc KeyStore.releaseLease} */
  async releaseLease(name: string, owner: string): Promise<boolean> {
    const n = checkJobName(name);
    // Not retried: after a lost reply, a retry would report failure for what the first try did.
    const o = checkOwner(owner);
    return this.#read('releaseLease', async (db) => {
      const result = await db.q('UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE name = $1 AND lease_owner = $2', [
        n,
        o,
      ]);
      return result.rowCount === 1;
    }, false);
  }
}
