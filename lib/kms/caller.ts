/**
 * Who is calling the KMS, for the audit trail: a front end that authenticates
 * callers (the HTTP server) runs each operation inside `asCaller(principal, ...)`,
 * and every audit record written during it names that principal. Carried by
 * AsyncLocalStorage so that the operations keep their AWS-shaped signatures.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const caller = new AsyncLocalStorage<string>();

/** Runs `operation` with `principal` as the caller named in audit records. */
export function asCaller<T>(principal: string, operation: () => T): T {
  return caller.run(principal, operation);
}

/** The principal of the operation running now, or `null` (a direct library call). */
export function currentCaller(): string | null {
  return caller.getStore() ?? null;
}
