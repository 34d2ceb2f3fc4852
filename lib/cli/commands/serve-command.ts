/** `hsmkms serve`: the AWS-KMS-compatible HTTP server (lib/server) on this KMS, until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { runServe } from '../../server/serve-command.js';
import { positiveInteger } from '../arguments.js';
import { kmsOptionsFor, type GlobalOptions } from '../connection.js';
import type { CliIo } from '../io.js';

export function registerServeCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('serve the AWS KMS JSON API (SigV4-authenticated) on this KMS; SIGHUP reloads credentials, SIGTERM stops gracefully')
    .requiredOption('--credentials <file>', 'AWS shared-credentials INI file: each profile is a principal')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:4599')
    .option('--admin <profile>', 'the principal that may do everything')
    .option('--region <region>', 'region in key ARNs and SigV4 scopes')
    .option('--account <id>', 'account id in key ARNs')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'and this private key (PEM)')
    .option('--max-body-bytes <n>', 'largest request body accepted', positiveInteger)
    .option('--rate-limit <n>', 'requests per second per principal', positiveInteger)
    .action(async (_o, cmd: Command) => {
      const opts: GlobalOptions & Record<string, string | number | undefined> = cmd.optsWithGlobals();
      const { kmsOptions } = kmsOptionsFor(opts, io);
      const handle = await runServe({
        credentials: opts.credentials as string,
        listen: opts.listen as string,
        kms: kmsOptions,
        output: io.stdout,
        ...(opts.admin !== undefined && { admin: opts.admin as string }),
        ...(opts.dir !== undefined && { dir: opts.dir }),
        ...(opts.region !== undefined && { region: opts.region as string }),
        ...(opts.account !== undefined && { account: opts.account as string }),
        ...(opts.tlsCert !== undefined && { tlsCert: opts.tlsCert as string }),
        ...(opts.tlsKey !== undefined && { tlsKey: opts.tlsKey as string }),
        ...(opts.maxBodyBytes !== undefined && { maxBodyBytes: opts.maxBodyBytes as number }),
        ...(opts.rateLimit !== undefined && { rateLimit: opts.rateLimit as number }),
      });
      await handle.done;
    });
}
