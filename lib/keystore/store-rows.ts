/**
 * Row shapes of the SQL backends (SQLite and PostgreSQL share column names)
 * and their mapping to the records of key-store.ts, so both backends read
 * rows back the same way. Columns differ only in how a driver returns times
 * (ms or `Date`), booleans (0/1 or boolean) and 64-bit ids (number or string).
 */
import type {
  AliasRecord,
  AuditRecord,
  DomainKeyRecord,
  DomainKeyState,
  JobRecord,
  KeyRecord,
  KeySpec,
  KeyState,
  KeyUsage,
  KeyVersionRecord,
  RotationType,
  StoredAuditRecord,
} from './key-store.js';
import { ownBytes, parseJobState } from './record-checks.js';

/** A time column: milliseconds since the epoch (SQLite) or a `Date` (PostgreSQL `timestamptz`). */
export type SqlTime = number | Date;

/** A boolean column: 0/1 (SQLite) or a boolean (PostgreSQL). */
export type SqlBool = number | boolean;

/** A row of `cmks`. */
export interface CmkRow {
  key_id: string;
  description: string;
  key_spec: string;
  key_usage: string;
  key_state: string;
  creation_date: SqlTime;
  deletion_date: SqlTime | null;
  pending_window_in_days: number | null;
  primary_version: number;
  rotation_enabled: SqlBool;
  rotation_period_in_days: number | null;
  next_rotation_date: SqlTime | null;
  row_version: number;
  origin: string;
}

/** A row of `cmk_versions`. */
export interface VersionRow {
  key_id: string;
  version: number;
  created_at: SqlTime;
  domain_key_version: number;
  wrapped: Uint8Array;
  public_key: Uint8Array | null;
  rotation_type: string;
}

/** A row of `domain_keys`. */
export interface DomainKeyRow {
  version: number;
  provider: string;
  reference: string;
  sealed: Uint8Array | null;
  state: string;
  created_at: SqlTime;
}

/** A row of `aliases`. */
export interface AliasRow {
  alias_name: string;
  key_id: string;
  creation_date: SqlTime;
  last_updated_date: SqlTime;
}

/** A row of `tags` (without its key id). */
export interface TagRow {
  tag_key: string;
  tag_value: string;
}

/** A row of `audit_log`. */
export interface AuditRow {
  id: number | string;
  time: SqlTime;
  operation: string;
  key_id: string | null;
  key_version: number | null;
  context_keys: string;
  outcome: string;
  error_code: string | null;
  principal: string | null;
}

/** A row of `jobs`. */
export interface JobRow {
  name: string;
  state: string | null;
  row_version: number;
  lease_owner: string | null;
  lease_expires_at: SqlTime | null;
}

/** A time column as a `Date` of its own. */
export function toDate(value: SqlTime): Date {
  return new Date(value instanceof Date ? value.getTime() : value);
}

/** A nullable time column as a `Date | null`. */
export function dateOrNull(value: SqlTime | null): Date | null {
  return value === null ? null : toDate(value);
}

/** A key record from its row. */
export function keyFromRow(r: CmkRow): KeyRecord {
  return {
    keyId: r.key_id,
    description: r.description,
    keySpec: r.key_spec as KeySpec,
    keyUsage: r.key_usage as KeyUsage,
    keyState: r.key_state as KeyState,
    creationDate: toDate(r.creation_date),
    deletionDate: dateOrNull(r.deletion_date),
    pendingWindowInDays: r.pending_window_in_days,
    primaryVersion: r.primary_version,
    rotationEnabled: r.rotation_enabled === 1 || r.rotation_enabled === true,
    rotationPeriodInDays: r.rotation_period_in_days,
    nextRotationDate: dateOrNull(r.next_rotation_date),
    rowVersion: r.row_version,
    origin: 'AWS_KMS',
  };
}

/** A key version record from its row (bytes copied). */
export function versionFromRow(r: VersionRow): KeyVersionRecord {
  return {
    keyId: r.key_id,
    version: r.version,
    createdAt: toDate(r.created_at),
    domainKeyVersion: r.domain_key_version,
    wrapped: ownBytes(r.wrapped),
    publicKey: r.public_key === null ? null : ownBytes(r.public_key),
    rotationType: r.rotation_type as RotationType,
  };
}

/** A domain key record from its row (bytes copied). */
export function domainKeyFromRow(r: DomainKeyRow): DomainKeyRecord {
  return {
    version: r.version,
    provider: r.provider as DomainKeyRecord['provider'],
    reference: r.reference,
    sealed: r.sealed === null ? null : ownBytes(r.sealed),
    state: r.state as DomainKeyState,
    createdAt: toDate(r.created_at),
  };
}

/** An alias record from its row. */
export function aliasFromRow(r: AliasRow): AliasRecord {
  return {
    aliasName: r.alias_name,
    keyId: r.key_id,
    creationDate: toDate(r.creation_date),
    lastUpdatedDate: toDate(r.last_updated_date),
  };
}

/** A stored audit record from its row. */
export function auditFromRow(r: AuditRow): StoredAuditRecord {
  return {
    id: Number(r.id),
    time: toDate(r.time),
    operation: r.operation,
    keyId: r.key_id,
    keyVersion: r.key_version,
    contextKeys: JSON.parse(r.context_keys) as string[],
    outcome: r.outcome as AuditRecord['outcome'],
    errorCode: r.error_code,
    principal: r.principal,
  };
}

/** A job record from its row. */
export function jobFromRow(r: JobRow): JobRecord {
  return {
    name: r.name,
    state: parseJobState(r.state),
    rowVersion: r.row_version,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: dateOrNull(r.lease_expires_at),
  };
}
