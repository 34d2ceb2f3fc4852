/**
 * How PostgreSQL failures become `KmsError`s: an unreachable database (refused
 * or dropped connections, a server shutting down or starting up) is
 * `KeyUnavailableException`, which callers may retry; anything else the
 * database says is `KMSInternalException`. Messages carry the SQLSTATE and
 * the server's text, never the connection string (which may hold a password).
 */
import { KmsError } from '../errors.js';

/** Socket errors that mean the server cannot be reached. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** SQLSTATEs of a server going away or not ready: admin/crash shutdown, starting up, too many connections. */
const UNAVAILABLE_STATES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '53300']);

/** What node-postgres says when a connection ends under it or cannot be made in time. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Client was closed/i;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `error` means the database is unreachable (rather than that it refused the statement). */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof KmsError) return error.code === 'KeyUnavailableException';
  const code = codeOf(error);
  if (code !== undefined && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08'))) return true;
  return error instanceof Error && UNAVAILABLE_MESSAGE.test(error.message);
}

/** A unique-constraint violation (SQLSTATE 23505). */
export function isUniqueViolation(error: unknown): boolean {
  return codeOf(error) === '23505';
}

/** A foreign-key violation (SQLSTATE 23503): the row referred to went away. */
export function isForeignKeyViolation(error: unknown): boolean {
  return codeOf(error) === '23503';
}

/** Turns a database failure into a `KmsError`; `KmsError`s and programming errors pass unchanged. */
export function toKmsError(error: unknown): unknown {
  if (error instanceof KmsError) return error;
  if (isUnavailable(error)) {
    return new KmsError(
      'KeyUnavailableException',
      'the key store database is unreachable; operations resume once it is back',
      { cause: error },
    );
  }
  const code = codeOf(error);
  if (code === '42P01') {
    return new KmsError('KMSInternalException', 'key store has no schema yet: run migrate()', { cause: error });
  }
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code) && error instanceof Error) {
    return new KmsError('KMSInternalException', `key store database error (${code}): ${error.message}`, { cause: error });
  }
  return error;
}
