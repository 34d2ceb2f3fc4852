/** init, describe, create-key, list-keys, describe-key, enable/disable, deletion scheduling. */
import type { Command } from 'commander';
import { Kms } from '../../kms/kms.js';
import type { KeyMetadata } from '../../kms/key-metadata.js';
import { collectPair, positiveInteger } from '../arguments.js';
import { kmsOptionsFor, withKms, writeConfig, type GlobalOptions } from '../connection.js';
import { print, type CliIo } from '../io.js';

type Opts = GlobalOptions & Record<string, unknown>;
const optsOf = (cmd: Command): Opts => cmd.optsWithGlobals();

/** One key per line, columns as wide as their widest values (PendingDeletion, SYMMETRIC_DEFAULT, GENERATE_VERIFY_MAC). */
export function keyLine(m: KeyMetadata): string {
  return `${m.keyId}  ${m.keyState.padEnd(15)} ${m.keySpec.padEnd(17)} ${m.keyUsage.padEnd(19)} ${m.description ?? ''}`.trimEnd();
}

export function registerKeyCommands(program: Command, io: CliIo): void {
  program
    .command('init')
    .description('set up the root of trust and key store (embedded default, or a PKCS#11 token from flags or HSMKMS_* variables)')
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      const { kmsOptions, dir, recorded } = kmsOptionsFor(opts, io);
      await writeConfig(dir, recorded);
      const kms = await Kms.open(kmsOptions);
      try {
        const description = await kms.describe();
        print(io, opts.json === true, description, describeText(description));
      } finally {
        await kms.close();
      }
    });

  program
    .command('describe')
    .description('show the key hierarchy: root of trust, store, domain keys')
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      await withKms(opts, io, async (kms) => {
        const description = await kms.describe();
        print(io, opts.json === true, description, describeText(description));
      });
    });

  /** The one usage of EC and HMAC specs; encryption for the others. */
  const defaultUsage = (keySpec: string): string =>
    keySpec.startsWith('ECC_') ? 'SIGN_VERIFY' : keySpec.startsWith('HMAC_') ? 'GENERATE_VERIFY_MAC' : 'ENCRYPT_DECRYPT';

  program
    .command('create-key')
    .description('create a customer master key')
    .option('--key-spec <spec>', 'SYMMETRIC_DEFAULT, RSA_2048/3072/4096, ECC_NIST_P256/P384, HMAC_224/256/384/512', 'SYMMETRIC_DEFAULT')
    .option('--key-usage <usage>', 'ENCRYPT_DECRYPT, SIGN_VERIFY or GENERATE_VERIFY_MAC (default: by key spec)')
    .option('--description <text>', 'a description')
    .option('--tag <key=value>', 'a tag (repeatable)', collectPair)
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      const keySpec = opts.keySpec as string;
      const keyUsage = (opts.keyUsage as string | undefined) ?? defaultUsage(keySpec);
      const tags = Object.entries((opts.tag as Record<string, string> | undefined) ?? {}).map(([tagKey, tagValue]) => ({ tagKey, tagValue }));
      await withKms(opts, io, async (kms) => {
        const { keyMetadata } = await kms.createKey({
          keySpec: keySpec as never,
          keyUsage: keyUsage as never,
          ...(opts.description !== undefined && { description: opts.description as string }),
          ...(tags.length > 0 && { tags }),
        });
        print(io, opts.json === true, keyMetadata);
      });
    });

  program
    .command('list-keys')
    .description('list keys (every page)')
    .option('--limit <n>', 'at most this many', positiveInteger)
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      await withKms(opts, io, async (kms) => {
        const rows: KeyMetadata[] = [];
        const limit = (opts.limit as number | undefined) ?? Infinity;
        let marker: string | undefined;
        do {
          const page = await kms.listKeys({ limit: Math.min(1000, limit - rows.length), ...(marker !== undefined && { marker }) });
          for (const key of page.keys) rows.push((await kms.describeKey({ keyId: key.keyId })).keyMetadata);
          marker = page.truncated ? page.nextMarker : undefined;
        } while (marker !== undefined && rows.length < limit);
        print(io, opts.json === true, rows, rows.length === 0 ? '(no keys)' : rows.map(keyLine).join('\n'));
      });
    });

  const simple = (name: string, description: string, run: (kms: Kms, keyId: string, opts: Opts) => Promise<unknown>) =>
    program
      .command(name)
      .description(description)
      .requiredOption('--key-id <id>', 'key id, key ARN or alias/name')
      .action(async (_o, cmd: Command) => {
        const opts = optsOf(cmd);
        await withKms(opts, io, async (kms) => {
          const result = await run(kms, opts.keyId as string, opts);
          print(io, opts.json === true, result);
        });
      });

  simple('describe-key', 'show a key', async (kms, keyId) => (await kms.describeKey({ keyId })).keyMetadata);
  simple('enable-key', 'enable a key', async (kms, keyId) => {
    await kms.enableKey({ keyId });
    return (await kms.describeKey({ keyId })).keyMetadata;
  });
  simple('disable-key', 'disable a key', async (kms, keyId) => {
    await kms.disableKey({ keyId });
    return (await kms.describeKey({ keyId })).keyMetadata;
  });
  simple('schedule-deletion', 'schedule a key for deletion after 7..30 days', (kms, keyId, opts) =>
    kms.scheduleKeyDeletion({ keyId, pendingWindowInDays: (opts.days as number | undefined) ?? 30 }),
  ).option('--days <n>', 'pending window in days (7..30, default 30)', positiveInteger);
  simple('cancel-deletion', 'cancel a scheduled deletion (the key stays disabled)', (kms, keyId) => kms.cancelKeyDeletion({ keyId }));
}

/** The key hierarchy as text (init, describe, demo). */
export function describeText(d: Awaited<ReturnType<Kms['describe']>>): string {
  const lines = [
    `root of trust  ${d.rootOfTrust.summary}`,
    `key store      ${d.store.kind}${d.store.location !== undefined ? ` ${d.store.location}` : ''}`,
    'hierarchy',
    `  ${d.rootOfTrust.isHsm ? 'HSM token (holds the domain keys; they never leave it)' : 'soft root key (file or passphrase; NOT an HSM)'}`,
  ];
  for (const dk of d.domainKeys) {
    const current = dk.version === d.activeDomainKeyVersion ? ', wraps new keys' : '';
    lines.push(`    └─ domain key v${dk.version} (${dk.state}${current})  wraps ${dk.cmkVersions} CMK version${dk.cmkVersions === 1 ? '' : 's'}`);
  }
  lines.push('         └─ CMK versions  └─ data keys (wrapped under a CMK; bulk data is encrypted on the host)');
  return lines.join('\n');
}
