// The few figures per result file worth reading first, as
// { figure, value, unit, detail? }. The suites' own .md files keep the rest.

const KiB = 1024;
const MiB = 1024 * KiB;

const byId = (rows, id, size) => rows?.find((r) => r.id === id && (size === undefined || r.size === size));

/** Per operation, the named variants (hsmkms against pkcs11js) with p99. */
function opRows(rows = [], variants) {
  return variants.flatMap((variant) => rows.filter((r) => r.variant === variant))
    .sort((a, b) => rows.indexOf(a) - rows.indexOf(b))
    .map((r) => ({ figure: `${r.opLabel ?? r.op}: ${r.case}`, value: r.opsPerSec, unit: 'ops/s',
      detail: Number.isFinite(r.p99Us) ? `p99 ${(r.p99Us / 1000).toFixed(2)} ms` : '' }));
}

function aead(json) {
  const out = [];
  const tp = json.suites?.throughput;
  for (const size of [64, MiB]) {
    for (const id of ['openssl', 'node', 'webcrypto', 'sync', 'async-all', 'batch']) {
      const r = byId(tp?.rows, id, size);
      if (r) out.push({ figure: `encrypt ${size === MiB ? '1 MiB' : `${size} B`}: ${r.case}`, value: r.mbPerSec, unit: 'MB/s',
        detail: `${Math.round(r.opsPerSec).toLocaleString('en-US')} ops/s` });
    }
  }
  const from = tp?.poolWinsFrom?.allWorkers;
  if (tp?.poolWinsFrom) out.push({ figure: 'the worker pool beats encryptSync from', value: from ? (from >= KiB ? `${from / KiB} KiB` : `${from} B`) : 'none measured', unit: '' });
  for (const r of json.suites?.['event-loop']?.rows ?? []) out.push({ figure: `event-loop p99: ${r.case}`, value: r.p99Ms, unit: 'ms' });
  for (const r of json.suites?.memory?.rows ?? []) {
    out.push({ figure: `peak RSS growth / in flight: ${r.case}`, value: r.growthPerInFlight, unit: '×' });
  }
  return out;
}

function envelope(json) {
  const out = (json.suite?.rows ?? []).map((r) => ({ figure: r.label, value: r.value, unit: r.unit }));
  const rss = json.suite?.rss;
  if (rss?.vmHwmKiB) out.push({ figure: `peak RSS, ${(rss.streamBytes / 2 ** 30).toFixed(2)} GiB stream round trip`, value: rss.vmHwmKiB / 1024, unit: 'MiB' });
  return out;
}

function server(json) {
  const s = json.suite ?? {};
  const out = [];
  if (s.opsPerSec) out.push({ figure: `${s.case}, ${s.concurrency} in flight`, value: s.opsPerSec, unit: 'ops/s' });
  if (s.latencyMs) out.push({ figure: 'latency p50 / p99', value: `${s.latencyMs.p50.toFixed(1)} / ${s.latencyMs.p99.toFixed(1)}`, unit: 'ms' });
  if (s.directKms) out.push({ figure: 'the same Encrypt called on Kms directly', value: s.directKms.opsPerSec, unit: 'ops/s' });
  if (s.serverCpu?.split?.sigv4) out.push({ figure: 'SigV4 verification share of server CPU', value: s.serverCpu.split.sigv4.pct, unit: '%' });
  return out;
}

function multinode(json) {
  const out = [];
  const hot = json.hotPath;
  if (hot) {
    out.push({ figure: `${hot.nodes} nodes on one PostgreSQL, all nodes`, value: hot.aggregateOpsPerSec, unit: 'ops/s' });
    out.push({ figure: 'database queries from all nodes', value: hot.queriesPerSec, unit: 'queries/s' });
  }
  const d = json.disablePropagation;
  if (d?.withNotify) out.push({ figure: 'disable seen on every node, with NOTIFY', value: d.withNotify.maxMs, unit: 'ms' });
  if (d?.withoutNotify) out.push({ figure: 'disable seen on every node, TTL only', value: d.withoutNotify.maxMs, unit: 'ms' });
  return out;
}

function cli(json) {
  return (json.suite?.rows ?? []).map((r) => ({ figure: r.label, value: r.value, unit: r.unit }));
}

const HEADLINES = {
  aead,
  pkcs11: (json) => opRows(json.suite?.rows, ['hsmkms-8', 'pkcs11js-sync', 'pkcs11js-async-8']),
  kms: (json) => opRows(json.suite?.rows, ['hsmkms-64', 'pkcs11js-sync', 'pkcs11js-async-64']),
  envelope,
  server,
  multinode,
  cli,
};

export function suiteHeadlines(file, json) {
  return (HEADLINES[file] ?? (() => []))(json);
}
