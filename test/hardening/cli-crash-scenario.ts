// The CLI crash scenario: `hsmkms encrypt` and `decrypt` of files, SIGKILLed
// at random times, mid-write, and right after the rename. After each run
// the output path holds nothing, the complete previous file, or the complete
// new one (never a part), the store reopens, and temporary files a kill left
// are hidden, clearly named, and gone after the next run into that directory.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { envelope, Kms, KmsKeyring } from '../../dist/index.js';
import { runCli } from '../cli/cli-harness.js';
import { runCliAndKill, TEMP_FILE, type CliKillPlan, type CliRun } from './cli-kill.js';
import type { ScenarioResult } from './library-crash-scenario.js';
import type { SeededRandom } from './seeded-random.js';

export interface CliScenario {
  name: string;
  runs: number;
  base: string;
  /** Global flags reaching the KMS (--dir, and the token for a PKCS#11 root). */
  globalArgs: string[];
  env: NodeJS.ProcessEnv;
  /** The same KMS for the library, to check outputs. */
  root: object;
  store: string;
  random: SeededRandom;
}

const CONTEXT = { suite: 'crash-consistency' };
/** Big enough that a kill often lands mid-write (the calibrated window), small enough to keep each run short. */
const SIZES = [256 << 10, 2 << 20];
const TARGETS = 3;

/** What an output path holds: the index of the plaintext it is (encrypted or decrypted), or nothing. */
type Held = number | null;

interface Calibration {
  /** Spawn to exit, and spawn to the temporary file appearing, of an uninterrupted run. */
  exitMs: number;
  tempAtMs: number;
}

