// Many nodes on one PostgreSQL: N node processes (default 8; each a Kms with
// a small pool, on one shared soft root) against a private PostgreSQL server
// started for the run. Reports aggregate and per-node ops/s on the hot path
// (encrypt + decrypt + generateDataKey with warm caches), the database
// queries per second all nodes sent meanwhile (the nodes' own counters, and
// the server's committed transactions), and how long a disable on one node
// takes to be honoured on all: with NOTIFY, and with the TTL alone.
// Writes bench/results/multinode.{json,md}.
//
//   node bench/multinode/cluster.mjs [--quick] [--out FILE]
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { RESULTS_DIR, ROOT_DIR, cores, log, parseSuiteArgs } from '../lib/common.mjs';

const require = createRequire(import.meta.url);
const pg = require('pg');
const NODE_SCRIPT = path.join(ROOT_DIR, 'test', 'fixtures', 'multinode-node.cjs');
const START = path.join(ROOT_DIR, 'scripts', 'start-postgres.sh');

const args = parseSuiteArgs();
const NODES = 8;
const POOL_MAX = 2;
const CACHE_TTL_MS = 1000;
const RUN_MS = args.quick ? 2000 : 5000;
const CONCURRENCY = 4;

function startNode(config) {
  const child = fork(NODE_SCRIPT, [JSON.stringify(config)], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, HSMKMS_SILENCE_SOFT_WARNING: '1' },
  });
  let next = 0;
  const pending = new Map();
  child.on('message', (m) => {
    if (m.id === undefined) return;
    const waiter = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) waiter.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
    else waiter.resolve(m.result);
  });
  const ready = new Promise((resolve, reject) => {
    child.on('message', (m) => m.ready && resolve());
    child.on('exit', (code) => reject(new Error(`node exited (${code})`)));
  });
  const call = (name, callArgs) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ id, call: name, args: callArgs });
    });
  return { child, ready, call };
}

