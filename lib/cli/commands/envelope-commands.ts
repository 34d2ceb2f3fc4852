/**
 * encrypt, decrypt, decrypt-range: envelope messages (the AWS Encryption SDK
 * format) under the KMS's CMKs, streamed from files or stdin to files or
 * stdout. A failed run leaves no output file behind.
 */
import type { Command } from 'commander';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { envelope } from '../../envelope/index.js';
import { KmsKeyring } from '../../envelope/kms-keyring.js';
import type { Kms } from '../../kms/kms.js';
import { byteSize, collectPair, positiveInteger } from '../arguments.js';
import { withKms, type GlobalOptions } from '../connection.js';
import { UsageError, type CliIo } from '../io.js';
import { startProgress } from '../progress.js';
import { counter, openInput, openOutput } from '../streams.js';

type Opts = GlobalOptions & Record<string, unknown>;
const optsOf = (cmd: Command): Opts => cmd.optsWithGlobals();

const SUITE_UNSIGNED = 0x0478;
const SUITE_SIGNED = 0x0578;

/** Streams `in` through `transform` into `out`, with progress, all or nothing. */
async function streamThrough(io: CliIo, opts: Opts, label: string, makeTransform: (size: number | undefined) => NodeJS.ReadWriteStream): Promise<void> {
  const input = await openInput(io, opts.in as string | undefined);
  const output = openOutput(io, opts.out as string | undefined);
  const progress = startProgress(io, label, input.size, opts.progress as boolean | undefined);
  try {
    await pipeline(input.stream, counter((n) => progress.advance(n)), makeTransform(input.size), output.stream);
    await output.commit();
    progress.done();
  } catch (error) {
    await output.abort();
    throw error;
  }
}

function keyringFor(kms: Kms, keyId: string | undefined): KmsKeyring {
  // Without --key-id, decrypt with whichever CMK of this KMS the message names.
  return keyId === undefined ? new KmsKeyring({ kms, discovery: true }) : new KmsKeyring({ kms, keyId });
}

export function registerEnvelopeCommands(program: Command, io: CliIo): void {
  const files = (cmd: Command) =>
    cmd
      .option('--in <file>', 'input file (default: stdin)')
      .option('--out <file>', 'output file, written only if the whole run succeeds (default: stdout)');

  files(
    program
      .command('encrypt')
      .description('encrypt a file or stdin into an envelope message (AWS Encryption SDK format) under a CMK')
      .requiredOption('--key-id <id>', 'the CMK (key id, ARN or alias/...)')
      .option('--context <key=value>', 'encryption context (repeatable)', collectPair)
      .option('--frame-length <size>', 'plaintext bytes per frame (default 64K)', byteSize)
      .option('--signed', 'sign the message (suite 0x0578, ECDSA P-384)'),
  ).action(async (_o, cmd: Command) => {
    const opts = optsOf(cmd);
    await withKms(opts, io, (kms) =>
      streamThrough(io, opts, 'encrypt', (size) =>
        envelope.encryptStream({
          keyring: new KmsKeyring({ kms, keyId: opts.keyId as string }),
          algorithmSuite: opts.signed === true ? SUITE_SIGNED : SUITE_UNSIGNED,
          ...(opts.context !== undefined && { encryptionContext: opts.context as Record<string, string> }),
          ...(opts.frameLength !== undefined && { frameLength: opts.frameLength as number }),
          ...(size !== undefined && { plaintextLength: size }),
        }),
      ),
    );
  });

  files(
    program
      .command('decrypt')
      .description('decrypt an envelope message from a file or stdin')
      .option('--key-id <id>', 'accept only messages under this CMK (default: any CMK of this KMS)')
      .option('--context <key=value>', 'pairs the message must carry in its encryption context (repeatable)', collectPair)
      .option('--max-data-keys <n>', 'refuse messages with more encrypted data keys than this', positiveInteger, 10),
  ).action(async (_o, cmd: Command) => {
    const opts = optsOf(cmd);
    await withKms(opts, io, (kms) =>
      streamThrough(io, opts, 'decrypt', () =>
        envelope.decryptStream({
          keyring: keyringFor(kms, opts.keyId as string | undefined),
          maxEncryptedDataKeys: opts.maxDataKeys as number,
          ...(opts.context !== undefined && { encryptionContext: opts.context as Record<string, string> }),
        }),
      ),
    );
  });

  program
    .command('decrypt-range')
    .description('decrypt bytes [start, end) of an unsigned envelope message file, reading only the frames that hold them')
    .requiredOption('--in <file>', 'the message file (random access needs a file)')
    .requiredOption('--start <offset>', 'first plaintext byte', (v) => byteOffset('--start', v))
    .requiredOption('--end <offset>', 'plaintext offset just past the last byte (exclusive)', (v) => byteOffset('--end', v))
    .option('--out <file>', 'output file (default: stdout)')
    .option('--key-id <id>', 'accept only messages under this CMK')
    .option('--context <key=value>', 'pairs the message must carry (repeatable)', collectPair)
    .action(async (_o, cmd: Command) => {
      const opts = optsOf(cmd);
      await withKms(opts, io, async (kms) => {
        const { plaintext } = await envelope.decryptRange(opts.in as string, {
          start: opts.start as number,
          end: opts.end as number,
          keyring: keyringFor(kms, opts.keyId as string | undefined),
          ...(opts.context !== undefined && { encryptionContext: opts.context as Record<string, string> }),
        });
        const output = openOutput(io, opts.out as string | undefined);
        try {
          await pipeline(Readable.from([plaintext]), output.stream);
          await output.commit();
        } catch (error) {
          await output.abort();
          throw error;
        }
      });
    });
}

function byteOffset(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag}: expected a byte offset (a non-negative integer), got '${value}'`);
  return n;
}