export async function runCliScenario(s: CliScenario): Promise<ScenarioResult> {
  const started = performance.now();
  const out = path.join(s.base, 'out');
  mkdirSync(out, { recursive: true });
  const cli = (args: string[]) => runCli([...s.globalArgs, ...args], { env: s.env, cwd: s.base });
  const init = await cli(['init']);
  expect(init.stderr).toBe('');
  const created = await cli(['create-key', '--json']);
  const keyId = (JSON.parse(created.stdout.toString()) as { keyId: string }).keyId;
  const contextArgs = Object.entries(CONTEXT).flatMap(([k, v]) => ['--context', `${k}=${v}`]);

  // Plaintexts, and a reference message of each made by an uninterrupted (acknowledged) run: also the timings.
  const plains = SIZES.map((size, i) => {
    const file = path.join(s.base, `plain-${i}.bin`);
    writeFileSync(file, randomBytes(size));
    return file;
  });
  const refs = plains.map((_, i) => path.join(s.base, `ref-${i}.enc`));
  const encryptArgs = (i: number, target: string) => [...s.globalArgs, 'encrypt', '--key-id', keyId, ...contextArgs, '--in', plains[i]!, '--out', target];
  const decryptArgs = (i: number, target: string) => [...s.globalArgs, 'decrypt', '--key-id', keyId, ...contextArgs, '--in', refs[i]!, '--out', target];
  const calibrate = async (args: string[], target: string): Promise<Calibration> => {
    const run = await runCliAndKill(args, target, { kind: 'never' }, s.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return { exitMs: run.exitMs, tempAtMs: run.tempAtMs ?? 0 };
  };
  const encTimes: Calibration[] = [];
  const decTimes: Calibration[] = [];
  for (let i = 0; i < plains.length; i++) encTimes.push(await calibrate(encryptArgs(i, refs[i]!), refs[i]!));
  for (let i = 0; i < plains.length; i++) decTimes.push(await calibrate(decryptArgs(i, path.join(s.base, `check-${i}.bin`)), path.join(s.base, `check-${i}.bin`)));
  const plainBytes = plains.map((p) => readFileSync(p));
  for (let i = 0; i < plains.length; i++) expect(readFileSync(path.join(s.base, `check-${i}.bin`)).equals(plainBytes[i]!)).toBe(true);

  const held = new Map<string, Held>();
  const counts = { killed: 0, beforeTemp: 0, midWrite: 0, afterRename: 0, finished: 0, leftTemps: 0, swept: 0 };
  let verified = 0;
  let leftover = 0; // temporary files a kill left, still there
  const result: ScenarioResult = { name: s.name, runs: 0, kills: 0, acknowledged: 0, verified: 0, lost: 0, ms: 0, notes: '' };

  for (let run = 0; run < s.runs; run++) {
    const encrypting = s.random.next() < 0.6;
    const index = s.random.int(0, plains.length - 1);
    const targetName = `${encrypting ? 'enc' : 'dec'}-${s.random.int(0, TARGETS - 1)}.out`;
    const target = path.join(out, targetName);
    const timing = (encrypting ? encTimes : decTimes)[index]!;
    const choice = s.random.next();
    const plan: CliKillPlan =
      choice < 0.35 ? { kind: 'anytime', delayMs: s.random.int(0, Math.round(timing.exitMs * 1.2)) }
      : choice < 0.8 ? { kind: 'writing', delayMs: s.random.int(0, Math.max(1, timing.exitMs - timing.tempAtMs)) }
      : { kind: 'renamed' };
    const before = held.get(targetName) ?? null;
    const ran: CliRun = await runCliAndKill(encrypting ? encryptArgs(index, target) : decryptArgs(index, target), target, plan, s.env);
    const where = `${s.name} run ${run} (${plan.kind}, ${targetName})`;
    result.runs++;
    if (ran.signal === 'SIGKILL') {
      result.kills++;
      counts.killed++;
      if (ran.tempAtMs === undefined) counts.beforeTemp++;
      else if (ran.renamedAtMs === undefined) counts.midWrite++;
      else counts.afterRename++;
    } else {
      expect(ran.stderr, where).toBe('');
      expect(ran.code, where).toBe(0);
      counts.finished++;
      result.acknowledged++;
    }

    // The output is absent or complete, old or new, and the new one once renamed (the run's durable point).
    // A message is decrypted on the store reopened as the run left it; all outputs are checked every few runs and at the end.
    const renamed = ran.renamedAtMs !== undefined || ran.code === 0;
    const allowed = renamed ? [index] : [before, index];
    const checkAll = run % 5 === 4 || run === s.runs - 1;
    const judge = async (kms: Kms | null): Promise<void> => {
      const found = await heldBy(kms, keyId, target, encrypting, plainBytes);
      expect(allowed, where).toContain(found);
      held.set(targetName, found);
      verified++;
      if (kms !== null && checkAll) verified += await verifyAll(kms, keyId, held, refs, plainBytes);
    };
    await (encrypting || checkAll ? withKms(s, judge) : judge(null));

    // Temporary files: only kills leave them, hidden and named as such; any finished run sweeps them.
    const names = readdirSync(out);
    const temps = names.filter((n) => TEMP_FILE.test(n));
    const outputs = names.filter((n) => !TEMP_FILE.test(n));
    expect(outputs.sort(), where).toEqual([...held].filter(([, h]) => h !== null).map(([n]) => n).sort());
    if (ran.code === 0) {
      counts.swept += leftover;
      expect(temps, where).toEqual([]);
      leftover = 0;
    } else {
      counts.leftTemps += temps.length - leftover;
      leftover = temps.length;
    }
  }
  // One more, uninterrupted, run into the directory: nothing a kill left remains.
  const last = await runCliAndKill(encryptArgs(0, path.join(out, 'enc-0.out')), path.join(out, 'enc-0.out'), { kind: 'never' }, s.env);
  expect(last.stderr).toBe('');
  expect(last.code).toBe(0);
  counts.swept += leftover;
  leftover = readdirSync(out).filter((n) => TEMP_FILE.test(n)).length;
  expect(leftover).toBe(0);
  held.set('enc-0.out', 0);
  verified += await withKms(s, (kms) => verifyAll(kms, keyId, held, refs, plainBytes));

  result.verified = verified;
  result.notes =
    `kills before the temp file ${counts.beforeTemp}, mid-write ${counts.midWrite}, after the rename ${counts.afterRename}; ` +
    `finished before the kill ${counts.finished}; temp files left by kills ${counts.leftTemps}, swept by a later run ${counts.swept}, left at the end ${leftover}`;
  result.ms = Math.round(performance.now() - started);
  return result;
}

/** Which plaintext `target` holds (decrypting it if it is a message), or null if absent; anything else fails. */
async function heldBy(kms: Kms | null, keyId: string, target: string, encrypted: boolean, plains: Buffer[]): Promise<Held> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (encrypted && kms === null) throw new Error('a message needs a Kms to be checked');
  const plaintext = encrypted ? (await envelope.decrypt(bytes, { keyring: new KmsKeyring({ kms: kms!, keyId }), encryptionContext: CONTEXT })).plaintext : bytes;
  const index = plains.findIndex((p) => p.equals(plaintext));
  expect(index, `${target} is a complete output`).toBeGreaterThanOrEqual(0);
  return index;
}

async function verifyAll(kms: Kms, keyId: string, held: Map<string, Held>, refs: string[], plains: Buffer[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < refs.length; i++) {
    expect(await heldBy(kms, keyId, refs[i]!, true, plains)).toBe(i);
    n++;
  }
  for (const [name, index] of held) {
    if (index === null) continue;
    expect(await heldBy(kms, keyId, path.join(path.dirname(refs[0]!), 'out', name), name.startsWith('enc'), plains)).toBe(index);
    n++;
  }
  return n;
}

/** The store as the run left it, opened afresh (no maintenance first). */
async function withKms<T>(s: CliScenario, work: (kms: Kms) => Promise<T>): Promise<T> {
  const kms = await Kms.open({ root: s.root as never, store: s.store, maintenanceOnOpen: false });
  try {
    return await work(kms);
  } finally {
    await kms.close();
  }
}
