/**
 * How callers name keys, as in AWS KMS: a key id (UUID), a key ARN, an alias
 * name (`alias/...`) or an alias ARN. ARNs carry this KMS's partition,
 * region and account (options of Kms.open), so they look like AWS's.
 */
import { KmsError } from '../errors.js';

/** The parts of an ARN this KMS hands out. */
export interface ArnSettings {
  partition: string;
  region: string;
  account: string;
}

export const DEFAULT_ARN_SETTINGS: ArnSettings = Object.freeze({ partition: 'aws', region: 'local', account: '000000000000' });

/** A resolved reference: a key id, or an alias to look up. */
export type KeyReference = { kind: 'key'; keyId: string } | { kind: 'alias'; aliasName: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ALIAS = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
const ARN = /^arn:([^:]+):kms:([^:]*):([^:]*):(key|alias)\/(.+)$/;

function invalid(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

/** True for a lower-case UUID key id. */
export function isKeyId(value: string): boolean {
  return UUID.test(value);
}

/** Checks an alias name against AWS's rules (alias/ prefix, allowed characters, not alias/aws/). */
export function checkAliasName(value: unknown, forCreate = false): string {
  if (typeof value !== 'string' || !ALIAS.test(value)) {
    throw invalid('Alias names start with "alias/" and contain only letters, digits, "/", "_" and "-" (at most 256 characters)');
  }
  if (forCreate && value.startsWith('alias/aws/')) throw invalid('Alias names beginning with "alias/aws/" are reserved');
  return value;
}

/** Parses any of the four forms; a well-formed ARN of another account or region is NotFoundException. */
export function parseKeyReference(value: unknown, arn: ArnSettings): KeyReference {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) {
    throw invalid('keyId must be a key id, key ARN, alias name or alias ARN');
  }
  const lower = value.toLowerCase();
  if (isKeyId(lower) && lower === value) return { kind: 'key', keyId: value };
  if (value.startsWith('alias/')) return { kind: 'alias', aliasName: checkAliasName(value) };
  const match = ARN.exec(value);
  if (match === null) throw invalid('keyId must be a key id, key ARN, alias name or alias ARN');
  const [, partition, region, account, type, rest] = match;
  if (partition !== arn.partition || region !== arn.region || account !== arn.account) {
    throw new KmsError('NotFoundException', 'The key ARN does not belong to this KMS');
  }
  if (type === 'key') {
    if (!isKeyId(rest!)) throw invalid('The key ARN does not end in a key id');
    return { kind: 'key', keyId: rest! };
  }
  return { kind: 'alias', aliasName: checkAliasName(`alias/${rest!}`) };
}

export function keyArn(keyId: string, arn: ArnSettings): string {
  return `arn:${arn.partition}:kms:${arn.region}:${arn.account}:key/${keyId}`;
}

export function aliasArn(aliasName: string, arn: ArnSettings): string {
  return `arn:${arn.partition}:kms:${arn.region}:${arn.account}:${aliasName}`;
}
