// Runs the real `hsmkms` command (bin/hsmkms.js) in a child process, in a
// temporary directory, and captures its exit code, stdout and stderr.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BIN = path.resolve(__dirname, '../../bin/hsmkms.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface CliRunOptions {
  input?: Buffer | string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function runCli(args: string[], options: CliRunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr }));
    child.stdin.on('error', () => undefined); // the command may exit before reading all of it
    child.stdin.end(options.input ?? '');
  });
}

/** A scratch directory per test file; `dir` is the --dir the commands use. */
export function makeWorkspace(): { base: string; dir: string; cli: (args: string[], options?: CliRunOptions) => Promise<CliResult>; remove(): void } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-cli-'));
  const dir = path.join(base, 'kms');
  return {
    base,
    dir,
    cli: (args, options = {}) => runCli(['--dir', dir, ...args], { cwd: base, ...options }),
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
}

export const json = <T = Record<string, unknown>>(result: CliResult): T => JSON.parse(result.stdout.toString()) as T;
