/**
 * Names of the CLI's temporary output files, and the sweep that removes the
 * ones a killed run left behind. A temporary file is
 * `.<target>.hsmkms-<host>-<pid>-<random>.tmp` beside its target: hidden, and
 * naming the process writing it, so a later run tells a dead writer's
 * leftover (SIGKILL, power loss: removed) from a live writer's (left alone).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PATTERN = /^\..+\.hsmkms-([0-9a-f]{8})-([1-9][0-9]*)-[0-9a-f]{12}\.tmp$/;

/** This machine, hashed: pids only mean something on the host that made them (a shared or network directory). */
const hostTag = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

/** A fresh temporary path beside `target`. */
export function tempPathFor(target: string): string {
  const resolved = path.resolve(target);
  const name = `.${path.basename(resolved)}.hsmkms-${hostTag}-${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  return path.join(path.dirname(resolved), name);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, another user's. A reused pid also reads as alive: its leftover stays, harmlessly.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Removes, from `dir`, the temporary files of writers on this host that no longer run; returns how many. */
export function removeStaleTempFiles(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0; // An unreadable directory: the write that follows reports it.
  }
  let removed = 0;
  for (const name of names) {
    const match = PATTERN.exec(name);
    if (match === null || match[1] !== hostTag || isAlive(Number(match[2]))) continue;
    try {
      unlinkSync(path.join(dir, name));
      removed++;
    } catch {
      // Gone already (another run swept it), or not ours to remove.
    }
  }
  return removed;
}
