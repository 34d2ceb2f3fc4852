// AES-256-GCM encryption throughput, every engine side by side in one run:
// openssl speed (single and -multi), node:crypto one-shot, WebCrypto, and
// hsmkms sync / async (1 worker, all workers) / batch; plus the
// inlineThreshold crossover (pool vs inline), and, to separate the cost of
// allocating a new output per call from the engine's, 1 worker writing into
// recycled buffers (options.output) at 64 KiB and 1 MiB. Cases run in rounds,
// each round visiting every size and case in turn (order reversed on odd
// rounds), so a burst of noise on this shared machine hits one round of every
// case rather than every round of one case. Reported: the median over rounds.
import crypto from 'node:crypto';
import {
  KiB, MiB, cores, emit, loadHsmkms, log, measureSync, measureWindow, median, parseSuiteArgs, spreadPct,
} from '../lib/common.mjs';
import { opensslSpeed } from '../lib/openssl.mjs';

const args = parseSuiteArgs();
const { aead } = loadHsmkms();
const CORES = cores();
const gc = globalThis.gc ?? (() => {});

const cfg = args.quick
  ? { rounds: 1, syncMs: 80, windowMs: 100, opensslSeconds: 1, opensslAead: false }
  : { rounds: 3, syncMs: 300, windowMs: 400, opensslSeconds: 1, opensslAead: true };

const SIZES = [64, 1 * KiB, 4 * KiB, 64 * KiB, 1 * MiB];
const CROSSOVER_SIZES = [1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB];
const WEBCRYPTO_IN_FLIGHT = 64;
const BATCHES_IN_FLIGHT = 4;

/**
 * Pool cases keep about 4 MiB in flight (8..256 messages): enough to keep
 * every worker busy, small enough that outputs stay in cache.
 */
const poolWindow = (size) => Math.min(256, Math.max(8, Math.floor((4 * MiB) / size)));
/** Messages per batch: about 4 MiB a batch, 8..1024 messages (8 at 1 MiB, to bound memory). */
const batchCount = (size) => Math.min(1024, Math.max(8, Math.floor((4 * MiB) / size)));
/** Calls per tinybench iteration, so that one iteration is well above timer resolution. */
const innerCalls = (size) => Math.min(512, Math.max(1, Math.floor((64 * KiB) / (size + 64))));

const DEFAULT_INLINE = aead.settings().inlineThreshold;
const DEFAULT_THREADS = aead.settings().threads;

// Case definitions. `peer` is the case a row's ratio is taken against.
const CASES = [
  { id: 'openssl', label: 'openssl speed (1 process)', peer: null, kind: 'openssl' },
  { id: 'openssl-multi', label: `openssl speed -multi ${CORES}`, peer: 'openssl', kind: 'openssl' },
  { id: 'openssl-aead', label: 'openssl speed -aead (1 process)', peer: 'openssl', kind: 'openssl', optional: true },
  { id: 'node', label: 'node:crypto one-shot', peer: 'openssl', kind: 'sync' },
  { id: 'webcrypto', label: `WebCrypto subtle.encrypt (${WEBCRYPTO_IN_FLIGHT} in flight)`, peer: 'node', kind: 'window' },
  { id: 'sync', label: 'hsmkms encryptSync', peer: 'node', kind: 'sync' },
  { id: 'async-1', label: 'hsmkms encrypt, 1 worker', peer: 'openssl', kind: 'window' },
  { id: 'async-1-out', label: 'hsmkms encrypt, 1 worker, recycled output buffers', peer: 'openssl', kind: 'window', sizes: [64 * KiB, 1 * MiB] },
  { id: 'async-all', label: `hsmkms encrypt, ${CORES} workers`, peer: 'async-1', kind: 'window' },
  { id: 'async-all-out', label: `hsmkms encrypt, ${CORES} workers, recycled output buffers`, peer: 'async-1-out', kind: 'window', sizes: [64 * KiB, 1 * MiB] },
  { id: 'batch', label: 'hsmkms encryptBatch', peer: 'webcrypto', kind: 'window' },
  { id: 'async-seq', label: `hsmkms encrypt, ${CORES} workers, 1 in flight`, peer: 'sync', kind: 'window' },
];

