// `hsmkms encrypt / decrypt / decrypt-range / demo` end to end through real
// processes: a 100 MiB file from the CLI to the library and back, pipes,
// every error path with its exit code and message and no partial output
// (unknown key, wrong context, corrupted file, missing file, a full disk
// simulated with a file-size limit, an interrupted run), and progress only
// on terminals.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, Kms, KmsKeyring } from '../../dist/index.js';
import { BIN, json, makeWorkspace } from './cli-harness.js';

const ws = makeWorkspace();
let keyId: string;
const file = (name: string): string => path.join(ws.base, name);
/** Files in the workspace other than the KMS's own: what a failed run must not leave behind. */
const leftovers = (): string[] => readdirSync(ws.base).filter((f) => f !== 'kms' && !f.startsWith('keep-'));

beforeAll(async () => {
  await ws.cli(['init']);
  keyId = json<{ keyId: string }>(await ws.cli(['create-key', '--json'])).keyId;
});
afterAll(() => ws.remove());

/** The library on the CLI's KMS (same directory, same store), for the cross checks. */
async function withLibrary<T>(work: (kms: Kms) => Promise<T>): Promise<T> {
  const kms = await Kms.open({ root: { soft: { dir: ws.dir } }, store: path.join(ws.dir, 'keystore.db') });
  try {
    return await work(kms);
  } finally {
    await kms.close();
  }
}

function sha256File(p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    createReadStream(p).on('data', (d) => hash.update(d)).on('end', () => resolve(hash.digest('hex'))).on('error', reject);
  });
}

describe('hsmkms encrypt / decrypt', () => {
  it('a 100 MiB file encrypted by the CLI decrypts with the library, and a library message decrypts with the CLI', async () => {
    const plain = file('keep-100m.bin');
    const block = crypto.randomBytes(1 << 20);
    writeFileSync(plain, Buffer.concat(Array.from({ length: 100 }, (_, i) => { const b = Buffer.from(block); b.writeUInt32BE(i); return b; })));
    const encrypted = await ws.cli(['encrypt', '--key-id', keyId, '--in', plain, '--out', file('keep-100m.enc'), '--context', 'app=cli']);
    expect(encrypted.stderr).toBe(''); // no progress bar: stdout is not a terminal
    expect(encrypted.code).toBe(0);
    expect(encrypted.stdout).toHaveLength(0);

    const hash = crypto.createHash('sha256');
    await withLibrary(async (kms) => {
      await pipeline(
        createReadStream(file('keep-100m.enc')),
        envelope.decryptStream({ keyring: new KmsKeyring({ kms, keyId }), encryptionContext: { app: 'cli' } }),
        new Writable({ write(c, _e, cb) { hash.update(c); cb(); } }),
      );
      // And the other way: the library writes, the CLI reads.
      const { result } = await envelope.encrypt(readFileSync(plain).subarray(0, 3_000_000), { keyring: new KmsKeyring({ kms, keyId }), encryptionContext: { from: 'library' } });
      writeFileSync(file('keep-lib.enc'), result);
    });
    expect(hash.digest('hex')).toBe(await sha256File(plain));
    const back = await ws.cli(['decrypt', '--in', file('keep-lib.enc'), '--out', file('keep-lib.out'), '--context', 'from=library']);
    expect(back.code).toBe(0);
    expect(readFileSync(file('keep-lib.out')).equals(readFileSync(plain).subarray(0, 3_000_000))).toBe(true);
  }, 120_000);

  it('pipes: stdin to stdout both ways; --signed and --frame-length are honoured', async () => {
    const plain = crypto.randomBytes(300_000);
    const enc = await ws.cli(['encrypt', '--key-id', keyId, '--signed', '--frame-length', '4K'], { input: plain });
    expect(enc.code).toBe(0);
    const header = await withLibrary(async (kms) => (await envelope.decrypt(enc.stdout, { keyring: new KmsKeyring({ kms, keyId }) })).header);
    expect(header).toMatchObject({ suiteId: 0x0578, frameLength: 4096 });
    const dec = await ws.cli(['decrypt', '--key-id', keyId], { input: enc.stdout });
    expect(dec.code).toBe(0);
    expect(dec.stdout.equals(plain)).toBe(true);
  });

  it('decrypt-range reads bytes [start, end) of a message file', async () => {
    const plain = crypto.randomBytes(1_000_000);
    writeFileSync(file('keep-range.bin'), plain);
    await ws.cli(['encrypt', '--key-id', keyId, '--in', file('keep-range.bin'), '--out', file('keep-range.enc')]);
    const range = await ws.cli(['decrypt-range', '--in', file('keep-range.enc'), '--start', '123456', '--end', '654321']);
    expect(range.code).toBe(0);
    expect(range.stdout.equals(plain.subarray(123456, 654321))).toBe(true);
    const bad = await ws.cli(['decrypt-range', '--in', file('keep-range.enc'), '--start', '-1', '--end', '10']);
    expect(bad.code).toBe(2);
  });

  it('--progress forces the progress bar onto stderr (never stdout)', async () => {
    const plain = crypto.randomBytes(2_000_000);
    const enc = await ws.cli(['--progress', 'encrypt', '--key-id', keyId, '--in', '-'], { input: plain });
    expect(enc.code).toBe(0);
    expect(enc.stderr).toMatch(/encrypt .*MiB\/s/);
    const dec = await ws.cli(['decrypt'], { input: enc.stdout });
    expect(dec.stdout.equals(plain)).toBe(true);
  });
});

