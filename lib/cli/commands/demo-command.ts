/**
 * `hsmkms demo`: the README's main job. On the embedded default (a temporary
 * directory, or --dir), it creates a key, streams a generated payload
 * through envelope encryption and straight back through decryption,
 * checks every byte, and prints the key hierarchy and the throughput.
 */
import type { Command } from 'commander';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { envelope } from '../../envelope/index.js';
import { KmsKeyring } from '../../envelope/kms-keyring.js';
import type { MessageHeader } from '../../envelope/header-codec.js';
import { KmsError } from '../../errors.js';
import { Kms } from '../../kms/kms.js';
import { byteSize } from '../arguments.js';
import type { GlobalOptions } from '../connection.js';
import { print, type CliIo } from '../io.js';
import { startProgress } from '../progress.js';
import { counter } from '../streams.js';
import { describeText } from './key-commands.js';

const BLOCK = 1024 * 1024;
const CONTEXT = { purpose: 'hsmkms demo' };

/** The payload: one random MiB, each copy stamped with its index, so no two blocks are alike. */
class Payload {
  readonly #block = randomFillSync(Buffer.allocUnsafe(BLOCK));
  readonly #scratch = Buffer.allocUnsafe(BLOCK);
  #scratchIndex = -1;

  constructor(readonly size: number) {}

  #fill(i: number, into: Buffer): Buffer {
    this.#block.copy(into);
    into.writeDoubleBE(i, 0);
    return into.subarray(0, Math.min(BLOCK, this.size - i * BLOCK));
  }

  /** Block `i` (the last one may be short), for the verifier; valid until the next call. */
  block(i: number): Buffer {
    if (this.#scratchIndex !== i) {
      this.#fill(i, this.#scratch);
      this.#scratchIndex = i;
    }
    return this.#scratch.subarray(0, Math.min(BLOCK, this.size - i * BLOCK));
  }

  /** The payload as a stream of fresh 1 MiB chunks. */
  source(): Readable {
    const blocks = Math.ceil(this.size / BLOCK);
    let i = 0;
    const next = (): Buffer | null => (i < blocks ? this.#fill(i++, Buffer.allocUnsafe(BLOCK)) : null);
    return new Readable({ highWaterMark: 4 * BLOCK, read() { this.push(next()); } });
  }
}

/** Compares the decrypted stream with the payload as it arrives. */
function verifier(payload: Payload): Writable & { verified: () => boolean } {
  let offset = 0;
  let mismatch = false;
  const sink = new Writable({
    highWaterMark: 4 * BLOCK,
    write(chunk: Buffer, _encoding, callback) {
      let at = 0;
      while (at < chunk.length && !mismatch) {
        const index = Math.floor(offset / BLOCK);
        const within = offset - index * BLOCK;
        const expected = payload.block(index).subarray(within);
        const n = Math.min(expected.length, chunk.length - at);
        if (n <= 0 || !chunk.subarray(at, at + n).equals(expected.subarray(0, n))) mismatch = true;
        at += n;
        offset += n;
      }
      callback(mismatch ? new KmsError('InvalidCiphertextException', `The decrypted bytes differ from the original at offset ${offset}`) : null);
    },
  }) as Writable & { verified: () => boolean };
  sink.verified = () => !mismatch && offset === payload.size;
  return sink;
}

const mib = (n: number): string => (n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0);

export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('end-to-end demo on the embedded default: a key, a generated stream encrypted and decrypted, verified; prints the hierarchy and throughput')
    .option('--size <size>', 'payload size (default 256M)', byteSize, 256 * 1024 * 1024)
    .action(async (_o, cmd: Command) => {
      const opts: GlobalOptions & { size: number } = cmd.optsWithGlobals();
      const temporary = opts.dir === undefined;
      const dir = temporary ? await mkdtemp(path.join(os.tmpdir(), 'hsmkms-demo-')) : path.resolve(opts.dir!);
      try {
        await runDemo(io, opts, dir, temporary);
      } finally {
        if (temporary) await rm(dir, { recursive: true, force: true });
      }
    });
}

async function runDemo(io: CliIo, opts: GlobalOptions & { size: number }, dir: string, temporary: boolean): Promise<void> {
  const say = (line: string): void => {
    if (opts.json !== true) io.stdout.write(`${line}\n`);
  };
  const kms = await Kms.open({ root: { soft: { dir } }, store: path.join(dir, 'keystore.db') });
  try {
    say(`hsmkms demo in ${dir}${temporary ? ' (temporary, removed at the end)' : ''}`);
    say('  the embedded "soft" root of trust: NOT an HSM; for a real HSM see the README (PKCS#11)');
    const { keyMetadata } = await kms.createKey({ description: 'hsmkms demo key' });
    say(`  created CMK ${keyMetadata.keyId} (${keyMetadata.keySpec}, ${keyMetadata.keyUsage})`);

    const payload = new Payload(opts.size);
    const keyring = new KmsKeyring({ kms, keyId: keyMetadata.keyId });
    const encrypt = envelope.encryptStream({ keyring, encryptionContext: CONTEXT, plaintextLength: payload.size });
    const decrypt = envelope.decryptStream({ keyring, encryptionContext: CONTEXT });
    let header: MessageHeader | undefined;
    decrypt.once('header', (h: MessageHeader) => (header = h));
    let messageBytes = 0;
    const check = verifier(payload);
    const progress = startProgress(io, 'encrypt+decrypt', payload.size, opts.progress);
    const loop = monitorEventLoopDelay({ resolution: 1 });
    say(`  streaming ${mib(payload.size)} MiB: generate -> envelope.encryptStream -> envelope.decryptStream -> verify`);
    loop.enable();
    const started = process.hrtime.bigint();
    await pipeline(payload.source(), encrypt, counter((n) => (messageBytes += n)), decrypt, counter((n) => progress.advance(n)), check);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    loop.disable();
    progress.done();
    if (!check.verified()) throw new KmsError('InvalidCiphertextException', 'The round trip did not give back the payload');

    const description = await kms.describe();
    const result = {
      directory: dir,
      key: keyMetadata,
      payloadBytes: payload.size,
      messageBytes,
      suite: header === undefined ? null : `0x${header.suiteId.toString(16).padStart(4, '0')}`,
      frameLength: header?.frameLength ?? null,
      verified: true,
      seconds,
      throughputMBps: payload.size / seconds / 1e6,
      eventLoopP99Ms: loop.percentile(99) / 1e6,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      hierarchy: description,
    };
    if (opts.json === true) {
      print(io, true, result);
      return;
    }
    say(`  verified: every byte came back (${mib(messageBytes)} MiB message, suite ${result.suite}, ${(result.frameLength ?? 0) / 1024} KiB frames)`);
    say(`  throughput: ${result.throughputMBps.toFixed(0)} MB/s encrypt+decrypt at once, ${seconds.toFixed(2)} s; event-loop p99 ${result.eventLoopP99Ms.toFixed(1)} ms; peak RSS ${result.peakRssMiB.toFixed(0)} MiB`);
    say('');
    say(describeText(description));
  } finally {
    await kms.close();
  }
}
