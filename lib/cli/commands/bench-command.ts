/**
 * `hsmkms bench`: runs the benchmark harness (bench/run.mjs: every suite, or
 * --suite NAME) in its own process, which writes bench/results/ and the
 * combined report (report.md, report.json, report.svg).
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { KmsError } from '../../errors.js';
import type { CliIo } from '../io.js';

const BENCH = path.resolve(__dirname, '..', '..', '..', 'bench', 'run.mjs');

export function registerBenchCommand(program: Command, io: CliIo): void {
  program
    .command('bench')
    .description('run the benchmarks and write bench/results/report.{md,json,svg} (all suites: several minutes)')
    .option('--suite <names>', 'only these suites (comma-separated: throughput, event-loop, memory, pkcs11, kms, envelope, server, multinode)')
    .option('--quick', 'short runs (a smoke test, not figures to quote)')
    .option('--wait-quiet [seconds]', 'before each suite, wait until the machine is quiet')
    .action(async (_o, cmd: Command) => {
      const opts = cmd.opts<{ suite?: string; quick?: boolean; waitQuiet?: string | boolean }>();
      if (!existsSync(BENCH)) throw new KmsError('NotFoundException', `The benchmark harness is not installed with this package (${BENCH})`);
      const args = [BENCH];
      if (opts.suite !== undefined) args.push('--suite', opts.suite);
      if (opts.quick === true) args.push('--quick');
      if (opts.waitQuiet !== undefined) args.push(opts.waitQuiet === true ? '--wait-quiet' : `--wait-quiet=${opts.waitQuiet}`);
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout.on('data', (d: Buffer) => io.stdout.write(d));
        child.stderr.on('data', (d: Buffer) => io.stderr.write(d));
        child.on('error', reject);
        child.on('close', (c) => resolve(c ?? 1));
      });
      if (code !== 0) throw new KmsError('KMSInternalException', `The benchmark harness exited with code ${code}`);
    });
}
