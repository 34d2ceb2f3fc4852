// report.md: the run's machine and versions, the chart and its data, then a
// table per result file with its goals and headline figures.
import { fmt, fmtInt, goalsTable, table } from '../lib/markdown.mjs';
import { bytesLabel } from './render-svg.mjs';

const TITLES = {
  aead: 'AEAD engine (throughput, event loop, memory)',
  pkcs11: 'HSM operations against pkcs11js (SoftHSM2)',
  kms: 'Kms operations against raw pkcs11js (SoftHSM2)',
  envelope: 'Envelope streams and messages against client-node',
  server: 'AWS-KMS-compatible HTTP server',
  multinode: 'Many nodes on one PostgreSQL',
};

function value(h) {
  if (typeof h.value !== 'number') return `${h.value}${h.unit ? ` ${h.unit}` : ''}`;
  // Rates and anything from 100 up as integers; small values keep two digits.
  const n = h.value >= 100 || h.unit === 'ops/s' || h.unit === 'queries/s' || h.unit === 'MiB'
    ? fmtInt(h.value) : fmt(h.value, h.value < 10 ? 2 : 1);
  return h.unit === '×' || h.unit === '%' ? `${n}${h.unit}` : `${n} ${h.unit}`;
}

function machineLine(meta) {
  const m = meta.machine;
  const gib = m.memoryBytes ? ` · ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB RAM` : '';
  return `${m.cpu} · ${m.cores} cores · ${m.arch ?? ''} · ${m.kernel ?? 'kernel unknown'}${gib}`;
}

/** Size × series table of the chart's points (MB/s). */
function chartTable(series) {
  const sizes = [...new Set(series.flatMap((s) => s.points.map((p) => p.bytes)))].sort((a, b) => a - b);
  const cell = (s, bytes) => {
    const p = s.points.find((q) => q.bytes === bytes);
    return p ? (p.mbPerSec >= 100 ? fmtInt(p.mbPerSec) : fmt(p.mbPerSec, p.mbPerSec >= 10 ? 1 : 2)) : '';
  };
  return table(['size', ...series.map((s) => `>${s.name}`)], sizes.map((b) => [bytesLabel(b), ...series.map((s) => cell(s, b))]));
}

export function renderReportMarkdown(report) {
  const { meta } = report;
  const out = ['# hsmkms benchmark report', ''];
  out.push(`Generated ${meta.date} from the results in \`bench/results/\`` +
    `${meta.firstRun ? ` (runs from ${meta.firstRun} to ${meta.lastRun})` : ' (no results yet: run `node bench/run.mjs`)'}.`, '');
  out.push(`- Machine: ${machineLine(meta)}`,
    `- Node ${meta.node}; OpenSSL ${meta.openssl.node ?? 'n/a'} (Node's), ${meta.openssl.addon ?? 'n/a'} (the addon's), ` +
      `${meta.openssl.cli ? `\`${meta.openssl.cli}\`` : 'n/a'} (the \`openssl\` CLI)`,
    `- git ${meta.git ?? 'unknown'} (newest run; every run's commit is below)`);
  for (const [key, values] of Object.entries(meta.mixed)) {
    out.push(`- ⚠ the runs differ in ${key}: ${values.map((v) => (typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v))).join(' / ')}`);
  }
  out.push(`- Goals: ${report.totals.PASS} PASS, ${report.totals.FAIL} FAIL, ${report.totals['NOT RUN']} NOT RUN`);
  if (report.notRun.length) out.push(`- **Not run** (no results): ${report.notRun.join(', ')}`);
  for (const u of report.unreadable) out.push(`- **Unreadable**: ${u.file} (${u.error})`);
  out.push('');

  out.push('## Throughput against message size', '');
  if (report.chart.series.length === 0) {
    out.push('No throughput results.', '');
  } else {
    out.push('![AES-256-GCM encrypt throughput against message size](report.svg)', '');
    out.push('MB/s (MB = 10^6 bytes), encrypt. Series:', '');
    for (const s of report.chart.series) out.push(`- **${s.name}**: ${s.note}`);
    out.push('', chartTable(report.chart.series), '');
  }

  out.push('## Runs', '');
  out.push(table(['file', 'suites', 'date', 'git', 'Node', 'quick'], meta.runs.map((r) => [
    r.file, report.suites[r.file.replace(/\.json$/, '')]?.suites.join(', ') ?? '', r.date ?? '', r.git ?? '', r.node ?? '', r.quick ? 'yes' : '',
  ])), '');

  for (const [file, s] of Object.entries(report.suites)) {
    out.push(`## ${TITLES[file] ?? file}`, '');
    out.push(`\`${file}.json\`, ${s.date ?? 'undated'}${s.git ? `, git ${s.git}` : ''}${s.quick ? ', **--quick**' : ''}; ` +
      `full tables in \`${file}.md\`.`, '');
    if (s.goals.length) out.push(goalsTable(s.goals), '');
    else out.push('No goals for this suite.', '');
    if (s.headline.length) {
      out.push(table(['figure', '>value', 'detail'], s.headline.map((h) => [h.figure, value(h), h.detail ?? ''])), '');
    }
  }
  return `${out.join('\n')}\n`;
}
