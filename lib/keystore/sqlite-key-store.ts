/**
 * The embedded key store: SQLite through better-sqlite3 (WAL,
 * synchronous=FULL, foreign keys on). better-sqlite3 is synchronous; its calls
 * here are short, and the {@link KeyStore} interface stays async so that a
 * network database fits behind the same API.
 *
 * Every state change runs in one `BEGIN IMMEDIATE` transaction, so two
 * processes writing the same file serialise on SQLite's write lock (waiting up
 * to `busyTimeoutMs`) instead of failing with a stale snapshot; lost updates
 * are prevented by the row-version checks inside those transactions.
 */
import { closeSync, constants as fsConstants, fchmodSync, chmodSync, mkdirSync, openSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
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
  KeySpec,
  KeyState,
  KeyStore,
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
import {
  alreadyExists,
  checkAliasName,
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
  ownBytes,
  parseJobState,
  checkString,
  MAX_POLICY_LENGTH,
} from './record-checks.js';
import { AuditWorkerError, SqliteAuditAppender } from './sqlite-audit-appender.js';
import type { AuditInsertRow } from './sqlite-audit-worker.js';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './sqlite-schema.js';
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

/** Options of {@link SqliteKeyStore.open}. */
export interface SqliteKeyStoreOptions {
  /** How long a write waits for another connection's write lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
  /** The clock for times the store stamps itself (alias dates, lease expiry); default `Date.now`. */
  now?: () => number;
}

/** What {@link SqliteKeyStore.diagnostics} reports, read back from SQLite itself. */
export interface SqliteDiagnostics {
  /** The database file (absolute), or `:memory:`. */
  path: string;
  /** `PRAGMA journal_mode`: `wal` for a file. */
  journalMode: string;
  /** `PRAGMA synchronous` by name: `FULL`. */
  synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
  /** `PRAGMA foreign_keys`. */
  foreignKeys: boolean;
  /** `PRAGMA busy_timeout`, in milliseconds. */
  busyTimeoutMs: number;
  /** The schema version recorded in the file (0 before {@link SqliteKeyStore.migrate}). */
  schemaVersion: number;
}

type Statement = Database.Statement<unknown[], unknown>;

const SYNCHRONOUS_NAMES = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;

const CREATE_SCHEMA_VERSION = `CREATE TABLE IF NOT EXISTS schema_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT`;

function msOrNull(date: Date | null): number | null {
  return date === null ? null : date.getTime();
}

function keyParams(k: KeyRecord): Record<string, string | number | null> {
  return {
    keyId: k.keyId,
    description: k.description,
    keySpec: k.keySpec,
    keyUsage: k.keyUsage,
    keyState: k.keyState,
    creationDate: k.creationDate.getTime(),
    deletionDate: msOrNull(k.deletionDate),
    pendingWindowInDays: k.pendingWindowInDays,
    primaryVersion: k.primaryVersion,
    rotationEnabled: k.rotationEnabled ? 1 : 0,
    rotationPeriodInDays: k.rotationPeriodInDays,
    nextRotationDate: msOrNull(k.nextRotationDate),
    rowVersion: k.rowVersion,
    origin: k.origin,
  };
}

function sqliteCode(error: unknown): string | undefined {
  return error instanceof Database.SqliteError || error instanceof AuditWorkerError ? error.code : undefined;
}

function isUniqueViolation(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Turns a database failure into a `KmsError`; `KmsError`s and programming errors pass unchanged. */
function toKmsError(error: unknown): unknown {
  if (error instanceof KmsError) return error;
  if (error instanceof Database.SqliteError || error instanceof AuditWorkerError) {
    const code = error.code ?? '';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      return new KmsError(
        'KMSInternalException',
        'key store database is busy: another connection held the write lock longer than busyTimeoutMs',
        { cause: error },
      );
    }
    if (error.message.startsWith('no such table')) {
      return new KmsError('KMSInternalException', 'key store has no schema yet: run migrate()', { cause: error });
    }
    return new KmsError('KMSInternalException', `key store database error (${error.code}): ${error.message}`, {
      cause: error,
    });
  }
  return error;
}

function newerSchema(found: number): KmsError {
  return new KmsError(
    'UnsupportedRuntimeException',
    `key store schema version ${found} is newer than this version of hsmkms understands (${SQLITE_SCHEMA_VERSION}); upgrade hsmkms`,
  );
}

function readSchemaVersion(db: Database.Database): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (table === undefined) return 0;
  const row = db.prepare('SELECT version FROM schema_version WHERE id = 1').get() as { version: number } | undefined;
  return row?.version ?? 0;
}

