// The `hsmkms` command on a big file against the library's own stream, in
// one run: `hsmkms encrypt` and `hsmkms decrypt` of a 1 GiB file (256 MiB
// with --quick) through real processes, each timed and with its peak RSS
// (getrusage of the child, read by a tiny python3 wrapper: Node cannot read
// a finished child's), beside envelope.encryptStream/decryptStream on the
// same files with the same CMK and frame length, also in a fresh process
// (library-case.mjs, timing the stream alone), its output flushed to disk as
// the CLI's is (both then run at the disk's write speed).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR, ROOT_DIR, MiB, emit, log, median, parseSuiteArgs } from '../lib/common.mjs';

const args = parseSuiteArgs();
const quick = args.quick;
const BIN = path.join(ROOT_DIR, 'bin', 'hsmkms.js');
const SIZE = quick ? 256 * MiB : 1024 * MiB;
// Disk-bound and noisy (writeback, the VM's disk): three rounds, the order
// of CLI and library swapped every round, ratios taken round by round.
const ROUNDS = quick ? 1 : 3;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsmkms-bench-cli-'));
const kmsDir = path.join(dir, 'kms');
const file = (name) => path.join(dir, name);

/** Runs the CLI; resolves to wall seconds and the child's peak RSS in MiB. */
function cli(cliArgs) {
  const wrapper = [
    'import resource, subprocess, sys, time',
    't = time.monotonic()',
    'r = subprocess.run(sys.argv[1:])',
    'print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)',
  ].join('\n');
  const out = execFileSync('python3', ['-c', wrapper, process.execPath, BIN, '--dir', kmsDir, ...cliArgs], { encoding: 'utf8' }).trim().split(/\s+/);
  if (out[2] !== '0') throw new Error(`hsmkms ${cliArgs.join(' ')} exited with ${out[2]}`);
  return { seconds: Number(out[0]), rssMiB: Number(out[1]) / 1024 };
}

log(`cli: writing a ${SIZE / MiB} MiB file`);
execFileSync(process.execPath, [BIN, '--dir', kmsDir, 'init']);
const keyId = JSON.parse(execFileSync(process.execPath, [BIN, '--dir', kmsDir, 'create-key', '--json'], { encoding: 'utf8' })).keyId;
{
  const block = crypto.randomBytes(MiB);
  const fd = fs.openSync(file('plain'), 'w');
  for (let i = 0; i < SIZE / MiB; i++) {
    block.writeUInt32BE(i);
    fs.writeSync(fd, block);
  }
  fs.closeSync(fd);
}

/** The library's stream in a fresh process (bench/cli/library-case.mjs); resolves to the stream's seconds. */
function library(op) {
  const [from, to] = op === 'encrypt' ? [file('plain'), file('lib.enc')] : [file('cli.enc'), file('lib.dec')];
  const out = execFileSync(process.execPath, [path.join(BENCH_DIR, 'cli', 'library-case.mjs'), op, kmsDir, keyId, from, to, String(SIZE)], { encoding: 'utf8' });
  return Number(out.trim());
}

const rounds = { cliEnc: [], cliDec: [], libEnc: [], libDec: [], rssEnc: [], rssDec: [] };
/** Each case writes a new file: none replaces (and frees) an older output of its own. */
const fresh = (...names) => names.forEach((name) => fs.rmSync(file(name), { force: true }));

async function cliRound() {
  fresh('cli.enc', 'cli.dec');
  const enc = cli(['encrypt', '--key-id', keyId, '--in', file('plain'), '--out', file('cli.enc')]);
  const dec = cli(['decrypt', '--in', file('cli.enc'), '--out', file('cli.dec')]);
  rounds.cliEnc.push(SIZE / enc.seconds / 1e6);
  rounds.cliDec.push(SIZE / dec.seconds / 1e6);
  rounds.rssEnc.push(enc.rssMiB);
  rounds.rssDec.push(dec.rssMiB);
}

async function libraryRound() {
  fresh('lib.enc', 'lib.dec');
  rounds.libEnc.push(SIZE / library('encrypt') / 1e6);
  rounds.libDec.push(SIZE / library('decrypt') / 1e6);
}

const logRound = () =>
  log(`round ${rounds.cliEnc.length}/${ROUNDS}: cli ${rounds.cliEnc.at(-1).toFixed(0)}/${rounds.cliDec.at(-1).toFixed(0)} MB/s, library ${rounds.libEnc.at(-1).toFixed(0)}/${rounds.libDec.at(-1).toFixed(0)} MB/s, cli RSS ${rounds.rssEnc.at(-1).toFixed(0)}/${rounds.rssDec.at(-1).toFixed(0)} MiB`);

// The library decrypts the CLI's output: the first round runs the CLI first.
await cliRound();
await libraryRound();
logRound();
for (let round = 1; round < ROUNDS; round++) {
  if (round % 2 === 1) {
    await libraryRound();
    await cliRound();
  } else {
    await cliRound();
    await libraryRound();
  }
  logRound();
}
const same = execFileSync('cmp', [file('plain'), file('cli.dec')], { encoding: 'utf8' }) === '';
fs.rmSync(dir, { recursive: true, force: true });

const ratio = (a, b) => median(a.map((v, i) => v / b[i]));
emit(args, {
  suite: 'cli',
  quick,
  bytes: SIZE,
  verified: same,
  rows: [
    { id: 'cli-encrypt', label: `hsmkms encrypt, ${SIZE / MiB} MiB file to file`, unit: 'MB/s', value: median(rounds.cliEnc), rounds: rounds.cliEnc },
    { id: 'cli-decrypt', label: `hsmkms decrypt, ${SIZE / MiB} MiB file to file`, unit: 'MB/s', value: median(rounds.cliDec), rounds: rounds.cliDec },
    { id: 'lib-encrypt', label: 'library envelope.encryptStream, file to file, fsync (same CMK, frames)', unit: 'MB/s', value: median(rounds.libEnc), rounds: rounds.libEnc },
    { id: 'lib-decrypt', label: 'library envelope.decryptStream, file to file, fsync', unit: 'MB/s', value: median(rounds.libDec), rounds: rounds.libDec },
  ],
  ratios: { encrypt: ratio(rounds.cliEnc, rounds.libEnc), decrypt: ratio(rounds.cliDec, rounds.libDec) },
  peakRssMiB: { encrypt: Math.max(...rounds.rssEnc), decrypt: Math.max(...rounds.rssDec) },
});
