// One library crash scenario: a store on one root, `runs` children each
// SIGKILLed at a random point (or right after a random acknowledgement).
// After each kill the store is integrity-checked here, and reopened by the
// next child, which checks the claims acknowledged so far before it works
// (one process start per kill: the suite's cost); at the end this process
// reopens it and checks every claim (crash-ledger.ts).
import { expect } from 'vitest';
import { Kms } from '../../dist/index.js';
import { CrashLedger, type Verified } from './crash-ledger.js';
import { runAndKill, type Fact, type KillPlan } from './kill-child.js';
import type { SeededRandom } from './seeded-random.js';
import { expectIntactStore } from '../helpers/sqlite-integrity.js';

export type LibraryMode = 'keys' | 'rotate' | 'domain' | 'aliases';

export interface ScenarioResult {
  name: string;
  runs: number;
  kills: number;
  /** Operations acknowledged before the kills (all runs). */
  acknowledged: number;
  /** Claims checked after the kills (repeats included). */
  verified: number;
  /** Acknowledged claims found missing or wrong: any makes the test fail first. */
  lost: number;
  ms: number;
  notes: string;
}

export interface LibraryScenario {
  name: string;
  mode: LibraryMode;
  runs: number;
  root: object;
  store: string;
  random: SeededRandom;
}

const ALIAS_NAMES = ['alias/crash-a', 'alias/crash-b', 'alias/crash-c', 'alias/crash-d', 'alias/crash-e'];
/** Keys made before the runs: the ones rotated or aliased; for `domain`, material the re-wrap must move. */
const SETUP_KEYS: Record<LibraryMode, number> = { keys: 0, rotate: 4, aliases: 5, domain: 40 };
/** A random kill lands up to this long after the child is working. */
const MAX_DELAY_MS = 120;

/** Keys (and a ciphertext under each) made by this process before any child runs. */
async function setUp(s: LibraryScenario, ledger: CrashLedger): Promise<string[]> {
  const kms = await Kms.open({ root: s.root as never, store: s.store });
  try {
    const keys: string[] = [];
    for (let i = 0; i < SETUP_KEYS[s.mode]; i++) {
      const keyId = (await kms.createKey({ description: `setup ${i}` })).keyMetadata.keyId;
      const plaintext = Buffer.from(`setup ${i}`);
      const context = { purpose: 'crash-consistency', n: String(i) };
      const { ciphertextBlob } = await kms.encrypt({ keyId, plaintext, encryptionContext: context });
      ledger.record([{ t: 'key', key: keyId }, { t: 'blob', key: keyId, blob: Buffer.from(ciphertextBlob).toString('base64'), plaintext: plaintext.toString('base64'), context }]);
      keys.push(keyId);
    }
    if (s.mode === 'aliases') for (const name of ALIAS_NAMES) ledger.aliases.set(name, null);
    return keys;
  } finally {
    await kms.close();
  }
}

/**
 * After the last kill: this process opens the store as it was left and checks
 * every claim; then maintenance finishes any interrupted re-wrap, and every
 * claim is checked again.
 */
async function finish(s: LibraryScenario, ledger: CrashLedger): Promise<{ verified: number; notes: string }> {
  expectIntactStore(s.store);
  const kms = await Kms.open({ root: s.root as never, store: s.store, maintenanceOnOpen: false });
  try {
    const sum = (v: Verified): number => v.blobs + v.keys + v.rotations + v.domainKeys + v.aliases;
    let verified = sum(await ledger.verify(kms, s.random, true));
    await kms.runMaintenance();
    await kms.waitForMaintenance();
    verified += sum(await ledger.verify(kms, s.random, true));
    let notes = '';
    if (s.mode === 'domain') {
      const { domainKeys } = await kms.describe();
      const newest = Math.max(...domainKeys.map((d) => d.version));
      const heldByOlder = domainKeys.filter((d) => d.version !== newest).reduce((n, d) => n + d.cmkVersions, 0);
      // The soft root re-wraps everything under the newest; a token cannot (non-extractable CMKs), so older ones keep theirs.
      if (kms.rootOfTrust === 'soft') expect(heldByOlder).toBe(0);
      notes = `domain keys 1..${newest}, CMK versions under older ones after maintenance: ${heldByOlder}`;
    }
    return { verified, notes };
  } finally {
    await kms.close();
  }
}

export async function runLibraryScenario(s: LibraryScenario): Promise<ScenarioResult> {
  const started = performance.now();
  const ledger = new CrashLedger();
  const keys = await setUp(s, ledger);
  const result: ScenarioResult = { name: s.name, runs: 0, kills: 0, acknowledged: 0, verified: 0, lost: 0, ms: 0, notes: '' };
  for (let run = 0; run < s.runs; run++) {
    const plan: KillPlan = s.random.next() < 0.5 ? { kind: 'random', delayMs: s.random.int(0, MAX_DELAY_MS) } : { kind: 'ack', nth: s.random.int(1, 8) };
    const config = { root: s.root, store: s.store, mode: s.mode, seed: s.random.int(0, 0xffffffff), keys, check: ledger.toCheck(s.random) };
    const killed = await runAndKill(config, plan);
    const where = `${s.name} run ${run} (${plan.kind})`;
    expect(killed.stderr, where).toBe('');
    expect(killed.signal, where).toBe('SIGKILL');
    const [checked, ready] = killed.facts;
    expect(checked?.t, where).toBe('checked');
    expect(ready, where).toEqual({ t: 'ready' });
    result.verified += ledger.judge(checked as Extract<Fact, { t: 'checked' }>, where);
    ledger.record(killed.facts);
    result.runs++;
    result.kills++;
    result.acknowledged += killed.acks;
    expectIntactStore(s.store);
  }
  const end = await finish(s, ledger);
  result.verified += end.verified;
  result.notes = `${ledger.blobs.length} ciphertexts, ${ledger.keys.length} keys, ${ledger.rotations.size} rotated keys, ${ledger.domainVersions.size} domain rotations${end.notes ? `; ${end.notes}` : ''}`;
  result.ms = Math.round(performance.now() - started);
  return result;
}