function casesFor(size) {
  const ids = new Set();
  if (SIZES.includes(size)) {
    for (const c of CASES) {
      if (c.id !== 'async-seq' && (!c.optional || cfg.opensslAead) && (!c.sizes || c.sizes.includes(size))) ids.add(c.id);
    }
  }
  if (CROSSOVER_SIZES.includes(size)) for (const id of ['sync', 'async-1', 'async-all', 'async-seq']) ids.add(id);
  return CASES.filter((c) => ids.has(c.id));
}

function methodOf(c, size) {
  const s = cfg.opensslSeconds;
  switch (c.id) {
    case 'openssl': return `openssl speed -elapsed -evp aes-256-gcm -bytes ${size} -seconds ${s}`;
    case 'openssl-multi': return `same with -multi ${CORES} (sum over processes)`;
    case 'openssl-aead': return `same with -aead (IV + tag per message)`;
    case 'node': return 'tinybench; createCipheriv + update + final + getAuthTag, random IV';
    case 'sync': return 'tinybench; encryptSync, random IV (native)';
    case 'webcrypto': return `sliding window, ${WEBCRYPTO_IN_FLIGHT} in flight, random IV`;
    case 'async-1': return `sliding window, ${poolWindow(size)} in flight; threads 1, inlineThreshold 0`;
    case 'async-all-out': return `as "${CORES} workers", each call writing into one of ${poolWindow(size)} preallocated buffers (options.output)`;
    case 'async-1-out': return `as "1 worker", each call writing into one of ${poolWindow(size)} preallocated buffers (options.output): no allocation per message`;
    case 'async-all': return `sliding window, ${poolWindow(size)} in flight; threads ${CORES}, inlineThreshold 0`;
    case 'async-seq': return `1 in flight (await each); threads ${CORES}, inlineThreshold 0`;
    case 'batch': return `sliding window, ${BATCHES_IN_FLIGHT} batches of ${batchCount(size)} in flight; threads ${CORES}; ops/s per message`;
    default: return '';
  }
}

// Per-size fixtures, built once.
const nodeKey = crypto.randomBytes(32);
const webKey = await crypto.subtle.importKey('raw', nodeKey, 'AES-GCM', false, ['encrypt']);
const key = aead.generateKey();
const fixtures = new Map();
function fixture(size) {
  if (!fixtures.has(size)) {
    const count = batchCount(size);
    const data = crypto.randomBytes(size * count);
    const messages = Array.from({ length: count }, (_, i) => data.subarray(i * size, (i + 1) * size));
    fixtures.set(size, { input: messages[0], messages });
  }
  return fixtures.get(size);
}

function nodeOneShot(input) {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', nodeKey, iv);
  const ct = cipher.update(input);
  cipher.final();
  return [iv, ct, cipher.getAuthTag()];
}

async function measureWindowCase(c, size) {
  const { input, messages } = fixture(size);
  const time = { durationMs: cfg.windowMs };
  switch (c.id) {
    case 'webcrypto':
      return measureWindow({
        ...time, inFlight: WEBCRYPTO_IN_FLIGHT,
        start: () => crypto.subtle.encrypt({ name: 'AES-GCM', iv: crypto.getRandomValues(new Uint8Array(12)) }, webKey, input),
      });
    case 'async-1':
    case 'async-1-out':
    case 'async-all-out':
    case 'async-all':
    case 'async-seq': {
      aead.configure({ threads: c.id.startsWith('async-1') ? 1 : CORES, inlineThreshold: 0 });
      const inFlight = c.id === 'async-seq' ? 1 : poolWindow(size);
      let start = () => aead.encrypt(key, input);
      if (c.id.endsWith('-out')) {
        // As many buffers as the window: a buffer is reused only after the
        // call that wrote it has settled (lanes take them round-robin).
        const outputs = Array.from({ length: inFlight }, () => Buffer.allocUnsafeSlow(size + 28));
        const free = [...outputs];
        start = async () => {
          const output = free.pop();
          try {
            return await aead.encrypt(key, input, { output });
          } finally {
            free.push(output);
          }
        };
      }
      try {
        return await measureWindow({ ...time, inFlight, start });
      } finally {
        aead.configure({ threads: DEFAULT_THREADS, inlineThreshold: DEFAULT_INLINE });
      }
    }
    case 'batch':
      aead.configure({ threads: CORES });
      return measureWindow({
        ...time, inFlight: BATCHES_IN_FLIGHT, opsPerCall: messages.length, start: () => aead.encryptBatch(key, messages),
      });
    default:
      throw new Error(`no window case ${c.id}`);
  }
}

