/**
 * The `hsmkms` command. Results go to stdout (human text, or JSON with
 * --json); errors are one line on stderr, `hsmkms: <Code>: <message>`, with
 * exit code 1 (2 for usage mistakes, 130 when interrupted).
 */
import { Command, CommanderError, Option } from 'commander';
import { KmsError } from '../errors.js';
import { COMMANDS } from './commands/index.js';
import { processIo, UsageError, type CliIo } from './io.js';

function buildProgram(io: CliIo): Command {
  const program = new Command('hsmkms')
    .description('HSM-backed key management: keys, envelope encryption, audit')
    .option('--dir <dir>', 'directory of the embedded default (root key file, key store, config)', undefined)
    .option('--json', 'machine-readable output')
    .option('--store <spec>', 'key store: a SQLite path or postgres://... (default <dir>/keystore.db)')
    .option('--pkcs11-module <path>', 'PKCS#11 module (.so) of the HSM')
    .option('--token-label <label>', 'PKCS#11 token label')
    .option('--pin-file <file>', 'file holding the PKCS#11 user PIN (or set HSMKMS_PKCS11_PIN)')
    .addOption(new Option('--progress', 'always show progress on stderr'))
    .addOption(new Option('--no-progress', 'never show progress'))
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Usage errors are reported by main() in the one-line format.
      outputError: () => undefined,
    });
  for (const register of COMMANDS) register(program, io);
  for (const sub of program.commands) {
    sub.exitOverride();
    for (const nested of sub.commands) nested.exitOverride();
  }
  return program;
}

function errorLine(error: unknown): { line: string; exitCode: number } {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return { line: '', exitCode: 0 };
    return { line: `hsmkms: ValidationException: ${error.message.replace(/^error: /, '')}`, exitCode: 2 };
  }
  if (error instanceof UsageError) return { line: `hsmkms: ${error.code}: ${error.message}`, exitCode: 2 };
  if (error instanceof KmsError) return { line: `hsmkms: ${error.code}: ${error.message}`, exitCode: 1 };
  const sys = error as NodeJS.ErrnoException;
  if (typeof sys?.code === 'string') {
    const where = sys.path !== undefined ? ` '${sys.path}'` : '';
    return { line: `hsmkms: ${sys.code}: ${sys.syscall ?? 'error'}${where}: ${sys.message.replace(/^[A-Z]+: /, '').split(',')[0]}`, exitCode: 1 };
  }
  return { line: `hsmkms: KMSInternalException: ${(error as Error)?.message ?? String(error)}`, exitCode: 1 };
}

/** Runs one command line (argv without node and script); resolves to the exit code. */
export async function main(args: string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (error) {
    const { line, exitCode } = errorLine(error);
    if (line !== '') io.stderr.write(`${line}\n`);
    return exitCode;
  }
}
