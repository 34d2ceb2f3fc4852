/** Awaits a promise that must reject with a KmsError (or a subclass such as Pkcs11Error); returns it. */
import { expect } from 'vitest';
import { KmsError } from '../../dist/index.js';

export async function kmsRejection<E extends KmsError = KmsError>(promise: Promise<unknown>): Promise<E> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KmsError);
  return error as E;
}
