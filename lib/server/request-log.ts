/**
 * Structured request logs: one object per request, as JSON lines to a stream
 * or to a function. Entries name who, what, which key, the outcome and the
 * time taken; never plaintext, blobs, signatures, secrets or context values.
 */

/** One request, as logged. */
export interface RequestLogEntry {
  time: string;
  requestId: string;
  remoteAddress: string | undefined;
  /** The authenticated principal, if the request got that far. */
  principal: string | null;
  /** The access key id the request claimed (not a secret). */
  accessKeyId: string | null;
  operation: string;
  /** The key reference of the request, if it named one. */
  keyId: string | null;
  status: number;
  /** The AWS error type on failure, else `null`. */
  errorType: string | null;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
}

/** Where request logs go: a function, or a writable (JSON lines). */
export type RequestLogger = ((entry: RequestLogEntry) => void) | { write(line: string): unknown };

/** A function that logs entries to `logger` (or drops them). */
export function makeLogSink(logger: RequestLogger | undefined): (entry: RequestLogEntry) => void {
  if (logger === undefined) return () => undefined;
  if (typeof logger === 'function') return logger;
  return (entry) => {
    logger.write(`${JSON.stringify(entry)}\n`);
  };
}
