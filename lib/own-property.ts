/**
 * Copies caller-named members onto fresh objects safely. A plain assignment
 * `obj[key] = value` with key "__proto__" sets the object's prototype (or,
 * for a string value, does nothing at all): the member is lost, or the
 * object inherits members the caller chose. Defining the property keeps it
 * an ordinary own member, as JSON.parse and object spread do.
 */
export function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
