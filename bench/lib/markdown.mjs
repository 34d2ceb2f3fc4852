// Number formats, markdown tables and goal lists shared by the reports.
import { median } from './common.mjs';

export const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
export const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
export const fmtUs = (x) => (Number.isFinite(x) ? (x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : `${Math.round(x)} µs`) : 'n/a');

/** Median of per-round ratios a/b (paired by round). */
export function pairedRatio(a, b) {
  if (!a || !b) return NaN;
  return median(a.rounds.map((v, i) => v / b.rounds[i]));
}

/** A markdown table; a header starting with '>' is right-aligned. */
export function table(header, rows) {
  const names = header.map((h) => h.replace(/^>/, ''));
  const align = header.map((h) => (h.startsWith('>') ? '---:' : '---'));
  const cell = (c) => String(c).replace(/\|/g, '\\|');
  return [`| ${names.join(' | ')} |`, `|${align.join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/**
 * A goal list for one suite: `add({ goal, target, measured, pass, detail,
 * ran, unit })` flags goals measured while other processes took more than a
 * quarter of the machine (the ratio still compares like with like).
 */
export function goalList(suite) {
  const goals = [];
  const others = suite?.machine?.othersPct;
  const add = ({ goal, target, measured, pass, detail, ran = true, unit = '×' }) => {
    goals.push({
      goal, target, measured, unit,
      detail: others > 25 ? `${detail}; ⚠ other processes used ${fmt(others, 0)}% of the CPU` : detail,
      result: ran ? (pass ? 'PASS' : 'FAIL') : 'NOT RUN',
    });
  };
  return { goals, add };
}

/** The goals as a markdown table. */
export function goalsTable(goals) {
  return table(['goal', 'target', '>measured', 'result', 'detail'], goals.map((g) => [
    g.goal, g.target, Number.isFinite(g.measured) ? `${fmt(g.measured)}${g.unit}` : 'n/a',
    g.result === 'PASS' ? 'PASS' : `**${g.result}**`, g.detail,
  ]));
}

/** The run's line under a title: date, machine, versions, load, commit, addon, duration. */
export function runLine(meta, suite, versions) {
  return `${meta.date} · ${meta.cpu.model} · ${meta.cpu.cores} cores · Node ${meta.node} · ${versions}` +
    `${meta.quick ? ' · **--quick**' : ''} · load avg ${meta.loadavg.start.map((x) => x.toFixed(2)).join('/')} → ` +
    `${meta.loadavg.end.map((x) => x.toFixed(2)).join('/')} · git ${meta.git}` +
    `${meta.addon ? ` · addon ${meta.addon.sha256}` : ''} · ${fmt(suite.durationSec, 0)} s`;
}
