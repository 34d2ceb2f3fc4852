// The report's metadata: the machine and versions that measured the results
// (from the newest run's meta block), and the date and commit of every run,
// since suites are often re-run one at a time.
import os from 'node:os';

/** One result file's run, in one shape (multinode.json has no meta block). */
export function runOf(file, json) {
  const m = json.meta ?? json;
  return {
    file: `${file}.json`,
    date: m.date ?? null,
    git: m.git ?? null,
    quick: m.quick ?? null,
    node: m.node ?? null,
    cpu: m.cpu?.model ?? null,
    cores: m.cpu?.cores ?? null,
    arch: m.cpu?.arch ?? null,
    kernel: m.kernel ?? null,
    memoryBytes: m.memoryBytes ?? null,
    openssl: m.openssl ?? null,
  };
}

/** Fields that differ between runs (a report mixing machines should say so). */
function mixed(runs) {
  const out = {};
  for (const key of ['cpu', 'cores', 'node', 'kernel']) {
    const values = [...new Set(runs.map((r) => r[key]).filter((v) => v != null))];
    if (values.length > 1) out[key] = values;
  }
  const openssl = [...new Set(runs.map((r) => r.openssl && JSON.stringify(r.openssl)).filter(Boolean))];
  if (openssl.length > 1) out.openssl = openssl.map((s) => JSON.parse(s));
  return out;
}

export function reportMeta(results, now = new Date()) {
  const runs = Object.entries(results).map(([file, json]) => runOf(file, json))
    .sort((a, b) => String(a.date).localeCompare(String(b.date)));
  // The newest run with a full meta block (OpenSSL versions) describes the machine.
  const full = runs.filter((r) => r.openssl);
  const newest = full.at(-1) ?? runs.at(-1);
  const machine = newest
    ? { cpu: newest.cpu, cores: newest.cores, arch: newest.arch, kernel: newest.kernel, memoryBytes: newest.memoryBytes }
    : { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism?.() ?? os.cpus().length, arch: process.arch,
      kernel: `${os.type()} ${os.release()}`, memoryBytes: os.totalmem() };
  return {
    date: now.toISOString(),
    source: newest ? `newest run (${newest.file}, ${newest.date})` : 'this process (no results)',
    firstRun: runs[0]?.date ?? null,
    lastRun: runs.at(-1)?.date ?? null,
    machine,
    node: newest?.node ?? process.version,
    openssl: {
      node: newest?.openssl?.node ?? (newest ? null : process.versions.openssl),
      addon: newest?.openssl?.addon ?? null,
      cli: newest?.openssl?.cli ?? null,
    },
    git: newest?.git ?? null,
    runs: runs.map(({ file, date, git, quick, node }) => ({ file, date, git, quick, node })),
    mixed: mixed(runs),
  };
}
