/**
 * Argument checks, done in TypeScript before native code runs. They throw
 * synchronously with the codes Node's own APIs use, so callers can tell a
 * programming mistake from an operational KmsError.
 */

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  return `type ${typeof value}`;
}

/** A TypeError with code ERR_INVALID_ARG_TYPE, worded as Node words it. */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError {
  const error = new TypeError(
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`,
  ) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_TYPE';
  return error;
}

/** A TypeError with code ERR_INVALID_ARG_VALUE. */
export function invalidArgValue(name: string, reason: string): TypeError {
  const error = new TypeError(`The argument '${name}' ${reason}`) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

/** Returns `value` as a Uint8Array view (no copy) or throws ERR_INVALID_ARG_TYPE. */
export function toBytes(name: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) {
    // Buffers and plain Uint8Arrays pass as they are.
    return value;
  }
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw invalidArgType(name, 'an instance of Uint8Array, Buffer or ArrayBufferView', value);
}

/** Like {@link toBytes} but `undefined` passes through. */
export function toOptionalBytes(name: string, value: unknown): Uint8Array | undefined {
  return value === undefined ? undefined : toBytes(name, value);
}

/** Checks an options argument is an object (or absent). */
export function toOptions<T extends object>(name: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object') throw invalidArgType(name, 'of type object', value);
  return value;
}

/** Checks an optional AbortSignal option. */
export function toSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', value);
  return value;
}
