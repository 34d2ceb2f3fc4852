/** Argument checks shared by the keyring constructors (programmer errors: thrown at once). */
import { invalidArgType, invalidArgValue, toOptions } from '../validate.js';

/** The options object of a keyring constructor. */
export function keyringOptions<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) throw invalidArgType('options', 'of type object', value);
  return toOptions('options', value);
}

/** A non-empty string option. */
export function requireName(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType(`options.${name}`, 'of type string', value);
  if (value.length === 0) throw invalidArgValue(`options.${name}`, 'must not be empty');
  return value;
}

/**
 * A raw keyring's key namespace (its EDKs' provider id): not "aws-kms..."
 * (the SDKs route those to AWS KMS), as @aws-crypto's raw keyrings require.
 */
export function requireNamespace(value: unknown): string {
  const namespace = requireName('keyNamespace', value);
  if (namespace.startsWith('aws-kms')) throw invalidArgValue('options.keyNamespace', 'must not start with "aws-kms"');
  return namespace;
}
