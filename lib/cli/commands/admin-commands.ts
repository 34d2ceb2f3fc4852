/** alias, rotate, rotate-domain-key, data-key, random, audit. */
import type { Command } from 'commander';
import { collectPair, positiveInteger } from '../arguments.js';
import { withKms, type GlobalOptions } from '../connection.js';
import { print, UsageError, type CliIo } from '../io.js';

type Opts = GlobalOptions & Record<string, unknown>;
const optsOf = (cmd: Command): Opts => cmd.optsWithGlobals();

function registerAlias(program: Command, io: CliIo): void {
  const alias = program.command('alias').description('create, update, delete or list aliases (alias/...)');
  const change = (name: 'create' | 'update', description: string) =>
    alias
      .command(`${name} <aliasName>`)
      .description(description)
      .requiredOption('--key-id <id>', 'the target key')
      .action(async (aliasName: string, _o, cmd: Command) => {
        const opts = optsOf(cmd);
        await withKms(opts, io, async (kms) => {
          const request = { aliasName, targetKeyId: opts.keyId as string };
          await (name === 'create' ? kms.createAlias(request) : kms.updateAlias(request));
          print(io, opts.json === true, request, `${aliasName} -> ${request.targetKeyId}`);
        });
      });
  change('create', 'name a key');
  change('update', 'point an alias at another key');
  alias
    .command('delete <aliasName>')
    .description('delete an alias (the key stays)')
    .action(async (aliasName: string, _o, cmd: Command) => {
      const opts = optsOf(cmd);
      await withKms(opts, io, async (kms) => {
        await kms.deleteAlias({ aliasName });
        print(io, opts.json === true, { aliasName }, `deleted ${aliasName}`);
      });
    });
  alias
    .command('list')
    .description('list aliases (of one key with --key-id)')
    .option('--key-id <id>', 'only this key')
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      await withKms(opts, io, async (kms) => {
        const aliases = [];
        let marker: string | undefined;
        do {
          const page = await kms.listAliases({
            limit: 100,
            ...(opts.keyId !== undefined && { keyId: opts.keyId as string }),
            ...(marker !== undefined && { marker }),
          });
          aliases.push(...page.aliases);
          marker = page.truncated ? page.nextMarker : undefined;
        } while (marker !== undefined);
        print(io, opts.json === true, aliases, aliases.map((a) => `${a.aliasName} -> ${a.targetKeyId ?? ''}`).join('\n') || '(no aliases)');
      });
    });
}

function registerRotation(program: Command, io: CliIo): void {
  program
    .command('rotate')
    .description('rotate a symmetric key now, or turn automatic rotation on/off, or show its status and history')
    .requiredOption('--key-id <id>', 'the key')
    .option('--enable', 'turn on automatic rotation')
    .option('--period <days>', 'automatic rotation period (90..2560 days, with --enable)', positiveInteger)
    .option('--disable', 'turn off automatic rotation')
    .option('--status', 'show the rotation status and history')
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      const keyId = opts.keyId as string;
      const modes = ['enable', 'disable', 'status'].filter((m) => opts[m] === true);
      if (modes.length > 1) throw new UsageError('Choose one of --enable, --disable, --status');
      if (opts.period !== undefined && opts.enable !== true) throw new UsageError('--period goes with --enable');
      await withKms(opts, io, async (kms) => {
        if (opts.enable === true) {
          await kms.enableKeyRotation({ keyId, ...(opts.period !== undefined && { rotationPeriodInDays: opts.period as number }) });
        } else if (opts.disable === true) {
          await kms.disableKeyRotation({ keyId });
        } else if (opts.status !== true) {
          const rotated = await kms.rotateKeyOnDemand({ keyId });
          print(io, opts.json === true, rotated, `${rotated.keyId} is now at version ${rotated.keyVersion}`);
          return;
        }
        const status = await kms.getKeyRotationStatus({ keyId });
        const history = await kms.listKeyRotations({ keyId, limit: 1000 });
        print(io, opts.json === true, { ...status, rotations: history.rotations });
      });
    });

  program
    .command('rotate-domain-key')
    .description('make a new domain key for new key material; on the soft root also re-wrap every CMK version under it (waits for that)')
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      await withKms(opts, io, async (kms) => {
        const result = await kms.rotateDomainKey();
        await kms.waitForMaintenance();
        const text = kms.rootOfTrust === 'soft'
          ? `domain key v${result.domainKeyVersion} is active; every CMK version was re-wrapped under it`
          : `domain key v${result.domainKeyVersion} is active for new key material; existing CMK versions stay under the domain keys that made them (a token cannot re-wrap non-extractable keys; rotate a CMK to move it)`;
        print(io, opts.json === true, result, text);
      });
    });
}

