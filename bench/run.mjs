// Benchmark entry (npm run bench). Runs each suite in its own child process,
// so no state (pool size, heap, JIT, allocator) leaks from one to the next,
// then writes bench/results/aead.{json,md,svg} (the AEAD suites) and
// bench/results/pkcs11.{json,md} (the pkcs11 suite) and
// bench/results/kms.{json,md} (the kms suite) and prints the markdown; last,
// bench/results/report.{json,md,svg} from every result file there is.
//
//   node bench/run.mjs [--quick] [--suite throughput|event-loop|memory|pkcs11|kms]...
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR, RESULTS_DIR, ROOT_DIR, log, machineTicks } from './lib/common.mjs';
import { addonFingerprint, machineMeta } from './lib/machine-meta.mjs';
import { opensslCliVersion } from './lib/openssl.mjs';
import { crossoverSize, evaluateGoals, renderMarkdown, renderSvg } from './lib/report.mjs';
import { evaluateKmsGoals, renderKmsMarkdown } from './kms/report.mjs';
import { evaluatePkcs11Goals, renderPkcs11Markdown } from './pkcs11/report.mjs';
import { evaluateEnvelopeGoals, renderEnvelopeMarkdown } from './envelope/report.mjs';
import { evaluateServerGoals, renderServerMarkdown } from './server/report.mjs';
import { evaluateCliGoals, renderCliMarkdown } from './cli/report.mjs';
import { writeReport } from './report/write-report.mjs';

// Node flags per suite (reported in the JSON). --expose-gc lets a suite
// collect garbage between cases, outside any timed section.
const SUITES = {
  throughput: { file: 'aead/throughput.mjs', flags: ['--expose-gc'] },
  'event-loop': { file: 'aead/event-loop.mjs', flags: ['--expose-gc'] },
  memory: { file: 'aead/memory.mjs', flags: [] },
  // HSM operations against pkcs11js on a fresh SoftHSM2 token (own report).
  pkcs11: { file: 'pkcs11/hsm.mjs', flags: ['--expose-gc'] },
  // Whole KMS operations against raw pkcs11js on a fresh SoftHSM2 token (own report).
  kms: { file: 'kms/kms.mjs', flags: ['--expose-gc'] },
  // Envelope streams and messages against @aws-crypto/client-node (own report).
  envelope: { file: 'envelope/envelope.mjs', flags: ['--expose-gc'] },
  // Encrypt over the AWS-KMS-compatible HTTP server (own report).
  server: { file: 'server/http.mjs', flags: [] },
  // The hsmkms command on a 1 GiB file against the library's stream (own report).
  cli: { file: 'cli/cli.mjs', flags: [] },
  // 8 node processes on one private PostgreSQL; writes results/multinode.{json,md} itself.
  multinode: { file: 'multinode/cluster.mjs', flags: [] },
};

// Suites with a report of their own: bench/results/<name>.{json,md}.
const OWN_REPORTS = {
  pkcs11: { evaluate: evaluatePkcs11Goals, render: renderPkcs11Markdown },
  kms: { evaluate: evaluateKmsGoals, render: renderKmsMarkdown },
  envelope: { evaluate: evaluateEnvelopeGoals, render: renderEnvelopeMarkdown },
  server: { evaluate: evaluateServerGoals, render: renderServerMarkdown },
  cli: { evaluate: evaluateCliGoals, render: renderCliMarkdown },
};

function parseArgs(argv) {
  const args = { quick: false, suites: [], waitQuiet: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--wait-quiet') args.waitQuiet = 300;
    else if (a.startsWith('--wait-quiet=')) args.waitQuiet = Number(a.slice(13));
    else if (a === '--suite') args.suites.push(...argv[++i].split(','));
    else if (a.startsWith('--suite=')) args.suites.push(...a.slice(8).split(','));
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node bench/run.mjs [--quick] [--suite NAME[,NAME]] [--wait-quiet[=SECONDS]]\n' +
        `suites: ${Object.keys(SUITES).join(', ')}\n` +
        '--wait-quiet: before each suite, wait (up to SECONDS, default 300) until other\n' +
        `processes use less than ${QUIET_BUSY_PCT}% of the machine's CPU\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  for (const s of args.suites) if (!SUITES[s]) throw new Error(`unknown suite ${s} (have ${Object.keys(SUITES).join(', ')})`);
  if (args.suites.length === 0) args.suites = Object.keys(SUITES);
  return args;
}

const QUIET_BUSY_PCT = 20;

/** Machine-wide busy % over `ms` (nothing of ours runs meanwhile). */
async function busyPct(ms) {
  const a = machineTicks();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = machineTicks();
  return a && b ? (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total) : 0;
}

/** Waits until the machine is quiet for 2 s in a row, or `seconds` pass. */
async function waitQuiet(seconds) {
  const t0 = Date.now();
  let quietFor = 0;
  let last = 0;
  while (Date.now() - t0 < seconds * 1000) {
    last = await busyPct(1000);
    quietFor = last < QUIET_BUSY_PCT ? quietFor + 1 : 0;
    if (quietFor >= 2) return { waitedSec: (Date.now() - t0) / 1000, busyPct: last, quiet: true };
  }
  log(`machine still busy (${last.toFixed(0)}%) after ${seconds} s: running anyway`);
  return { waitedSec: (Date.now() - t0) / 1000, busyPct: last, quiet: false };
}

function runSuite(name, quick) {
  const suite = SUITES[name];
  const out = path.join(RESULTS_DIR, `${name}.tmp`);
  rmSync(out, { force: true });
  const argv = [...suite.flags, path.join(BENCH_DIR, suite.file), '--out', out, ...(quick ? ['--quick'] : [])];
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const before = machineTicks();
    const child = spawn(process.execPath, argv, { cwd: ROOT_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15 * 60 * 1000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`suite ${name} failed (${signal ?? `exit ${code}`})`));
      const result = JSON.parse(readFileSync(out, 'utf8'));
      rmSync(out, { force: true });
      result.nodeFlags = suite.flags;
      const after = machineTicks();
      if (before && after && result.ownCpuTicks != null) {
        // Share of the whole machine's CPU that other processes used while
        // this suite ran: the noise every ratio in it had to live with.
        const busy = after.busy - before.busy;
        const total = after.total - before.total;
        result.machine = {
          busyPct: (100 * busy) / total,
          othersPct: Math.max(0, (100 * (busy - result.ownCpuTicks)) / total),
        };
      }
      log(`suite ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      resolve(result);
    });
  });
}