/** Creates missing parent directories (0700) and the file itself (0600), leaving existing ones alone. */
function prepareFile(file: string): void {
  const dir = dirname(file);
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first !== undefined) {
    // The umask may have masked the mode: set it on every directory made here.
    let current = first;
    chmodSync(current, 0o700);
    for (const part of relative(first, dir).split(sep).filter(Boolean)) {
      current = resolve(current, part);
      chmodSync(current, 0o700);
    }
  }
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_RDWR, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}

/** The SQLite-backed {@link KeyStore}. Open it with {@link SqliteKeyStore.open}. */
export class SqliteKeyStore implements KeyStore {
  /** The database file (absolute), or `:memory:`. */
  readonly path: string;
  #db: Database.Database | null;
  readonly #statements = new Map<string, Statement>();
  readonly #now: () => number;
  /** Audit batches go to a worker thread (file databases; `:memory:` has one connection only). */
  readonly #audit: SqliteAuditAppender | null;

  private constructor(db: Database.Database, path: string, now: () => number, busyTimeoutMs: number) {
    this.#db = db;
    this.path = path;
    this.#now = now;
    this.#audit = path === ':memory:' ? null : new SqliteAuditAppender(path, busyTimeoutMs);
  }

  /**
   * Opens (creating if needed) a store at `path`, or an in-memory one for
   * `:memory:`. Missing parent directories are created with mode 0700 and a
   * new file with mode 0600. Sets WAL, synchronous=FULL, foreign keys and
   * the busy timeout. Does not migrate: call {@link SqliteKeyStore.migrate}
   * (the `openKeyStore` helper does). Rejects with `UnsupportedRuntimeException`
   * if the file's schema is newer than this code.
   */
  static async open(path: string, options: SqliteKeyStoreOptions = {}): Promise<SqliteKeyStore> {
    if (typeof path !== 'string' || path.length === 0) throw invalid('path must be a non-empty string');
    const busyTimeoutMs =
      options.busyTimeoutMs === undefined ? 5000 : checkInt('busyTimeoutMs', options.busyTimeoutMs, 0, 600_000);
    const now = options.now ?? Date.now;
    const memory = path === ':memory:';
    const file = memory ? path : resolve(path);
    let db: Database.Database;
    try {
      if (!memory) prepareFile(file);
      db = new Database(file);
    } catch (error) {
      const reason = sqliteCode(error) ?? (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new KmsError('KMSInternalException', `cannot open key store database ${file} (${reason})`, {
        cause: error,
      });
    }
    try {
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!memory && mode !== 'wal') {
        throw new KmsError('KMSInternalException', `key store database ${file} cannot use WAL (journal mode ${String(mode)})`);
      }
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      const found = readSchemaVersion(db);
      if (found > SQLITE_SCHEMA_VERSION) throw newerSchema(found);
    } catch (error) {
      db.close();
      throw toKmsError(error);
    }
    return new SqliteKeyStore(db, file, now, busyTimeoutMs);
  }

  // ---- plumbing -------------------------------------------------------------

  #database(): Database.Database {
    if (this.#db === null) throw new KmsError('KMSInternalException', 'key store is closed');
    return this.#db;
  }