async function measureOpenssl(c, size) {
  const r = await opensslSpeed({
    size, seconds: cfg.opensslSeconds, multi: c.id === 'openssl-multi' ? CORES : 0, aead: c.id === 'openssl-aead',
  });
  return { opsPerSec: r.opsPerSec };
}

async function measureSyncCases(syncCases, size) {
  const { input } = fixture(size);
  const fns = { node: () => nodeOneShot(input), sync: () => aead.encryptSync(key, input) };
  const r = await measureSync(syncCases.map((c) => ({ id: c.id, fn: fns[c.id] })), {
    timeMs: cfg.syncMs, inner: innerCalls(size),
  });
  return r;
}

// Sanity: what we time must decrypt back (guards against measuring a no-op).
{
  const p = crypto.randomBytes(100);
  if (!aead.decryptSync(key, aead.encryptSync(key, p)).equals(p)) throw new Error('hsmkms round trip failed');
}

const allSizes = [...new Set([...SIZES, ...CROSSOVER_SIZES])].sort((a, b) => a - b);
const perRound = new Map(); // `${id}@${size}` -> [ops/s per round]
const record = (id, size, opsPerSec) => {
  const k = `${id}@${size}`;
  if (!perRound.has(k)) perRound.set(k, []);
  perRound.get(k).push(opsPerSec);
};

const t0 = Date.now();
for (let round = 0; round < cfg.rounds; round++) {
  const sizes = round % 2 ? [...allSizes].reverse() : allSizes;
  for (const size of sizes) {
    const cases = casesFor(size);
    // Units of work: each openssl/window case alone, the sync cases together in one tinybench.
    const units = [];
    const syncCases = cases.filter((c) => c.kind === 'sync');
    for (const c of cases) {
      if (c.kind === 'sync') {
        if (c === syncCases[0]) units.push({ sync: syncCases });
      } else {
        units.push({ one: c });
      }
    }
    if (round % 2) units.reverse();
    for (const unit of units) {
      gc();
      if (unit.sync) {
        const r = await measureSyncCases(unit.sync, size);
        for (const c of unit.sync) record(c.id, size, r[c.id].opsPerSec);
      } else {
        const c = unit.one;
        const r = c.kind === 'openssl' ? await measureOpenssl(c, size) : await measureWindowCase(c, size);
        record(c.id, size, r.opsPerSec);
      }
    }
    log(`throughput: round ${round + 1}/${cfg.rounds} size ${size} done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

const rows = [];
for (const size of allSizes) {
  for (const c of casesFor(size)) {
    const rounds = perRound.get(`${c.id}@${size}`);
    const ops = median(rounds);
    const peerRounds = c.peer ? perRound.get(`${c.peer}@${size}`) : undefined;
    rows.push({
      suite: 'throughput',
      id: c.id,
      case: c.label,
      size,
      opsPerSec: ops,
      mbPerSec: (ops * size) / 1e6,
      peer: peerRounds ? c.peer : null,
      // Median of per-round ratios: each ratio pairs two measurements taken
      // seconds apart, which cancels slow drifts in machine load.
      ratio: peerRounds ? median(rounds.map((v, i) => v / peerRounds[i])) : null,
      rounds,
      spreadPct: spreadPct(rounds),
      method: methodOf(c, size),
    });
  }
}

emit(args, {
  suite: 'throughput',
  config: {
    ...cfg, cores: CORES, sizes: SIZES, crossoverSizes: CROSSOVER_SIZES,
    gcBetweenCases: typeof globalThis.gc === 'function',
    defaultInlineThreshold: DEFAULT_INLINE,
    mb: '1 MB = 1e6 bytes',
  },
  durationSec: (Date.now() - t0) / 1000,
  rows,
  crossover: CROSSOVER_SIZES.map((size) => {
    const sync = perRound.get(`sync@${size}`);
    const one = perRound.get(`async-1@${size}`);
    const all = perRound.get(`async-all@${size}`);
    const seq = perRound.get(`async-seq@${size}`);
    return {
      size,
      syncOpsPerSec: median(sync),
      pool1OpsPerSec: median(one),
      poolAllOpsPerSec: median(all),
      poolSeqOpsPerSec: median(seq),
      poolAllVsSync: median(all.map((v, i) => v / sync[i])),
      pool1VsSync: median(one.map((v, i) => v / sync[i])),
      poolSeqVsSync: median(seq.map((v, i) => v / sync[i])),
    };
  }),
});
