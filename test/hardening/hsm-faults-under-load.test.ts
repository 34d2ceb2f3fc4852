// HSM faults under load: a Kms on the fault-injection PKCS#11 module
// (test/native/fault_pkcs11_shim.c, a TEST DOUBLE that forwards to a fresh
// SoftHSM2 token and injects faults on command) carries a sustained mixed
// load (encrypt, decrypt, generateDataKey, sign) while the module loses
// sessions, logs out, reports the device removed or broken, the token not
// present, and slows calls down. Every call must settle within its deadline,
// as a correct result or a typed KmsError; after the faults clear,
// throughput must come back, and close() must be prompt.
//
// HSMKMS_FAULT_SECONDS=<n> keeps injecting rounds of faults for at least n
// seconds (a manual soak run; the default is one round, about 6 s).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kms } from '../../dist/index.js';
import { kmsContext } from '../../dist/kms/kms.js';
import { buildShim, makeToken, type ShimControl, type TestToken } from '../pkcs11/softhsm-fixture.js';
import { FAULT_ROUND, injectFaults } from './fault-schedule.js';
import { HUNG, MixedLoad, type PhaseTally, WRONG_RESULT } from './mixed-load.js';

process.env.HSMKMS_SILENCE_SOFT_WARNING = '1';

const THREADS = 2;
const IN_FLIGHT = 32;
const RETRY = { maxAttempts: 5, totalMs: 1000 };
/** The slowest single try the schedule makes: an unwrap (200 ms) then a sign (150 ms). */
const SLOWEST_TRY_MS = 200 + 150;
/**
 * A call's deadline. Device-error backoff counts from the HSM call, so an
 * outage settles one within the retry budget and one more try, and a KMS
 * call makes at most two in a row (generateDataKey: random, then encrypt);
 * injected latency also queues it behind the calls in front (IN_FLIGHT /
 * THREADS, each at most a slowest try); plus a margin for a loaded machine.
 */
const DEADLINE_MS = 2 * (RETRY.totalMs + SLOWEST_TRY_MS) + Math.ceil(IN_FLIGHT / THREADS) * SLOWEST_TRY_MS + 3000;
/** What an HSM outage may surface as (DESIGN.md section 5: "KeyUnavailableException (HSM down)"). */
const OUTAGE_CODES: ReadonlySet<string> = new Set(['KeyUnavailableException']);
/** Throughput is the best of two windows of this length (neighbours on a shared machine come and go). */
const WINDOW_MS = 1500;
const FAULT_MS = Number(process.env.HSMKMS_FAULT_SECONDS ?? 0) * 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Successful calls per second: the better of two consecutive windows. */
async function throughput(load: MixedLoad, name: string): Promise<{ best: number; windows: number[]; tallies: PhaseTally[] }> {
  const tallies: PhaseTally[] = [];
  const windows: number[] = [];
  for (const n of [1, 2]) {
    const tally = load.phase(`${name} (${n})`);
    await sleep(WINDOW_MS);
    tallies.push(tally);
    windows.push(Math.round(tally.opsPerSecond())); // up to now, whatever the next phase
  }
  return { best: Math.max(...windows), windows, tallies };
}

let token: TestToken;
let shim: ShimControl;
let dir: string;
let kms: Kms | undefined;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  token = makeToken('hsmkms-faults');
  shim = buildShim(token.dir);
  dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-faults-'));
});

afterAll(async () => {
  shim?.send('clear');
  await kms?.close();
  process.off('unhandledRejection', onUnhandled);
  token?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('HSM faults under a mixed load', () => {
  it('every call settles in time, typed; throughput returns after the faults clear', { timeout: 120_000 + 2 * FAULT_MS }, async () => {
    kms = await Kms.open({
      root: { pkcs11: { module: shim.module, tokenLabel: token.label, pin: token.pin, threads: THREADS, retry: RETRY } },
      store: path.join(dir, 'keystore.db'),
      auditFlushMs: 50,
    });
    const symmetric = (await kms.createKey({})).keyMetadata.keyId;
    const signing = (await kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' } as never)).keyMetadata.keyId;
    const mac = (await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' })).keyMetadata.keyId;
    const { publicKey } = await kms.getPublicKey({ keyId: signing });
    const load = new MixedLoad(kms, { symmetric, signing, signingSpki: publicKey, mac }, DEADLINE_MS, OUTAGE_CODES);
    await load.seed(32);
    const root = kmsContext(kms).root;

    load.start(IN_FLIGHT);
    await sleep(500); // warm-up: sessions open, keys unwrapped
    const objectsBefore = (await root.stats()).objects;
    const before = await throughput(load, 'before faults');
    const during = load.phase('during faults');
    const injected = await injectFaults(shim, FAULT_ROUND, FAULT_MS);
    load.phase('recovering'); // calls that started under a fault still settle here
    await sleep(1500);
    const after = await throughput(load, 'after faults cleared');
    await load.stop();

    const statsAfter = await root.stats();
    const closeStart = performance.now();
    const closing = kms.close();
    kms = undefined;
    await closing;
    const closeMs = performance.now() - closeStart;

    const totals = load.totals();
    const report = {
      deadlineMs: DEADLINE_MS,
      faultsInjected: Object.fromEntries(injected),
      outcomes: Object.fromEntries(totals),
      outcomesDuringFaults: Object.fromEntries(during.outcomes),
      failingFunctions: Object.fromEntries([...load.phases.values()].flatMap((t) => [...t.failedFns])),
      maxSettleMs: Math.round(load.maxSettleMs()),
      maxSettleMsByPhase: Object.fromEntries([...load.phases].map(([name, t]) => [name, Math.round(t.maxSettleMs)])),
      opsPerSecond: { before: before.windows, during: Math.round(during.opsPerSecond()), after: after.windows },
      root: { retries: statsAfter.retries, generation: statsAfter.generation, workerSessions: statsAfter.workerSessions, objectsBefore, objectsAfter: statsAfter.objects },
      closeMs: Math.round(closeMs),
    };
    console.log(`hsm-faults-under-load: ${JSON.stringify(report, null, 2)}`);

    // Every call settled, each one as a correct result or a typed outage error.
    expect(totals.get(HUNG) ?? 0).toBe(0);
    expect(totals.get(WRONG_RESULT) ?? 0).toBe(0);
    expect([...totals.keys()].filter((o) => o !== 'ok' && !OUTAGE_CODES.has(o))).toEqual([]);
    // The faults bit: the outage windows failed calls, and the root recovered many times.
    expect(during.outcomes.get('KeyUnavailableException') ?? 0).toBeGreaterThan(0);
    expect(statsAfter.generation).toBeGreaterThan(1);
    // Recovery, not a benchmark: after the faults, at least 40% of the throughput before.
    expect(before.tallies.every((t) => t.ok > 50)).toBe(true);
    expect(after.best).toBeGreaterThanOrEqual(0.4 * before.best);
    for (const window of after.tallies) expect([...window.outcomes.keys()]).toEqual(['ok']); // the HSM is back
    // Nothing leaked: no extra token or session objects, sessions bounded, close prompt.
    expect(statsAfter.objects).toBe(objectsBefore);
    expect(statsAfter.workerSessions).toBeLessThanOrEqual(THREADS);
    expect(closeMs).toBeLessThan(5000);
    expect(unhandled).toEqual([]);
  });
});
