/**
 * Checks of KMS request objects. Wrong types are programmer errors (Node's
 * ERR_INVALID_ARG_TYPE); values out of AWS's ranges are ValidationException,
 * as AWS KMS answers them.
 */
import { KmsError } from '../errors.js';
import { invalidArgType, toBytes } from '../validate.js';

export function checkRequest<T extends object>(name: string, value: T | undefined, required = true): Partial<T> {
  if (value === undefined && !required) return {};
  if (value === null || typeof value !== 'object') throw invalidArgType(name, 'of type object', value);
  return value;
}

export function invalid(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

export function requireBytes(field: string, value: unknown, min: number, max: number): Uint8Array {
  if (value === undefined) throw invalid(`${field} is required`);
  const bytes = toBytes(field, value);
  if (bytes.length < min || bytes.length > max) throw invalid(`${field} must be ${min} to ${max} bytes long`);
  return bytes;
}

export function optionalString(field: string, value: unknown, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidArgType(field, 'of type string', value);
  if (value.length > max) throw invalid(`${field} must be at most ${max} characters`);
  return value;
}

export function optionalInt(field: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw invalidArgType(field, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`${field} must be an integer from ${min} to ${max}`);
  return value;
}

export function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`${field} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}
