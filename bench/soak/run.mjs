// `npm run soak`: a bounded soak of hsmkms on a fresh SoftHSM2 token. Mixed
// operations with a steady number in flight until both the least run time
// and the least operation count are reached; samples memory, fds and HSM
// objects every few seconds; judges the slopes over the second half and
// writes bench/results/soak.{json,md}. Exit code 1 on any FAIL.
//   npm run soak                              10 min and 1,000,000 ops (defaults)
//   npm run soak -- --seconds 15 --ops 0      quick mode (the soak test uses it)
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { loadHsmkms, log, machineTicks, ownCpuTicks } from '../lib/common.mjs';
import { makeSoftHsmToken, softhsmVersion } from '../lib/softhsm.mjs';
import { slopes, verdicts } from './analysis.mjs';
import { openObjectCounter } from './hsm-objects.mjs';
import { parseSoakOptions } from './options.mjs';
import { writeSoakResults, soakMeta } from './report.mjs';
import { makeSampler } from './sampler.mjs';
import { makeWorkload, MIX } from './workload.mjs';

const options = parseSoakOptions();
const token = makeSoftHsmToken({ label: 'hsmkms-soak', prefix: 'hsmkms-soak-' });
const storeDir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-soak-store-'));
process.on('exit', () => rmSync(storeDir, { recursive: true, force: true }));

const require = createRequire(import.meta.url);
const hsmkms = loadHsmkms();
const meta = soakMeta({ quick: options.quick, opensslAddon: hsmkms.aead.opensslVersion, softhsm: softhsmVersion(), pkcs11js: require('pkcs11js/package.json').version });
// The Kms's clock: moved 8 days ahead at each purge so that keys scheduled
// for deletion (7 days at least) can be purged within the run.
const DAY_MS = 86_400_000;
let clockOffsetMs = 0;
const kms = await hsmkms.Kms.open({
  root: { pkcs11: { module: token.module, tokenLabel: token.label, pin: token.pin } },
  store: path.join(storeDir, 'kms.db'),
  now: () => new Date(Date.now() + clockOffsetMs),
});
const counter = openObjectCounter(token, kms);
const control = await counter.control();
if (!control.ok) log(`soak: the HSM object counter failed its positive control: ${JSON.stringify(control)}`);

const CREATE_EVERY = options.lifecycleEvery;
const ROTATE_EVERY = options.lifecycleEvery;
const POOL = 4;
const workload = await makeWorkload({ kms, hsmkms, passDeletionWindow: () => (clockOffsetMs += 8 * DAY_MS), poolSize: POOL, createEvery: CREATE_EVERY, rotateEvery: ROTATE_EVERY });

let ops = 0;
let started = 0;
let errors = 0;
const errorCodes = {};
const t0 = performance.now();
const cpu0 = { own: ownCpuTicks(), machine: machineTicks() };
const sample = makeSampler({ t0, ops: () => ops, counter, aead: hsmkms.aead });
const samples = [await sample()];
const elapsed = () => (performance.now() - t0) / 1000;
const done = () => (elapsed() >= options.seconds && ops >= options.ops) || elapsed() >= options.maxSeconds;

// One lane keeps one operation in flight; `inFlight` lanes run side by side.
async function lane() {
  while (!done()) {
    const i = started++;
    try {
      // Not `ops += await ...`: that reads `ops` before the await and loses the other lanes' counts.
      const made = await workload.step(i);
      ops += made;
    } catch (error) {
      errors++;
      const code = `${error?.soakOperation ?? 'lifecycle event'}: ${error?.code ?? error?.name ?? 'Error'}`;
      if ((errorCodes[code] = (errorCodes[code] ?? 0) + 1) <= 3) log(`soak: operation failed: ${code}: ${error?.message}`);
    }
  }
}

let sampling = Promise.resolve();
const timer = setInterval(() => {
  sampling = sampling.then(async () => {
    const s = await sample();
    samples.push(s);
    log(`soak ${s.tSec.toFixed(0)} s: ${ops.toLocaleString('en-US')} ops, RSS ${(s.rss / 2 ** 20).toFixed(1)} MiB, heap ${(s.heapUsed / 2 ** 20).toFixed(1)} MiB, ` +
      `fds ${s.fds}, HSM objects ${s.hsmObjects} (token ${s.tokenObjects}, cached ${s.cachedKeys}), errors ${errors}`);
  });
}, options.sampleSeconds * 1000);

await Promise.all(Array.from({ length: options.inFlight }, lane));
clearInterval(timer);
await sampling;
samples.push(await sample());
const seconds = elapsed();
const cpu1 = { own: ownCpuTicks(), machine: machineTicks() };

const s = slopes(samples);
const run = {
  seconds,
  ops,
  errors,
  errorCodes,
  minOps: options.ops,
  minSeconds: options.seconds,
  maxSeconds: options.maxSeconds,
  stoppedAtMax: seconds >= options.maxSeconds && ops < options.ops,
  inFlight: options.inFlight,
  sampleSeconds: options.sampleSeconds,
  poolSize: POOL,
  createEvery: CREATE_EVERY,
  rotateEvery: ROTATE_EVERY,
  mix: MIX,
  counts: workload.counts,
  lifecycle: workload.lifecycle,
  control: { ok: control.ok, delta: control.delta },
  cacheCapacity: 1024, // HsmConfig::key_cache_capacity default (native/core/pkcs11/hsm.h)
  // The addon counts in its own call, a moment apart from pkcs11js's: a key
  // unwrapped or evicted in between makes them differ by one or two.
  addonCountAgrees: samples.filter((x) => x.addonObjects === x.hsmObjects).length,
  addonCountMaxDiff: Math.max(...samples.map((x) => Math.abs(x.addonObjects - x.hsmObjects))),
  // Share of the machine's CPU that went to other processes while the soak ran.
  othersPct: cpu0.machine && cpu1.machine
    ? Math.max(0, (100 * (cpu1.machine.busy - cpu0.machine.busy - (cpu1.own - cpu0.own))) / (cpu1.machine.total - cpu0.machine.total))
    : NaN,
};
const verdict = verdicts(run, s);

counter.close();
await kms.close();

meta.loadavg.end = os.loadavg();
const markdown = writeSoakResults(options.outDir, { meta, run, slopes: s, verdict, samples });
process.stdout.write(markdown);
log(`soak: ${verdict.pass ? 'PASS' : 'FAIL'}; wrote ${path.join(options.outDir, 'soak.{json,md}')}`);
process.exitCode = verdict.pass ? 0 : 1;
