/**
 * Output files written all or nothing: into a temporary file beside the
 * target, flushed to disk, renamed over the target on success (the
 * directory flushed too) and removed on any failure or interruption, so a
 * failed run leaves no partial output. A SIGKILL cannot be caught: its
 * temporary file is removed by the next run writing into that directory
 * (temp-file-names.ts).
 */
import { createWriteStream, unlinkSync, type WriteStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { removeStaleTempFiles, tempPathFor } from './temp-file-names.js';

export interface AtomicOutput {
  stream: WriteStream;
  /** Flushes, syncs and renames into place. */
  commit(): Promise<void>;
  /** Removes the temporary file (idempotent). */
  abort(): Promise<void>;
}

const pending = new Set<string>();
let exitHookInstalled = false;

/** On SIGINT/SIGTERM no temporary file is left behind either. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const file of pending) {
      try {
        unlinkSync(file);
      } catch {
        // Already gone.
      }
    }
  });
}

/** Makes the rename itself durable: success is reported only once a power loss cannot undo it. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return; // A platform that cannot open directories (Windows) has no directory fsync either.
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function openAtomicOutput(target: string): AtomicOutput {
  installExitHook();
  const dir = path.dirname(path.resolve(target));
  removeStaleTempFiles(dir);
  const temp = tempPathFor(target);
  pending.add(temp);
  const stream = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
  let settled = false;
  return {
    stream,
    async commit() {
      if (!stream.writableFinished) await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
      const handle = await open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
      settled = true;
      pending.delete(temp);
      await syncDirectory(dir);
    },
    async abort() {
      if (settled) return;
      settled = true;
      if (!stream.closed) {
        const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
        stream.destroy();
        await closed;
      }
      await unlink(temp).catch(() => undefined);
      pending.delete(temp);
    },
  };
}
