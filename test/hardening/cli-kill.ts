// Runs the real `hsmkms` command (bin/hsmkms.js) writing one output file and
// SIGKILLs it by plan: at a random time after it starts, a random time after
// its temporary output file appears (mid-write), or the moment the output
// is renamed into place (before the process reports success by exiting).
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import path from 'node:path';
import { BIN } from '../cli/cli-harness.js';

export type CliKillPlan = { kind: 'anytime'; delayMs: number } | { kind: 'writing'; delayMs: number } | { kind: 'renamed' } | { kind: 'never' };

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** Milliseconds from spawn to the temporary file, to the rename, to the exit (undefined: not seen). */
  tempAtMs?: number;
  renamedAtMs?: number;
  exitMs: number;
}

/** A CLI temporary output file (lib/cli/temp-file-names.ts). */
export const TEMP_FILE = /^\..+\.hsmkms-.+\.tmp$/;

export async function runCliAndKill(args: string[], out: string, plan: CliKillPlan, env: NodeJS.ProcessEnv): Promise<CliRun> {
  const dir = path.dirname(out);
  const target = path.basename(out);
  const started = performance.now();
  const at = (): number => Math.round(performance.now() - started);
  const run: Partial<CliRun> = {};
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const kill = (): boolean => child.kill('SIGKILL');
  // inotify sees the temporary file appear and the rename land, as they happen.
  const watcher = watch(dir, (_event, name) => {
    if (name === null) return;
    if (run.tempAtMs === undefined && name.startsWith(`.${target}.`) && TEMP_FILE.test(name)) {
      run.tempAtMs = at();
      if (plan.kind === 'writing') setTimeout(kill, plan.delayMs);
    } else if (run.renamedAtMs === undefined && name === target && run.tempAtMs !== undefined) {
      run.renamedAtMs = at();
      if (plan.kind === 'renamed') kill();
    }
  });
  if (plan.kind === 'anytime') setTimeout(kill, plan.delayMs);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve({ code: c, signal: s }));
  });
  watcher.close();
  return { ...run, code, signal, stderr, exitMs: at() };
}