function registerData(program: Command, io: CliIo): void {
  program
    .command('data-key')
    .description('generate a data key under a CMK: plaintext and ciphertext blob (base64)')
    .requiredOption('--key-id <id>', 'the CMK')
    .option('--key-spec <spec>', 'AES_256 or AES_128', 'AES_256')
    .option('--bytes <n>', 'a data key of n bytes instead of a key spec (1..1024)', positiveInteger)
    .option('--context <key=value>', 'encryption context (repeatable)', collectPair)
    .option('--without-plaintext', 'return only the ciphertext blob')
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      const request = {
        keyId: opts.keyId as string,
        ...(opts.bytes !== undefined ? { numberOfBytes: opts.bytes as number } : { keySpec: opts.keySpec as 'AES_256' | 'AES_128' }),
        ...(opts.context !== undefined && { encryptionContext: opts.context as Record<string, string> }),
      };
      await withKms(opts, io, async (kms) => {
        const result = opts.withoutPlaintext === true ? await kms.generateDataKeyWithoutPlaintext(request) : await kms.generateDataKey(request);
        print(io, opts.json === true, result);
      });
    });

  program
    .command('random')
    .description('random bytes from the root of trust')
    .option('--bytes <n>', 'how many (1..1024)', positiveInteger, 32)
    .option('--encoding <encoding>', 'hex, base64 or raw', 'hex')
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      const encoding = opts.encoding as string;
      if (!['hex', 'base64', 'raw'].includes(encoding)) throw new UsageError('--encoding is hex, base64 or raw');
      await withKms(opts, io, async (kms) => {
        const { plaintext } = await kms.generateRandom({ numberOfBytes: opts.bytes as number });
        if (opts.json === true) print(io, true, { plaintext });
        else if (encoding === 'raw') io.stdout.write(plaintext);
        else io.stdout.write(`${Buffer.from(plaintext).toString(encoding as BufferEncoding)}\n`);
      });
    });
}

function registerAudit(program: Command, io: CliIo): void {
  program
    .command('audit')
    .description('read the audit trail (no plaintext, keys or context values are ever in it)')
    .option('--since <time>', 'ISO time, or a duration such as 10m, 2h, 7d')
    .option('--key-id <id>', 'only this key')
    .option('--limit <n>', 'at most this many records', positiveInteger)
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      const since = opts.since === undefined ? undefined : parseSince(opts.since as string);
      await withKms(opts, io, async (kms) => {
        const records = await kms.auditLog({
          ...(since !== undefined && { since }),
          ...(opts.keyId !== undefined && { keyId: opts.keyId as string }),
          ...(opts.limit !== undefined && { limit: opts.limit as number }),
        });
        const text = records
          .map((r) => `${r.time.toISOString()}  ${r.operation.padEnd(24)} ${r.outcome.padEnd(7)} ${r.keyId ?? '-'}${r.keyVersion !== null ? ` v${r.keyVersion}` : ''}${r.errorCode !== null ? `  ${r.errorCode}` : ''}`)
          .join('\n');
        print(io, opts.json === true, records, text || '(no records)');
      });
    });
}

function parseSince(value: string): Date {
  const duration = /^(\d+)([smhd])$/.exec(value);
  if (duration !== null) {
    const unit = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[duration[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(duration[1]) * unit);
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--since: expected an ISO time or a duration such as 2h, got '${value}'`);
  return date;
}

export function registerAdminCommands(program: Command, io: CliIo): void {
  registerAlias(program, io);
  registerRotation(program, io);
  registerData(program, io);
  registerAudit(program, io);
}
