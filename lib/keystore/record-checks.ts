/**
 * Input checks shared by every key store backend, so that they all refuse the
 * same input with the same `KmsError` codes. Messages name the field, never
 * its value where the value could be sensitive (bytes are never echoed).
 */
import { KmsError } from '../errors.js';
import {
  KEY_PATCH_FIELDS,
  KEY_SPECS,
  KEY_STATES,
  KEY_USAGES,
  ROTATION_TYPES,
  type AuditRecord,
  type DomainKeyRecord,
  type DomainKeyState,
  type JsonObject,
  type KeyPatch,
  type KeyVersionRecord,
  type NewKeyRecord,
  type Tag,
} from './key-store.js';

/** The most items a list method returns in one page. */
export const MAX_PAGE_LIMIT = 1000;
/** The page size when none is given. */
export const DEFAULT_PAGE_LIMIT = 100;
/** The most audit records {@link checkAuditLimit} allows in one read. */
export const MAX_AUDIT_LIMIT = 10_000;
/** The longest lease {@link checkTtl} allows: one day. */
export const MAX_LEASE_TTL_MS = 86_400_000;
/** The longest key policy document (AWS KMS's limit, in characters). */
export const MAX_POLICY_LENGTH = 32_768;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ALIAS_NAME = /^alias\/[A-Za-z0-9/_-]+$/;