function metadata(quick) {
  const { aead } = (() => {
    try {
      return { aead: JSON.parse(execFileSync(process.execPath, ['-e',
        'const {aead}=require("./dist/index.js");process.stdout.write(JSON.stringify({openssl:aead.opensslVersion,settings:aead.settings()}))'],
      { cwd: ROOT_DIR, encoding: 'utf8' })) };
    } catch {
      return { aead: null };
    }
  })();
  const { git, loadavg, ...machine } = machineMeta(quick);
  return {
    ...machine,
    openssl: { node: process.versions.openssl, addon: aead?.openssl ?? null, cli: opensslCliVersion() },
    hsmkmsDefaults: aead?.settings ?? null,
    tinybench: JSON.parse(readFileSync(path.join(ROOT_DIR, 'node_modules', 'tinybench', 'package.json'), 'utf8')).version,
    addon: addonFingerprint(),
    git,
    loadavg,
  };
}

const args = parseArgs(process.argv.slice(2));
if (!existsSync(path.join(ROOT_DIR, 'dist', 'index.js'))) {
  throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` (and build the addon) first');
}
mkdirSync(RESULTS_DIR, { recursive: true });

const meta = metadata(args.quick);
const t0 = Date.now();
const suites = {};
for (const name of args.suites) {
  const wait = args.waitQuiet > 0 ? await waitQuiet(args.waitQuiet) : null;
  suites[name] = await runSuite(name, args.quick);
  if (wait) suites[name].waitQuiet = wait;
}
meta.loadavg.end = os.loadavg();
meta.durationSec = (Date.now() - t0) / 1000;
meta.suites = args.suites;

const multinode = suites.multinode;
delete suites.multinode;
if (multinode) process.stdout.write(multinode.markdown);
// Suites with their own report; the rest is the AEAD report.
for (const [name, report] of Object.entries(OWN_REPORTS)) {
  const suite = suites[name];
  delete suites[name];
  if (!suite) continue;
  const goals = report.evaluate(suite);
  const markdown = report.render({ meta, suite, goals });
  writeFileSync(path.join(RESULTS_DIR, `${name}.json`), `${JSON.stringify({ meta, goals, suite }, null, 2)}\n`);
  writeFileSync(path.join(RESULTS_DIR, `${name}.md`), markdown);
  log(`wrote ${path.relative(ROOT_DIR, RESULTS_DIR)}/${name}.{json,md}`);
  process.stdout.write(markdown);
}
// The combined report reads every result file, including those of earlier runs.
const writeCombinedReport = () => {
  writeReport({ resultsDir: RESULTS_DIR });
  log(`wrote ${path.relative(ROOT_DIR, RESULTS_DIR)}/report.{json,md,svg}`);
};
if (Object.keys(suites).length === 0) {
  writeCombinedReport();
  process.exit(0);
}

if (suites.throughput) {
  const { crossover } = suites.throughput;
  suites.throughput.poolWinsFrom = {
    allWorkers: crossoverSize(crossover, 'poolAllVsSync'),
    oneWorker: crossoverSize(crossover, 'pool1VsSync'),
    oneInFlight: crossoverSize(crossover, 'poolSeqVsSync'),
  };
}
const goals = evaluateGoals(suites);
const markdown = renderMarkdown({ meta, suites, goals });
const svg = renderSvg(suites.throughput);

writeFileSync(path.join(RESULTS_DIR, 'aead.json'), `${JSON.stringify({ meta, goals, suites }, null, 2)}\n`);
writeFileSync(path.join(RESULTS_DIR, 'aead.md'), markdown);
if (svg) writeFileSync(path.join(RESULTS_DIR, 'aead.svg'), svg);
log(`total ${meta.durationSec.toFixed(1)} s; wrote ${path.relative(ROOT_DIR, RESULTS_DIR)}/aead.{json,md${svg ? ',svg' : ''}}`);
process.stdout.write(markdown);
writeCombinedReport();
