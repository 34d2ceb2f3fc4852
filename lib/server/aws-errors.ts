/**
 * Errors on the wire, as AWS KMS sends them: a JSON body `{"__type", "message"}`
 * and an HTTP status. KmsError codes map to their AWS names; refusals made by
 * the server itself (signature, throttling, size, protocol) carry their own
 * AWS type on top of the nearest KmsError code. Anything else becomes a
 * KMSInternalException with a fixed message, so no internal detail leaks.
 */
import { KmsError, type KmsErrorCode } from '../errors.js';

/** A refusal by the server, with the AWS error type and status the client sees. */
export class ServerError extends KmsError {
  /** The `__type` on the wire, e.g. `InvalidSignatureException`. */
  readonly awsType: string;
  /** The HTTP status. */
  readonly status: number;

  constructor(awsType: string, code: KmsErrorCode, message: string, status = 400) {
    super(code, message);
    this.name = 'ServerError';
    this.awsType = awsType;
    this.status = status;
  }
}

export const missingAuthentication = (): ServerError =>
  new ServerError('MissingAuthenticationTokenException', 'AccessDeniedException', 'Missing Authentication Token');
export const unrecognizedClient = (): ServerError =>
  new ServerError('UnrecognizedClientException', 'AccessDeniedException', 'The security token included in the request is invalid.');
export const invalidSignature = (message: string): ServerError =>
  new ServerError('InvalidSignatureException', 'AccessDeniedException', message);
export const accessDenied = (message: string): ServerError => new ServerError('AccessDeniedException', 'AccessDeniedException', message);
export const throttled = (): ServerError => new ServerError('ThrottlingException', 'LimitExceededException', 'Rate exceeded');
export const serialization = (message: string): ServerError => new ServerError('SerializationException', 'ValidationException', message);
export const unknownOperation = (message: string): ServerError => new ServerError('UnknownOperationException', 'ValidationException', message);
export const tooLarge = (limit: number): ServerError =>
  new ServerError('ValidationException', 'ValidationException', `The request body exceeds ${limit} bytes`, 413);
export const malformedPolicy = (message: string): ServerError =>
  new ServerError('MalformedPolicyDocumentException', 'ValidationException', message);
export const shuttingDown = (): ServerError =>
  new ServerError('ServiceUnavailableException', 'KeyUnavailableException', 'The server is shutting down', 503);

/** AWS KMS answers server-side failures with 5xx (which SDKs retry), everything a caller caused with 400. */
const SERVER_SIDE: ReadonlySet<string> = new Set(['KMSInternalException', 'KeyUnavailableException', 'UnsupportedRuntimeException']);

/** Node's programmer-error codes: wrong types or values in a request are the caller's ValidationException. */
const ARGUMENT_ERRORS: ReadonlySet<string> = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE']);

/** What the client sees for an error. */
export interface WireError {
  type: string;
  status: number;
  message: string;
  /** The KmsError code (for audit and metrics). */
  code: string;
}

/** Maps any thrown value to its AWS error; messages of KmsErrors are safe by construction (no secrets). */
export function toWireError(error: unknown): WireError {
  if (error instanceof ServerError) return { type: error.awsType, status: error.status, message: error.message, code: error.code };
  if (error instanceof KmsError) {
    const type = error.code === 'UnsupportedRuntimeException' ? 'KMSInternalException' : error.code;
    return { type, status: SERVER_SIDE.has(error.code) ? 500 : 400, message: error.message, code: error.code };
  }
  const nodeCode = (error as { code?: unknown } | null)?.code;
  if (typeof nodeCode === 'string' && ARGUMENT_ERRORS.has(nodeCode)) {
    // Node's messages quote the received value: keep only the first sentence naming the argument.
    const message = String((error as Error).message).split('. Received')[0] ?? 'Invalid request';
    return { type: 'ValidationException', status: 400, message, code: 'ValidationException' };
  }
  return { type: 'KMSInternalException', status: 500, message: 'An internal error occurred', code: 'KMSInternalException' };
}