  #stmt(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#database().prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `fn` and maps database failures to `KmsError`s. */
  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw toKmsError(error);
    }
  }

  /** Runs `fn` in one `BEGIN IMMEDIATE` transaction (rolled back if it throws). */
  #write<T>(fn: () => T): T {
    return this.#guard(() => this.#database().transaction(fn).immediate());
  }

  #bumpGeneration(): void {
    this.#stmt('UPDATE generation SET value = value + 1 WHERE id = 1').run();
  }

  #keyRow(keyId: string): CmkRow | undefined {
    return this.#stmt('SELECT * FROM cmks WHERE key_id = ?').get(keyId) as CmkRow | undefined;
  }

  #requireKey(keyId: string): CmkRow {
    const row = this.#keyRow(keyId);
    if (row === undefined) throw notFound(`key ${keyId} does not exist`);
    return row;
  }

  #domainKeyExists(version: number): boolean {
    return this.#stmt('SELECT 1 FROM domain_keys WHERE version = ?').get(version) !== undefined;
  }

  #insertVersion(v: KeyVersionRecord): void {
    this.#stmt(
      `INSERT INTO cmk_versions (key_id, version, created_at, domain_key_version, wrapped, public_key, rotation_type)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(v.keyId, v.version, v.createdAt.getTime(), v.domainKeyVersion, v.wrapped, v.publicKey, v.rotationType);
  }

  // ---- lifecycle ------------------------------------------------------------

  /** {@inheritDoc KeyStore.migrate} */
  async migrate(): Promise<void> {
    this.#write(() => {
      const db = this.#database();
      db.exec(CREATE_SCHEMA_VERSION);
      const current = readSchemaVersion(db);
      if (current > SQLITE_SCHEMA_VERSION) throw newerSchema(current);
      if (current === SQLITE_SCHEMA_VERSION) return;
      for (const migration of SQLITE_MIGRATIONS) {
        if (migration.version <= current) continue;
        for (const sql of migration.statements) db.exec(sql);
      }
      db.prepare(
        'INSERT INTO schema_version (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version',
      ).run(SQLITE_SCHEMA_VERSION);
    });
  }

  /** {@inheritDoc KeyStore.close} */
  async close(): Promise<void> {
    const db = this.#db;
    if (db === null) return;
    this.#db = null;
    await this.#audit?.close();
    this.#statements.clear();
    db.close();
  }

  /** Reads the connection's settings back from SQLite (for tests and `doctor`-style checks). */
  async diagnostics(): Promise<SqliteDiagnostics> {
    return this.#guard(() => {
      const db = this.#database();
      const synchronous = db.pragma('synchronous', { simple: true }) as number;
      return {
        path: this.path,
        journalMode: String(db.pragma('journal_mode', { simple: true })),
        synchronous: SYNCHRONOUS_NAMES[synchronous] ?? 'OFF',
        foreignKeys: db.pragma('foreign_keys', { simple: true }) === 1,
        busyTimeoutMs: db.pragma('busy_timeout', { simple: true }) as number,
        schemaVersion: readSchemaVersion(db),
      };
    });
  }

  /** {@inheritDoc KeyStore.generation} */
  async generation(): Promise<number> {
    return this.#guard(() => (this.#stmt('SELECT value FROM generation WHERE id = 1').get() as { value: number }).value);
  }

  // ---- domain keys ----------------------------------------------------------

  /** {@inheritDoc KeyStore.addDomainKey} */
  async addDomainKey(record: DomainKeyRecord): Promise<DomainKeyRecord> {
    const r = checkDomainKey(record);
    return this.#write(() => {
      if (this.#domainKeyExists(r.version)) throw alreadyExists(`domain key version ${r.version} already exists`);
      this.#stmt(
        'INSERT INTO domain_keys (version, provider, reference, sealed, state, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(r.version, r.provider, r.reference, r.sealed, r.state, r.createdAt.getTime());
      this.#bumpGeneration();
      return domainKeyFromRow(this.#stmt('SELECT * FROM domain_keys WHERE version = ?').get(r.version) as DomainKeyRow);
    });
  }

  /** {@inheritDoc KeyStore.listDomainKeys} */
  async listDomainKeys(): Promise<DomainKeyRecord[]> {
    return this.#guard(() =>
      (this.#stmt('SELECT * FROM domain_keys ORDER BY version').all() as DomainKeyRow[]).map(domainKeyFromRow),
    );
  }

  /** {@inheritDoc KeyStore.setDomainKeyState} */
  async setDomainKeyState(version: number, state: DomainKeyState): Promise<DomainKeyRecord> {
    const v = checkInt('version', version, 1);
    const s = checkDomainKeyState(state);
    return this.#write(() => {
      const changed = this.#stmt('UPDATE domain_keys SET state = ? WHERE version = ?').run(s, v).changes;
      if (changed === 0) throw notFound(`domain key version ${v} does not exist`);
      this.#bumpGeneration();
      return domainKeyFromRow(this.#stmt('SELECT * FROM domain_keys WHERE version = ?').get(v) as DomainKeyRow);
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
    return this.#write(() => {
      if (this.#keyRow(k.keyId) !== undefined) throw alreadyExists(`key ${k.keyId} already exists`);
      if (!this.#domainKeyExists(v.domainKeyVersion)) {
        throw invalid(`domain key version ${v.domainKeyVersion} does not exist`);
      }
      this.#stmt(
        `INSERT INTO cmks (key_id, description, key_spec, key_usage, key_state, creation_date, deletion_date,
           pending_window_in_days, primary_version, rotation_enabled, rotation_period_in_days, next_rotation_date,
           row_version, origin)
         VALUES (@keyId, @description, @keySpec, @keyUsage, @keyState, @creationDate, @deletionDate,
           @pendingWindowInDays, @primaryVersion, @rotationEnabled, @rotationPeriodInDays, @nextRotationDate,
           @rowVersion, @origin)`,
      ).run(keyParams(k));
      this.#insertVersion(v);
      const insertTag = this.#stmt('INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?, ?, ?)');
      for (const tag of t) {
        try {
          insertTag.run(k.keyId, tag.tagKey, tag.tagValue);
        } catch (error) {
          if (isUniqueViolation(error)) throw invalid('tag keys must be unique');
          throw error;
        }
      }
      this.#bumpGeneration();
      return keyFromRow(this.#requireKey(k.keyId));
    });
  }

  /** {@inheritDoc KeyStore.getKey} */
  async getKey(keyId: string): Promise<KeyRecord | null> {
    const id = checkKeyIdArg(keyId);
    return this.#guard(() => {
      const row = this.#keyRow(id);
      return row === undefined ? null : keyFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.listKeys} */
  async listKeys(options: PageOptions = {}): Promise<KeyPage> {
    const limit = checkLimit(options.limit);
    const after = options.marker === undefined ? undefined : decodeMarker('keys', options.marker, ['number', 'string']);
    return this.#guard(() => {
      const rows = (
        after === undefined
          ? this.#stmt('SELECT * FROM cmks ORDER BY creation_date, key_id LIMIT ?').all(limit + 1)
          : this.#stmt(
              'SELECT * FROM cmks WHERE (creation_date, key_id) > (?, ?) ORDER BY creation_date, key_id LIMIT ?',
            ).all(after[0], after[1], limit + 1)
      ) as CmkRow[];
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
    return this.#write(() => {
      const row = this.#requireKey(id);
      if (row.row_version !== expected) throw conflict(`key ${id} was changed concurrently; re-read it and retry`);
      const next: KeyRecord = { ...keyFromRow(row), ...p };
      if (p.primaryVersion !== undefined && this.#versionRow(id, p.primaryVersion) === undefined) {
        throw invalid(`primaryVersion ${p.primaryVersion} does not exist for key ${id}`);
      }
      const changed = this.#stmt(
        `UPDATE cmks SET description = @description, key_state = @keyState, deletion_date = @deletionDate,
           pending_window_in_days = @pendingWindowInDays, primary_version = @primaryVersion,
           rotation_enabled = @rotationEnabled, rotation_period_in_days = @rotationPeriodInDays,
           next_rotation_date = @nextRotationDate, row_version = row_version + 1
         WHERE key_id = @keyId AND row_version = @rowVersion`,
      ).run({
        keyId: id,
        description: next.description,
        keyState: next.keyState,
        deletionDate: msOrNull(next.deletionDate),
        pendingWindowInDays: next.pendingWindowInDays,
        primaryVersion: next.primaryVersion,
        rotationEnabled: next.rotationEnabled ? 1 : 0,
        rotationPeriodInDays: next.rotationPeriodInDays,
        nextRotationDate: msOrNull(next.nextRotationDate),
        rowVersion: expected,
      }).changes;
      if (changed !== 1) throw conflict(`key ${id} was changed concurrently; re-read it and retry`);
      this.#bumpGeneration();
      return keyFromRow(this.#requireKey(id));
    });
  }

  /** {@inheritDoc KeyStore.deleteKey} */
  async deleteKey(keyId: string, expectedRowVersion?: number): Promise<void> {
    const id = checkKeyIdArg(keyId);
    const expected = expectedRowVersion === undefined ? undefined : checkRowVersion(expectedRowVersion);
    this.#write(() => {
      const row = this.#requireKey(id);
      if (expected !== undefined && row.row_version !== expected) {
        throw conflict(`key ${id} was changed concurrently; re-read it and retry`);
      }
      this.#stmt('DELETE FROM tags WHERE key_id = ?').run(id);
      this.#stmt('DELETE FROM key_policies WHERE key_id = ?').run(id);
      this.#stmt('DELETE FROM aliases WHERE key_id = ?').run(id);
      this.#stmt('DELETE FROM cmk_versions WHERE key_id = ?').run(id);
      this.#stmt('DELETE FROM cmks WHERE key_id = ?').run(id);
      this.#bumpGeneration();
    });
  }

  // ---- key versions ---------------------------------------------------------

  #versionRow(keyId: string, version: number): VersionRow | undefined {
    return this.#stmt('SELECT * FROM cmk_versions WHERE key_id = ? AND version = ?').get(keyId, version) as
      | VersionRow
      | undefined;
  }

  /** {@inheritDoc KeyStore.addKeyVersion} */
  async addKeyVersion(keyId: string, expectedRowVersion: number, version: KeyVersionRecord): Promise<KeyRecord> {
    const id = checkKeyIdArg(keyId);
    const expected = checkRowVersion(expectedRowVersion);
    const v = checkKeyVersion(id, version);
    return this.#write(() => {
      this.#requireKey(id);
      const newest = (
        this.#stmt('SELECT MAX(version) AS newest FROM cmk_versions WHERE key_id = ?').get(id) as {
          newest: number | null;
        }
      ).newest ?? 0;
      if (v.version <= newest) throw conflict(`version ${v.version} of key ${id} already exists; re-read and retry`);
      if (v.version !== newest + 1) throw invalid(`the next version of key ${id} must be ${newest + 1}`);
      if (!this.#domainKeyExists(v.domainKeyVersion)) {
        throw invalid(`domain key version ${v.domainKeyVersion} does not exist`);
      }
      // Insert first, then promote under the row-version check: a stale
      // caller rolls the insert back with the rest of the transaction.
      this.#insertVersion(v);
      const changed = this.#stmt(
        'UPDATE cmks SET primary_version = ?, row_version = row_version + 1 WHERE key_id = ? AND row_version = ?',
      ).run(v.version, id, expected).changes;
      if (changed !== 1) throw conflict(`key ${id} was changed concurrently; re-read it and retry`);
      this.#bumpGeneration();
      return keyFromRow(this.#requireKey(id));
    });
  }

  /** {@inheritDoc KeyStore.getKeyVersion} */
  async getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | null> {
    const id = checkKeyIdArg(keyId);
    const n = checkInt('version', version, 1);
    return this.#guard(() => {
      const row = this.#versionRow(id, n);
      return row === undefined ? null : versionFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.listKeyVersions} */
  async listKeyVersions(keyId: string, options: PageOptions = {}): Promise<KeyVersionPage> {
    const id = checkKeyIdArg(keyId);
    const limit = checkLimit(options.limit);
    const after = options.marker === undefined ? 0 : (decodeMarker('versions', options.marker, ['number'])[0] as number);
    return this.#guard(() => {
      this.#requireKey(id);
      const rows = this.#stmt(
        'SELECT * FROM cmk_versions WHERE key_id = ? AND version > ? ORDER BY version LIMIT ?',
      ).all(id, after, limit + 1) as VersionRow[];
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
    return this.#write(() => {
      if (!this.#domainKeyExists(to)) throw invalid(`domain key version ${to} does not exist`);
      return (
        this.#stmt(
          `UPDATE cmk_versions SET wrapped = ?, domain_key_version = ?
           WHERE key_id = ? AND version = ? AND domain_key_version = ?`,
        ).run(bytes, to, id, n, from).changes === 1
      );
    });
  }

  /** {@inheritDoc KeyStore.listVersionsWrappedUnder} */
  async listVersionsWrappedUnder(
    domainVersion: number,
    limit: number,
    after?: KeyVersionCursor,
  ): Promise<KeyVersionRecord[]> {
    const d = checkInt('domainVersion', domainVersion, 1);
    const n = checkInt('limit', limit, 1, 1000);
    let cursor: [string, number] | undefined;
    if (after !== undefined) {
      if (typeof after !== 'object' || after === null) throw invalid('after must be an object');
      cursor = [checkKeyIdArg(after.keyId), checkInt('after.version', after.version, 0)];
    }
    return this.#guard(() => {
      const rows = (
        cursor === undefined
          ? this.#stmt('SELECT * FROM cmk_versions WHERE domain_key_version = ? ORDER BY key_id, version LIMIT ?').all(
              d,
              n,
            )
          : this.#stmt(
              `SELECT * FROM cmk_versions WHERE domain_key_version = ? AND (key_id, version) > (?, ?)
               ORDER BY key_id, version LIMIT ?`,
            ).all(d, cursor[0], cursor[1], n)
      ) as VersionRow[];
      return rows.map(versionFromRow);
    });
  }

  /** {@inheritDoc KeyStore.countVersionsWrappedUnder} */
  async countVersionsWrappedUnder(domainVersion: number): Promise<number> {
    const d = checkInt('domainVersion', domainVersion, 1);
    return this.#guard(
      () =>
        (this.#stmt('SELECT COUNT(*) AS n FROM cmk_versions WHERE domain_key_version = ?').get(d) as { n: number }).n,
    );
  }

  // ---- aliases --------------------------------------------------------------

  #aliasRow(aliasName: string): AliasRow | undefined {
    return this.#stmt('SELECT * FROM aliases WHERE alias_name = ?').get(aliasName) as AliasRow | undefined;
  }

  /** {@inheritDoc KeyStore.createAlias} */
  async createAlias(aliasName: string, keyId: string): Promise<AliasRecord> {
    const name = checkAliasName(aliasName);
    const id = checkKeyIdArg(keyId);
    return this.#write(() => {
      if (this.#aliasRow(name) !== undefined) throw alreadyExists(`alias ${name} already exists`);
      this.#requireKey(id);
      const now = this.#now();
      this.#stmt('INSERT INTO aliases (alias_name, key_id, creation_date, last_updated_date) VALUES (?, ?, ?, ?)').run(
        name,
        id,
        now,
        now,
      );
      this.#bumpGeneration();
      return aliasFromRow(this.#aliasRow(name) as AliasRow);
    });
  }

  /** {@inheritDoc KeyStore.updateAlias} */
  async updateAlias(aliasName: string, keyId: string): Promise<AliasRecord> {
    const name = checkAliasName(aliasName);
    const id = checkKeyIdArg(keyId);
    return this.#write(() => {
      if (this.#aliasRow(name) === undefined) throw notFound(`alias ${name} does not exist`);
      this.#requireKey(id);
      this.#stmt('UPDATE aliases SET key_id = ?, last_updated_date = ? WHERE alias_name = ?').run(id, this.#now(), name);
      this.#bumpGeneration();
      return aliasFromRow(this.#aliasRow(name) as AliasRow);
    });
  }

  /** {@inheritDoc KeyStore.deleteAlias} */
  async deleteAlias(aliasName: string): Promise<void> {
    const name = checkAliasName(aliasName);
    this.#write(() => {
      if (this.#stmt('DELETE FROM aliases WHERE alias_name = ?').run(name).changes === 0) {
        throw notFound(`alias ${name} does not exist`);
      }
      this.#bumpGeneration();
    });
  }

  /** {@inheritDoc KeyStore.getAlias} */
  async getAlias(aliasName: string): Promise<AliasRecord | null> {
    const name = checkAliasName(aliasName);
    return this.#guard(() => {
      const row = this.#aliasRow(name);
      return row === undefined ? null : aliasFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.listAliases} */
  async listAliases(options: AliasListOptions = {}): Promise<AliasPage> {
    const limit = checkLimit(options.limit);
    const keyId = options.keyId === undefined ? undefined : checkKeyIdArg(options.keyId);
    const after = options.marker === undefined ? '' : (decodeMarker('aliases', options.marker, ['string'])[0] as string);
    return this.#guard(() => {
      let rows: AliasRow[];
      if (keyId === undefined) {
        rows = this.#stmt('SELECT * FROM aliases WHERE alias_name > ? ORDER BY alias_name LIMIT ?').all(
          after,
          limit + 1,
        ) as AliasRow[];
      } else {
        this.#requireKey(keyId);
        rows = this.#stmt(
          'SELECT * FROM aliases WHERE key_id = ? AND alias_name > ? ORDER BY alias_name LIMIT ?',
        ).all(keyId, after, limit + 1) as AliasRow[];
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
    this.#write(() => {
      this.#requireKey(id);
      const upsert = this.#stmt(
        `INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?, ?, ?)
         ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value`,
      );
      for (const tag of t) upsert.run(id, tag.tagKey, tag.tagValue);
      this.#bumpGeneration();
    });
  }

  /** {@inheritDoc KeyStore.untagResource} */
  async untagResource(keyId: string, tagKeys: readonly string[]): Promise<void> {
    const id = checkKeyIdArg(keyId);
    const keys = checkTagKeys(tagKeys);
    this.#write(() => {
      this.#requireKey(id);
      const remove = this.#stmt('DELETE FROM tags WHERE key_id = ? AND tag_key = ?');
      for (const tagKey of keys) remove.run(id, tagKey);
      this.#bumpGeneration();
    });
  }

  /** {@inheritDoc KeyStore.listResourceTags} */
  async listResourceTags(keyId: string, options: PageOptions = {}): Promise<TagPage> {
    const id = checkKeyIdArg(keyId);
    const limit = checkLimit(options.limit);
    const after = options.marker === undefined ? '' : (decodeMarker('tags', options.marker, ['string'])[0] as string);
    return this.#guard(() => {
      this.#requireKey(id);
      const rows = this.#stmt(
        'SELECT tag_key, tag_value FROM tags WHERE key_id = ? AND tag_key > ? ORDER BY tag_key LIMIT ?',
      ).all(id, after, limit + 1) as TagRow[];
      const tags = rows.slice(0, limit).map((r) => ({ tagKey: r.tag_key, tagValue: r.tag_value }));
      const last = tags[tags.length - 1];
      return rows.length > limit && last !== undefined
        ? { tags, nextMarker: encodeMarker('tags', [last.tagKey]) }
        : { tags };
    });
  }

  // ---- key policies ---------------------------------------------------------

  /** {@inheritDoc KeyStore.putKeyPolicy} */
  async putKeyPolicy(keyId: string, policy: string): Promise<void> {
    const id = checkKeyIdArg(keyId);
    const text = checkString('policy', policy, 1, MAX_POLICY_LENGTH);
    this.#write(() => {
      this.#requireKey(id);
      this.#stmt(
        `INSERT INTO key_policies (key_id, policy) VALUES (?, ?)
         ON CONFLICT (key_id) DO UPDATE SET policy = excluded.policy`,
      ).run(id, text);
      this.#bumpGeneration();
    });
  }

  /** {@inheritDoc KeyStore.getKeyPolicy} */
  async getKeyPolicy(keyId: string): Promise<string | null> {
    const id = checkKeyIdArg(keyId);
    return this.#guard(() => {
      this.#requireKey(id);
      const row = this.#stmt('SELECT policy FROM key_policies WHERE key_id = ?').get(id) as { policy: string } | undefined;
      return row?.policy ?? null;
    });
  }

  // ---- audit ----------------------------------------------------------------

  /** {@inheritDoc KeyStore.appendAudit} */
  async appendAudit(records: readonly AuditRecord[]): Promise<number[]> {
    if (!Array.isArray(records)) throw invalid('records must be an array');
    const checked = records.map(checkAuditRecord);
    if (checked.length === 0) return [];
    this.#database(); // refuses once closed
    const rows: AuditInsertRow[] = checked.map((r) => [
      r.time.getTime(), r.operation, r.keyId, r.keyVersion, JSON.stringify(r.contextKeys), r.outcome, r.errorCode, r.principal,
    ]);
    if (this.#audit !== null) {
      try {
        return await this.#audit.append(rows);
      } catch (error) {
        throw toKmsError(error);
      }
    }
    return this.#write(() => {
      const insert = this.#stmt(
        `INSERT INTO audit_log (time, operation, key_id, key_version, context_keys, outcome, error_code, principal)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      return rows.map((row) => Number(insert.run(...row).lastInsertRowid));
    });
  }

  /** {@inheritDoc KeyStore.readAudit} */
  async readAudit(query: AuditQuery = {}): Promise<StoredAuditRecord[]> {
    if (typeof query !== 'object' || query === null) throw invalid('query must be an object');
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.since !== undefined) {
      where.push('time >= ?');
      params.push(checkDate('since', query.since).getTime());
    }
    if (query.afterId !== undefined) {
      where.push('id > ?');
      params.push(checkInt('afterId', query.afterId, 0));
    }
    if (query.keyId !== undefined) {
      where.push('key_id = ?');
      params.push(checkKeyIdArg(query.keyId));
    }
    params.push(checkAuditLimit(query.limit));
    const sql = `SELECT * FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    return this.#guard(() => (this.#stmt(sql).all(...params) as AuditRow[]).map(auditFromRow));
  }

  // ---- jobs and leases ------------------------------------------------------

  #jobRow(name: string): JobRow | undefined {
    return this.#stmt('SELECT * FROM jobs WHERE name = ?').get(name) as JobRow | undefined;
  }

  /** {@inheritDoc KeyStore.getJob} */
  async getJob(name: string): Promise<JobRecord | null> {
    const n = checkJobName(name);
    return this.#guard(() => {
      const row = this.#jobRow(n);
      return row === undefined ? null : jobFromRow(row);
    });
  }

  /** {@inheritDoc KeyStore.saveJob} */
  async saveJob(name: string, state: JsonObject, expectedRowVersion: number | null): Promise<JobRecord> {
    const n = checkJobName(name);
    const text = checkJobState(state);
    const expected = expectedRowVersion === null ? 0 : checkInt('expectedRowVersion', expectedRowVersion, 0);
    return this.#write(() => {
      const row = this.#jobRow(n);
      if ((row?.row_version ?? 0) !== expected) {
        throw conflict(`job ${n} was saved concurrently; re-read it and retry`);
      }
      if (row === undefined) {
        this.#stmt(
          'INSERT INTO jobs (name, state, row_version, lease_owner, lease_expires_at) VALUES (?, ?, 1, NULL, NULL)',
        ).run(n, text);
      } else {
        const changed = this.#stmt(
          'UPDATE jobs SET state = ?, row_version = row_version + 1 WHERE name = ? AND row_version = ?',
        ).run(text, n, expected).changes;
        if (changed !== 1) throw conflict(`job ${n} was saved concurrently; re-read it and retry`);
      }
      return jobFromRow(this.#jobRow(n) as JobRow);
    });
  }

  /** {@inheritDoc KeyStore.acquireLease} */
  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const n = checkJobName(name);
    const o = checkOwner(owner);
    const ttl = checkTtl(ttlMs);
    return this.#write(() => {
      this.#stmt(
        `INSERT INTO jobs (name, state, row_version, lease_owner, lease_expires_at) VALUES (?, NULL, 0, NULL, NULL)
         ON CONFLICT (name) DO NOTHING`,
      ).run(n);
      const now = this.#now();
      return (
        this.#stmt(
          `UPDATE jobs SET lease_owner = ?, lease_expires_at = ?
           WHERE name = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at <= ?)`,
        ).run(o, now + ttl, n, o, now).changes === 1
      );
    });
  }

  /** {@inheritDoc KeyStore.takeOverLease} */
  async takeOverLease(name: string, staleOwner: string, owner: string, ttlMs: number): Promise<boolean> {
    const n = checkJobName(name);
    const stale = checkOwner(staleOwner);
    const o = checkOwner(owner);
    const ttl = checkTtl(ttlMs);
    return this.#write(
      () =>
        this.#stmt('UPDATE jobs SET lease_owner = ?, lease_expires_at = ? WHERE name = ? AND lease_owner = ?').run(
          o,
          this.#now() + ttl,
          n,
          stale,
        ).changes === 1,
    );
  }

  /** {@inheritDoc KeyStore.releaseLease} */
  async releaseLease(name: string, owner: string): Promise<boolean> {
    const n = checkJobName(name);
    const o = checkOwner(owner);
    return this.#write(
      () =>
        this.#stmt('UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE name = ? AND lease_owner = ?').run(
          n,
          o,
        ).changes === 1,
    );
  }
}