async function serverCommits(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()');
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

async function disablePropagation(nodes, listening) {
  const [first] = nodes;
  const { keyMetadata } = await first.call('createKey', {});
  const keyId = keyMetadata.keyId;
  for (const n of nodes) await n.call('encrypt', { keyId, plaintext: new Uint8Array(1) });
  const watches = nodes.map((n) => n.call('untilRefused', { keyId, everyMs: 2, timeoutMs: 10_000 }));
  await first.call('disableKey', { keyId });
  const disabledAt = await first.call('now');
  const lags = (await Promise.all(watches)).map((r) => r.at - disabledAt);
  return { listening, maxMs: Math.max(...lags), perNodeMs: lags };
}

const out = args.out;
const env = Object.fromEntries(
  execFileSync('bash', [START], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.split(/=(.*)/s).slice(0, 2)),
);
const url = env.HSMKMS_TEST_POSTGRES_URL;
const rootDir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-bench-multinode-'));
const started = [];
try {
  const config = (extra = {}) => ({
    root: { soft: { dir: rootDir } },
    store: { connectionString: url, max: POOL_MAX, ...extra },
    cacheTtlMs: CACHE_TTL_MS,
    auditFlushMs: 100,
  });
  // The first node initialises the store and the domain key; the others open it.
  const first = startNode(config());
  started.push(first);
  await first.ready;
  for (let i = 1; i < NODES; i++) started.push(startNode(config()));
  await Promise.all(started.map((n) => n.ready));
  log(`multinode: ${NODES} nodes up (pool max ${POOL_MAX} each)`);

  const { keyMetadata } = await first.call('createKey', { description: 'bench' });
  const keyId = keyMetadata.keyId;
  await Promise.all(started.map((n) => n.call('hotLoop', { keyId, ms: 300, concurrency: 2 })));

  const statsBefore = await Promise.all(started.map((n) => n.call('stats')));
  const commitsBefore = await serverCommits(url);
  const t0 = Date.now();
  const loops = await Promise.all(started.map((n) => n.call('hotLoop', { keyId, ms: RUN_MS, concurrency: CONCURRENCY })));
  const seconds = (Date.now() - t0) / 1000;
  const commitsAfter = await serverCommits(url);
  const statsAfter = await Promise.all(started.map((n) => n.call('stats')));

  const perNode = loops.map((l, i) => ({
    node: i,
    opsPerSec: (3 * (l.counts.ok ?? 0)) / seconds,
    errors: Object.fromEntries(Object.entries(l.counts).filter(([k]) => k !== 'ok' && k !== 'encrypted')),
    queries: statsAfter[i].queries - statsBefore[i].queries,
    calls: Object.fromEntries(
      Object.entries(statsAfter[i].calls)
        .map(([m, n]) => [m, n - (statsBefore[i].calls[m] ?? 0)])
        .filter(([, n]) => n > 0),
    ),
  }));
  const totalQueries = perNode.reduce((n, p) => n + p.queries, 0);
  const hotPath = {
    nodes: NODES,
    poolMaxPerNode: POOL_MAX,
    concurrencyPerNode: CONCURRENCY,
    seconds,
    aggregateOpsPerSec: perNode.reduce((n, p) => n + p.opsPerSec, 0),
    perNode,
    queriesPerSec: totalQueries / seconds,
    serverTransactionsPerSec: (commitsAfter - commitsBefore) / seconds,
  };
  log(`multinode: ${hotPath.aggregateOpsPerSec.toFixed(0)} ops/s aggregate, ${hotPath.queriesPerSec.toFixed(1)} queries/s`);

  const withNotify = await disablePropagation(started, true);
  // Nodes that do not LISTEN: the TTL and the generation check alone.
  const deaf = [];
  for (let i = 0; i < 3; i++) deaf.push(startNode(config({ listen: false })));
  started.push(...deaf);
  await Promise.all(deaf.map((n) => n.ready));
  const withoutNotify = await disablePropagation([first, ...deaf], false);
  log(`multinode: disable honoured on all nodes after ${withNotify.maxMs} ms (NOTIFY), ${withoutNotify.maxMs} ms (TTL only)`);

  const result = {
    date: new Date().toISOString(),
    cpu: { model: os.cpus()[0]?.model ?? 'unknown', cores: cores() },
    node: process.version,
    postgres: execFileSync('bash', ['-c', 'readlink -f "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | head -1)"'], { encoding: 'utf8' }).trim(),
    cacheTtlMs: CACHE_TTL_MS,
    hotPath,
    disablePropagation: { withNotify, withoutNotify },
  };
  const md = [
    '# Many nodes on one PostgreSQL',
    '',
    `${NODES} node processes (pool max ${POOL_MAX} each, ${CONCURRENCY} callers each, soft root) on one private PostgreSQL, ${cores()} cores shared by all, ${seconds.toFixed(1)} s, cache TTL ${CACHE_TTL_MS} ms. An op is one of encrypt, decrypt, generateDataKey.`,
    '',
    '| node | ops/s | queries in run | store calls |',
    '|---:|---:|---:|---|',
    ...perNode.map((p) => `| ${p.node} | ${p.opsPerSec.toFixed(0)} | ${p.queries} | ${Object.entries(p.calls).map(([m, n]) => `${m} ${n}`).join(', ')} |`),
    `| **all** | **${hotPath.aggregateOpsPerSec.toFixed(0)}** | ${totalQueries} | |`,
    '',
    `Database: ${hotPath.queriesPerSec.toFixed(1)} queries/s from all nodes (${hotPath.serverTransactionsPerSec.toFixed(1)} transactions/s seen by the server, including this benchmark's own probes), for ${hotPath.aggregateOpsPerSec.toFixed(0)} ops/s.`,
    '',
    `Disable on one node honoured on all: ${withNotify.maxMs} ms with NOTIFY (${NODES - 1} other nodes), ${withoutNotify.maxMs} ms with the TTL and generation check only (3 nodes that do not LISTEN).`,
    '',
  ].join('\n');
  writeFileSync(path.join(RESULTS_DIR, 'multinode.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(RESULTS_DIR, 'multinode.md'), md);
  if (out) writeFileSync(out, JSON.stringify({ ...result, markdown: md }));
  else process.stdout.write(md);
} finally {
  for (const n of started) n.child.kill('SIGKILL');
  execFileSync('bash', [START, 'stop', env.HSMKMS_TEST_POSTGRES_DIR]);
  rmSync(rootDir, { recursive: true, force: true });
}