/** A `ValidationException` naming the offending field. */
export function invalid(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

/** A `NotFoundException`. */
export function notFound(message: string): KmsError {
  return new KmsError('NotFoundException', message);
}

/** A `ConflictException`. */
export function conflict(message: string): KmsError {
  return new KmsError('ConflictException', message);
}

/** An `AlreadyExistsException`. */
export function alreadyExists(message: string): KmsError {
  return new KmsError('AlreadyExistsException', message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a string of `min..max` UTF-16 code units. */
export function checkString(field: string, value: unknown, min: number, max: number): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  if (value.length < min || value.length > max) {
    throw invalid(`${field} must be ${min}..${max} characters long`);
  }
  return value;
}

/** Checks a `string | null` of `min..max` characters. */
export function checkNullableString(field: string, value: unknown, min: number, max: number): string | null {
  return value === null ? null : checkString(field, value, min, max);
}

/** Checks an integer in `min..max`. */
export function checkInt(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be an integer in ${min}..${max}`);
  }
  return value;
}

/** Checks an `integer | null` in `min..max`. */
export function checkNullableInt(field: string, value: unknown, min: number, max?: number): number | null {
  return value === null ? null : checkInt(field, value, min, max);
}

/** Checks a valid `Date`. */
export function checkDate(field: string, value: unknown): Date {
  if (!(value instanceof Date) || !Number.isFinite(value.getTime())) throw invalid(`${field} must be a valid Date`);
  return value;
}

/** Checks a `Date | null`. */
export function checkNullableDate(field: string, value: unknown): Date | null {
  return value === null ? null : checkDate(field, value);
}

/** Checks a boolean. */
export function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(`${field} must be a boolean`);
  return value;
}

/** Checks one of a fixed set of strings. */
export function checkEnum<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`${field} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** Checks non-empty bytes (at most `max`). The bytes are never echoed. */
export function checkBytes(field: string, value: unknown, max = 1 << 20): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalid(`${field} must be a Uint8Array`);
  if (value.byteLength === 0 || value.byteLength > max) throw invalid(`${field} must be 1..${max} bytes`);
  return value;
}

/** Checks `bytes | null`. */
export function checkNullableBytes(field: string, value: unknown, max?: number): Uint8Array | null {
  return value === null ? null : checkBytes(field, value, max);
}

/** Checks a key id as created: a lower-case UUID. */
export function checkNewKeyId(value: unknown): string {
  if (typeof value !== 'string' || !UUID.test(value)) throw invalid('keyId must be a lower-case UUID');
  return value;
}

/** Checks a key id to look up (any non-empty string; unknown ids simply are not found). */
export function checkKeyIdArg(value: unknown): string {
  return checkString('keyId', value, 1, 256);
}

/** Checks an alias name: `alias/` then letters, digits, `/`, `_`, `-`; at most 256 characters. */
export function checkAliasName(value: unknown): string {
  if (typeof value !== 'string' || value.length > 256 || !ALIAS_NAME.test(value)) {
    throw invalid("aliasName must start with 'alias/' followed by letters, digits, '/', '_' or '-' (at most 256 characters)");
  }
  return value;
}

/** Checks a domain key record. */
export function checkDomainKey(record: unknown): DomainKeyRecord {
  if (!isRecord(record)) throw invalid('domain key record must be an object');
  return {
    version: checkInt('version', record.version, 1),
    provider: checkEnum('provider', record.provider, ['pkcs11', 'soft'] as const),
    reference: checkString('reference', record.reference, 0, 1024),
    sealed: checkNullableBytes('sealed', record.sealed, 65_536),
    state: checkDomainKeyState(record.state),
    createdAt: checkDate('createdAt', record.createdAt),
  };
}

/** Checks a domain key state. */
export function checkDomainKeyState(value: unknown): DomainKeyState {
  return checkEnum('state', value, ['active', 'retired'] as const);
}

/** Checks a key record to create. */
export function checkNewKey(key: unknown): NewKeyRecord {
  if (!isRecord(key)) throw invalid('key record must be an object');
  if ('rowVersion' in key && key.rowVersion !== undefined && key.rowVersion !== 1) {
    throw invalid('rowVersion of a new key is set by the store');
  }
  const checked: NewKeyRecord = {
    keyId: checkNewKeyId(key.keyId),
    description: checkString('description', key.description, 0, 8192),
    keySpec: checkEnum('keySpec', key.keySpec, KEY_SPECS),
    keyUsage: checkEnum('keyUsage', key.keyUsage, KEY_USAGES),
    keyState: checkEnum('keyState', key.keyState, KEY_STATES),
    creationDate: checkDate('creationDate', key.creationDate),
    deletionDate: checkNullableDate('deletionDate', key.deletionDate),
    pendingWindowInDays: checkNullableInt('pendingWindowInDays', key.pendingWindowInDays, 1, 365),
    primaryVersion: checkInt('primaryVersion', key.primaryVersion, 1),
    rotationEnabled: checkBoolean('rotationEnabled', key.rotationEnabled),
    rotationPeriodInDays: checkNullableInt('rotationPeriodInDays', key.rotationPeriodInDays, 1, 100_000),
    nextRotationDate: checkNullableDate('nextRotationDate', key.nextRotationDate),
    origin: checkEnum('origin', key.origin, ['AWS_KMS'] as const),
  };
  if (checked.primaryVersion !== 1) throw invalid('primaryVersion of a new key must be 1');
  return checked;
}

/** Checks a key version record for `keyId`. */
export function checkKeyVersion(keyId: string, record: unknown): KeyVersionRecord {
  if (!isRecord(record)) throw invalid('key version record must be an object');
  if (record.keyId !== keyId) throw invalid('keyId of the version record must be the key it is added to');
  return {
    keyId,
    version: checkInt('version', record.version, 1),
    createdAt: checkDate('createdAt', record.createdAt),
    domainKeyVersion: checkInt('domainKeyVersion', record.domainKeyVersion, 1),
    wrapped: checkBytes('wrapped', record.wrapped, 65_536),
    publicKey: checkNullableBytes('publicKey', record.publicKey, 65_536),
    rotationType: checkEnum('rotationType', record.rotationType, ROTATION_TYPES),
  };
}

/** Checks a key patch: only mutable fields, each valid. Returns a copy with only the fields present. */
export function checkKeyPatch(patch: unknown): KeyPatch {
  if (!isRecord(patch)) throw invalid('patch must be an object');
  const allowed: ReadonlySet<string> = new Set(KEY_PATCH_FIELDS);
  for (const field of Object.keys(patch)) {
    if (!allowed.has(field)) throw invalid(`${field} cannot be changed by updateKey`);
  }
  const out: KeyPatch = {};
  if (patch.description !== undefined) out.description = checkString('description', patch.description, 0, 8192);
  if (patch.keyState !== undefined) out.keyState = checkEnum('keyState', patch.keyState, KEY_STATES);
  if (patch.deletionDate !== undefined) out.deletionDate = checkNullableDate('deletionDate', patch.deletionDate);
  if (patch.pendingWindowInDays !== undefined) {
    out.pendingWindowInDays = checkNullableInt('pendingWindowInDays', patch.pendingWindowInDays, 1, 365);
  }
  if (patch.primaryVersion !== undefined) out.primaryVersion = checkInt('primaryVersion', patch.primaryVersion, 1);
  if (patch.rotationEnabled !== undefined) out.rotationEnabled = checkBoolean('rotationEnabled', patch.rotationEnabled);
  if (patch.rotationPeriodInDays !== undefined) {
    out.rotationPeriodInDays = checkNullableInt('rotationPeriodInDays', patch.rotationPeriodInDays, 1, 100_000);
  }
  if (patch.nextRotationDate !== undefined) {
    out.nextRotationDate = checkNullableDate('nextRotationDate', patch.nextRotationDate);
  }
  return out;
}

/** Checks one tag. */
export function checkTag(tag: unknown): Tag {
  if (!isRecord(tag)) throw invalid('tag must be an object');
  return {
    tagKey: checkString('tagKey', tag.tagKey, 1, 128),
    tagValue: checkString('tagValue', tag.tagValue, 0, 256),
  };
}

/**
 * Checks a list of tags. With `unique`, a repeated tag key is refused here;
 * without it, the backend's unique constraint refuses it (inside the transaction).
 */
export function checkTags(tags: unknown, unique: boolean): Tag[] {
  if (!Array.isArray(tags)) throw invalid('tags must be an array');
  const checked = tags.map(checkTag);
  if (unique && new Set(checked.map((t) => t.tagKey)).size !== checked.length) {
    throw invalid('tag keys must be unique');
  }
  return checked;
}

/** Checks a list of tag keys. */
export function checkTagKeys(tagKeys: unknown): string[] {
  if (!Array.isArray(tagKeys)) throw invalid('tagKeys must be an array');
  return tagKeys.map((k) => checkString('tagKey', k, 1, 128));
}

/** Checks one audit record. */
export function checkAuditRecord(record: unknown): AuditRecord {
  if (!isRecord(record)) throw invalid('audit record must be an object');
  if (!Array.isArray(record.contextKeys)) throw invalid('contextKeys must be an array of strings');
  return {
    time: checkDate('time', record.time),
    operation: checkString('operation', record.operation, 1, 128),
    keyId: checkNullableString('keyId', record.keyId, 1, 256),
    keyVersion: checkNullableInt('keyVersion', record.keyVersion, 1),
    contextKeys: record.contextKeys.map((k) => checkString('contextKeys[]', k, 0, 4096)),
    outcome: checkEnum('outcome', record.outcome, ['success', 'failure'] as const),
    errorCode: checkNullableString('errorCode', record.errorCode, 1, 128),
    principal: checkNullableString('principal', record.principal, 1, 2048),
  };
}

/** Checks a page limit (1..{@link MAX_PAGE_LIMIT}, default {@link DEFAULT_PAGE_LIMIT}). */
export function checkLimit(value: unknown): number {
  return value === undefined ? DEFAULT_PAGE_LIMIT : checkInt('limit', value, 1, MAX_PAGE_LIMIT);
}

/** Checks an audit read limit (1..{@link MAX_AUDIT_LIMIT}, default {@link DEFAULT_PAGE_LIMIT}). */
export function checkAuditLimit(value: unknown): number {
  return value === undefined ? DEFAULT_PAGE_LIMIT : checkInt('limit', value, 1, MAX_AUDIT_LIMIT);
}

/** Checks a job name. */
export function checkJobName(value: unknown): string {
  return checkString('name', value, 1, 256);
}

/** Checks a lease owner. */
export function checkOwner(value: unknown): string {
  return checkString('owner', value, 1, 256);
}

/** Checks a lease time-to-live in milliseconds (1..{@link MAX_LEASE_TTL_MS}). */
export function checkTtl(value: unknown): number {
  return checkInt('ttlMs', value, 1, MAX_LEASE_TTL_MS);
}

/** Checks a job state: a JSON object, returned serialised. */
export function checkJobState(value: unknown): string {
  if (!isRecord(value)) throw invalid('job state must be a JSON object');
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    throw invalid('job state must be JSON-serialisable');
  }
  if (text.length > 1 << 20) throw invalid('job state must serialise to at most 1 MiB');
  return text;
}

/** Parses a job state stored by {@link checkJobState}. */
export function parseJobState(text: string | null): JsonObject | null {
  return text === null ? null : (JSON.parse(text) as JsonObject);
}

/** Checks an expected row version given to a compare-and-set method. */
export function checkRowVersion(value: unknown): number {
  return checkInt('expectedRowVersion', value, 1);
}

/** Copies bytes read from a database into a plain Uint8Array of their own. */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** Encodes a list-page marker: opaque to callers, tagged with the list it belongs to. */
export function encodeMarker(kind: string, position: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([kind, ...position]), 'utf8').toString('base64url');
}

/**
 * Decodes a marker made by {@link encodeMarker} for `kind` whose position has
 * the given element types; anything else is a `ValidationException`.
 */
export function decodeMarker(kind: string, marker: unknown, types: readonly ('string' | 'number')[]): (string | number)[] {
  if (typeof marker !== 'string' || marker.length === 0 || marker.length > 2048) throw invalid('marker is not valid');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8'));
  } catch {
    throw invalid('marker is not valid');
  }
  if (!Array.isArray(parsed) || parsed[0] !== kind || parsed.length !== types.length + 1) {
    throw invalid('marker is not valid for this list');
  }
  const position = parsed.slice(1) as unknown[];
  position.forEach((value, i) => {
    const ok = types[i] === 'number' ? Number.isSafeInteger(value) : typeof value === 'string';
    if (!ok) throw invalid('marker is not valid');
  });
  return position as (string | number)[];
}
