/** Parsers for repeatable and numeric flags. */
import { UsageError } from './io.js';

/** `--context k=v` (repeatable) into a map; the first `=` splits. */
export function collectPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new UsageError(`Expected key=value, got '${value}'`);
  const key = value.slice(0, at);
  if (Object.hasOwn(previous, key)) throw new UsageError(`'${key}' is given twice`);
  return { ...previous, [key]: value.slice(at + 1) };
}

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`Expected a positive integer, got '${value}'`);
  return n;
}

/** Sizes such as 4096, 64K, 256M, 1G (binary units). */
export function byteSize(value: string): number {
  const match = /^(\d+)([KMG]i?B?)?$/i.exec(value.trim());
  if (match === null) throw new UsageError(`Expected a size such as 4096, 64K or 256M, got '${value}'`);
  const unit = (match[2] ?? '').charAt(0).toUpperCase();
  const factor = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1;
  const n = Number(match[1]) * factor;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`Expected a positive size, got '${value}'`);
  return n;
}
