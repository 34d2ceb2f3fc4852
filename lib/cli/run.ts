/**
 * Process glue for bin/hsmkms.js: runs main(), sets the
 * exit code, and turns SIGINT/SIGTERM into a clean exit (130/143) whose
 * 'exit' hooks remove unfinished output files.
 */
import { main } from './main.js';

export function run(argv: string[] = process.argv.slice(2)): void {
  // The soft root's process warning would repeat on every command; `init`
  // and `describe` say it instead, in the hierarchy they print.
  process.env.HSMKMS_SILENCE_SOFT_WARNING ??= '1';
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(signal, () => {
      // A command with its own handler (serve's graceful shutdown) decides.
      if (process.listenerCount(signal) > 1) return;
      process.stderr.write(`\nhsmkms: interrupted (${signal})\n`);
      process.exit(code);
    });
  }
  // A closed pipe downstream (hsmkms ... | head) ends the command quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
  });
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`hsmkms: KMSInternalException: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
