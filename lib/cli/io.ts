/**
 * Where the CLI writes: results to stdout (human text, or JSON with --json),
 * diagnostics and progress to stderr only, so piped output stays clean.
 */
import { KmsError } from '../errors.js';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });

/** A usage mistake the CLI itself found (exit code 2, code ValidationException). */
export class UsageError extends KmsError {
  constructor(message: string) {
    super('ValidationException', message);
  }
}

/** JSON for scripts: bytes as base64, dates as ISO strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
      if (v instanceof Date) return v.toISOString();
      return v;
    },
    2,
  );
}

/** Human text: `label: value` lines; nested objects indented. */
export function toText(value: unknown, indent = ''): string {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || value instanceof Date) {
    return `${indent}${scalar(value)}`;
  }
  const lines: string[] = [];
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  for (const [key, v] of entries) {
    if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Date)) {
      lines.push(`${indent}${key}:`, toText(v, `${indent}  `));
    } else {
      lines.push(`${indent}${key}: ${scalar(v)}`);
    }
  }
  return lines.join('\n');
}

function scalar(v: unknown): string {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

/** Prints a result as JSON or text. */
export function print(io: CliIo, json: boolean, value: unknown, text?: string): void {
  io.stdout.write(`${json ? toJson(value) : (text ?? toText(value))}\n`);
}
