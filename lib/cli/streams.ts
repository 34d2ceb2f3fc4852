/**
 * The CLI's byte plumbing: input from a file or stdin, output to a file
 * (all or nothing, see atomic-output.ts) or stdout, and a byte counter that
 * feeds the progress bar.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { openAtomicOutput } from './atomic-output.js';
import type { CliIo } from './io.js';

const isStd = (file: string | undefined): boolean => file === undefined || file === '-';

/** The input and, for a regular file, its size (which also fails early, with ENOENT, on a missing file). */
export async function openInput(io: CliIo, file: string | undefined): Promise<{ stream: Readable; size: number | undefined }> {
  if (isStd(file)) return { stream: io.stdin as Readable, size: undefined };
  const info = await stat(file!);
  return { stream: createReadStream(file!, { highWaterMark: 1024 * 1024 }), size: info.isFile() ? info.size : undefined };
}

export interface Output {
  stream: Writable;
  /** Makes the output final (renames a file into place). */
  commit(): Promise<void>;
  /** Leaves nothing behind (removes the temporary file). */
  abort(): Promise<void>;
}

/** Writes to stdout without ending it (the process may still print after). */
function stdoutSink(io: CliIo): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      if (io.stdout.write(chunk)) callback();
      else io.stdout.once('drain', () => callback());
    },
  });
}

export function openOutput(io: CliIo, file: string | undefined): Output {
  if (isStd(file)) {
    return { stream: stdoutSink(io), commit: async () => undefined, abort: async () => undefined };
  }
  return openAtomicOutput(file!);
}

/** A pass-through that reports every chunk's size. */
export function counter(onBytes: (n: number) => void): PassThrough {
  const through = new PassThrough({ highWaterMark: 1024 * 1024 });
  through.on('data', (chunk: Buffer) => onBytes(chunk.length));
  return through;
}