describe('failures: one line on stderr with the code, a non-zero exit, and no partial output', () => {
  const expectOneLine = (stderr: string, pattern: RegExp) => {
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toMatch(pattern);
  };

  it('unknown key, wrong context, corrupted file, missing file', async () => {
    writeFileSync(file('keep-small.bin'), crypto.randomBytes(200_000));
    await ws.cli(['encrypt', '--key-id', keyId, '--in', file('keep-small.bin'), '--out', file('keep-small.enc'), '--context', 'a=1']);
    const corrupted = readFileSync(file('keep-small.enc'));
    corrupted[corrupted.length - 1000]! ^= 0x10;
    writeFileSync(file('keep-corrupt.enc'), corrupted);
    for (const [args, code, pattern] of [
      [['encrypt', '--key-id', 'alias/none', '--in', file('keep-small.bin'), '--out', file('out.enc')], 1, /^hsmkms: NotFoundException: /],
      [['decrypt', '--in', file('keep-small.enc'), '--out', file('out.bin'), '--context', 'a=2'], 1, /^hsmkms: InvalidCiphertextException: /],
      [['decrypt', '--in', file('keep-corrupt.enc'), '--out', file('out.bin'), '--context', 'a=1'], 1, /^hsmkms: InvalidCiphertextException: /],
      [['decrypt', '--in', file('nothing-here.enc'), '--out', file('out.bin')], 1, /^hsmkms: ENOENT: .*nothing-here\.enc/],
      [['encrypt', '--in', file('keep-small.bin')], 2, /^hsmkms: ValidationException: .*--key-id/],
    ] as const) {
      const result = await ws.cli([...args]);
      expect(result.code, args.join(' ')).toBe(code);
      expectOneLine(result.stderr, pattern);
      expect(leftovers(), args.join(' ')).toEqual([]);
    }
  });

  it('a full disk (a file-size limit: writes fail with EFBIG) leaves no output file', async () => {
    const plain = file('keep-4m.bin');
    writeFileSync(plain, crypto.randomBytes(4 << 20));
    // ulimit -f counts 1 KiB blocks; SIGXFSZ ignored so that the write fails instead of killing the process.
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-c', `trap '' XFSZ; ulimit -f 1024; exec "${process.execPath}" "${BIN}" --dir "${ws.dir}" encrypt --key-id ${keyId} --in "${plain}" --out "${file('full.enc')}"`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(1);
    expectOneLine(result.stderr, /^hsmkms: (EFBIG|ENOSPC): /);
    expect(leftovers()).toEqual([]);
  });

  it('an interrupted run (SIGINT while streaming) exits 130 and leaves no output file', async () => {
    const child = spawn(process.execPath, [BIN, '--dir', ws.dir, 'encrypt', '--key-id', keyId, '--out', file('interrupted.enc')], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stdin.on('error', () => undefined);
    // Feed slowly until the output file exists (the run is under way), then interrupt.
    const chunk = crypto.randomBytes(256 * 1024);
    for (let i = 0; i < 200 && !readdirSync(ws.base).some((f) => f.includes('interrupted.enc')); i++) {
      child.stdin.write(chunk);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(readdirSync(ws.base).some((f) => f.includes('interrupted.enc'))).toBe(true);
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toMatch(/hsmkms: interrupted \(SIGINT\)/);
    expect(leftovers()).toEqual([]);
  });
});

describe('hsmkms demo', () => {
  it('creates a key, round-trips a generated stream, verifies it, and reports the hierarchy and throughput', async () => {
    const demo = await ws.cli(['demo', '--size', '8M', '--json']);
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    const report = json<{ verified: boolean; payloadBytes: number; messageBytes: number; throughputMBps: number; suite: string; hierarchy: { rootOfTrust: { isHsm: boolean } } }>(demo);
    expect(report).toMatchObject({ verified: true, payloadBytes: 8 << 20, suite: '0x0478', hierarchy: { rootOfTrust: { isHsm: false } } });
    expect(report.messageBytes).toBeGreaterThan(8 << 20);
    expect(report.throughputMBps).toBeGreaterThan(0);
    const text = await ws.cli(['demo', '--size', '2M']);
    expect(text.code).toBe(0);
    expect(text.stdout.toString()).toMatch(/verified: every byte came back/);
    expect(text.stdout.toString()).toMatch(/domain key v1/);
  }, 60_000);
});
