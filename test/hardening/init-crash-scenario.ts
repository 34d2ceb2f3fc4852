// First use killed: `hsmkms init` on a fresh directory (root key file, key
// store schema, the first domain key under its lease) SIGKILLed at a random
// time; the directory must still open afterwards and work.
import path from 'node:path';
import { expect } from 'vitest';
import { Kms } from '../../dist/index.js';
import { runCliAndKill } from './cli-kill.js';
import type { ScenarioResult } from './library-crash-scenario.js';
import type { SeededRandom } from './seeded-random.js';

export interface InitScenario {
  name: string;
  runs: number;
  base: string;
  random: SeededRandom;
}

export async function runInitScenario(s: InitScenario): Promise<ScenarioResult> {
  const started = performance.now();
  const result: ScenarioResult = { name: s.name, runs: 0, kills: 0, acknowledged: 0, verified: 0, lost: 0, ms: 0, notes: '' };
  const initIn = (dir: string) => ['--dir', dir, 'init'];
  // An uninterrupted init gives the time range the kills are drawn from.
  const calibration = await runCliAndKill(initIn(path.join(s.base, 'calibration')), path.join(s.base, 'calibration'), { kind: 'never' }, {});
  expect(calibration.code).toBe(0);
  for (let run = 0; run < s.runs; run++) {
    const dir = path.join(s.base, `dir-${run}`);
    const ran = await runCliAndKill(initIn(dir), dir, { kind: 'anytime', delayMs: s.random.int(0, calibration.exitMs) }, {});
    const where = `${s.name} run ${run}`;
    result.runs++;
    if (ran.signal === 'SIGKILL') result.kills++;
    else {
      expect(ran.code, where).toBe(0);
      result.acknowledged++;
    }
    // Whatever the kill left: it opens (finishing the set-up if needed), and a key made now works.
    const kms = await Kms.open({ root: { soft: { dir } }, store: path.join(dir, 'keystore.db') });
    try {
      const { keyMetadata } = await kms.createKey({});
      const { ciphertextBlob } = await kms.encrypt({ keyId: keyMetadata.keyId, plaintext: Buffer.from([run]) });
      expect(Buffer.from((await kms.decrypt({ ciphertextBlob })).plaintext)).toEqual(Buffer.from([run]));
      expect((await kms.describe()).domainKeys.map((d) => d.version), where).toEqual([1]);
      result.verified++;
    } finally {
      await kms.close();
    }
  }
  result.notes = `an uninterrupted init takes ${calibration.exitMs} ms here; kills drawn from [0, that]`;
  result.ms = Math.round(performance.now() - started);
  return result;
}
