// Turns the suites' JSON into goals (PASS/FAIL), a markdown report and an
// SVG chart. Every ratio compares two measurements of the same run.
import { median } from './common.mjs';
import { fmt, fmtInt, pairedRatio, table } from './markdown.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;

export function sizeLabel(bytes) {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

const fmtMB = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : 'n/a');
const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;

function row(suite, id, size) {
  return suite?.rows.find((r) => r.id === id && (size === undefined || r.size === size));
}

/** Evaluates every goal; a goal whose suite did not run is reported as such. */
export function evaluateGoals(suites) {
  const tp = suites.throughput;
  const el = suites['event-loop'];
  const mem = suites.memory;
  const goals = [];
  // A goal measured while other processes took much of the machine is
  // flagged: its ratio still compares like with like, but with less margin.
  const add = ({ goal, target, measured, pass, detail: d, ran, suite }) => {
    const detail = d || '';
    const others = suite?.machine?.othersPct;
    goals.push({
      goal, target, measured,
      detail: others > 25 ? `${detail}; ⚠ other processes used ${fmt(others, 0)}% of the CPU` : detail,
      result: ran ? (pass ? 'PASS' : 'FAIL') : 'NOT RUN',
      othersPct: others ?? null,
    });
  };

  // The engine itself, measured as `openssl speed` is: writing into reused
  // buffers (options.output), so no page faults from fresh allocations.
  for (const size of [64 * KiB, 1 * MiB]) {
    const r = row(tp, 'async-1-out', size);
    add({
      goal: `hsmkms 1 worker (recycled outputs) vs openssl speed (1 process), ${sizeLabel(size)}`, target: '≥ 0.9×',
      measured: r?.ratio, pass: r?.ratio >= 0.9, ran: Boolean(r), suite: tp,
      detail: r && `${fmtMB(r.mbPerSec)} vs ${fmtMB(row(tp, 'openssl', size)?.mbPerSec)} MB/s`,
    });
  }
  {
    const r = row(tp, 'async-all-out', 1 * MiB);
    add({
      goal: 'hsmkms all workers vs 1 worker (recycled outputs), 1 MiB', target: '≥ 1.7×',
      measured: r?.ratio, pass: r?.ratio >= 1.7, ran: Boolean(r), suite: tp,
      detail: r && `${fmtMB(r.mbPerSec)} vs ${fmtMB(row(tp, 'async-1-out', 1 * MiB)?.mbPerSec)} MB/s`,
    });
    const n = row(tp, 'node', 1 * MiB);
    const ratio = pairedRatio(r, n);
    add({
      goal: 'hsmkms all workers (recycled outputs) vs node:crypto one-shot, 1 MiB', target: '≥ 2×',
      measured: ratio, pass: ratio >= 2, ran: Boolean(r && n), suite: tp,
      detail: r && n && `${fmtMB(r.mbPerSec)} vs ${fmtMB(n.mbPerSec)} MB/s`,
    });
  }
  for (const size of [64 * KiB, 1 * MiB]) {
    const r = row(tp, 'async-1', size);
    add({
      goal: `hsmkms 1 worker vs openssl speed (1 process), ${sizeLabel(size)}`, target: '≥ 0.9×',
      measured: r?.ratio, pass: r?.ratio >= 0.9, ran: Boolean(r), suite: tp,
      detail: r && `${fmtMB(r.mbPerSec)} vs ${fmtMB(row(tp, 'openssl', size)?.mbPerSec)} MB/s`,
    });
  }
  {
    const r = row(tp, 'async-all', 1 * MiB);
    const multi = row(tp, 'openssl-multi', 1 * MiB);
    add({
      goal: 'hsmkms all workers vs 1 worker, 1 MiB', target: '≥ 1.7×',
      measured: r?.ratio, pass: r?.ratio >= 1.7, ran: Boolean(r), suite: tp,
      detail: r && `${fmtMB(r.mbPerSec)} vs ${fmtMB(row(tp, 'async-1', 1 * MiB)?.mbPerSec)} MB/s; ` +
        `the machine's own scaling in this run: openssl -multi vs 1 process ${fmt(multi?.ratio)}×`,
    });
    const n = row(tp, 'node', 1 * MiB);
    const ratio = pairedRatio(r, n);
    add({
      goal: 'hsmkms all workers vs node:crypto one-shot, 1 MiB', target: '≥ 2×',
      measured: ratio, pass: ratio >= 2, ran: Boolean(r && n), suite: tp,
      detail: r && n && `${fmtMB(r.mbPerSec)} vs ${fmtMB(n.mbPerSec)} MB/s`,
    });
  }
  for (const size of [64, 1 * KiB]) {
    const r = row(tp, 'sync', size);
    add({
      goal: `hsmkms encryptSync vs node:crypto one-shot, ${sizeLabel(size)}`, target: '≥ 3×',
      measured: r?.ratio, pass: r?.ratio >= 3, ran: Boolean(r), suite: tp,
      detail: r && `${fmtInt(r.opsPerSec)} vs ${fmtInt(row(tp, 'node', size)?.opsPerSec)} ops/s`,
    });
  }
  {
    const r = row(tp, 'batch', 64);
    add({
      goal: 'hsmkms encryptBatch vs WebCrypto (64 in flight), 64 B', target: '≥ 10×',
      measured: r?.ratio, pass: r?.ratio >= 10, ran: Boolean(r), suite: tp,
      detail: r && `${fmtInt(r.opsPerSec)} vs ${fmtInt(row(tp, 'webcrypto', 64)?.opsPerSec)} msg/s`,
    });
  }
  const hs = el ? el.rows.filter((r) => r.goal) : [];
  const idle = el?.rows.find((r) => r.id === 'idle');
  if (hs.length === 0) add({ goal: 'event-loop p99 while hsmkms encrypts', target: '< 5 ms', measured: NaN, ran: false });
  for (const r of hs) {
    add({
      goal: `event-loop p99 while hsmkms encrypts ${sizeLabel(r.totalBytes)} (${r.id.replace('hsmkms-', '')} in flight)`,
      target: '< 5 ms', measured: r.p99Ms, pass: r.p99Ms < 5, ran: true, suite: el,
      detail: `median of ${r.runs.length}; worst p99 ${fmt(r.worstP99Ms)} ms, max ${fmt(r.maxMs)} ms; ` +
        `idle floor p99 ${fmt(idle?.p99Ms)} ms`,
    });
  }
  {
    const rows = (mem?.rows ?? []).filter((r) => !r.recycled);
    const worstRow = rows.reduce((w, r) => (!w || r.growthPerInFlight > w.growthPerInFlight ? r : w), null);
    const recycled = (mem?.rows ?? []).find((r) => r.recycled);
    add({
      goal: 'peak RSS growth / bytes in flight (worst total)', target: '< 1.5×',
      measured: worstRow?.growthPerInFlight, pass: worstRow?.growthPerInFlight < 1.5, ran: rows.length > 0, suite: mem,
      detail: worstRow && `growth ${mib(worstRow.growth)} at ${sizeLabel(worstRow.totalBytes)}, in flight ${mib(worstRow.inFlightBytes)}` +
        (recycled ? `; with recycled buffers ${fmt(recycled.growthPerInFlight)}×` : ''),
    });
    // Consecutive totals: 64 MiB → 256 MiB (the comparison asked for), then
    // any larger total, which checks the plateau past many GC cycles.
    if (rows.length < 2) add({ goal: 'no growth with total size', target: 'growth ratio ≤ 1.25', measured: NaN, ran: false });
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1];
      const b = rows[i];
      const g = b.growth / a.growth;
      add({
        goal: `no growth with total size (${sizeLabel(a.totalBytes)} → ${sizeLabel(b.totalBytes)})`,
        target: 'growth ratio ≤ 1.25', measured: g, pass: g <= 1.25, ran: true, suite: mem,
        detail: `${mib(a.growth)} → ${mib(b.growth)} (worst ${mib(a.worstGrowth)} → ${mib(b.worstGrowth)})`,
      });
    }
  }
  return goals;
}

function noiseNote(suite) {
  const wait = suite?.waitQuiet
    ? ` Waited ${fmt(suite.waitQuiet.waitedSec, 0)} s for a quiet machine${suite.waitQuiet.quiet ? '' : ' (in vain)'}.`
    : '';
  if (!suite?.machine) return wait;
  return `${wait} Other processes used ${fmt(suite.machine.othersPct, 0)}% of the machine's CPU while this suite ran.`;
}

export function renderMarkdown({ meta, suites, goals }) {
  const out = [];
  out.push('# hsmkms AES-256-GCM benchmarks', '');
  out.push(`${meta.date} · ${meta.cpu.model} · ${meta.cpu.cores} cores · Node ${meta.node} · ` +
    `OpenSSL ${meta.openssl.node} (Node), \`${meta.openssl.cli}\` (CLI) · tinybench ${meta.tinybench}` +
    `${meta.quick ? ' · **--quick**' : ''} · load avg ${meta.loadavg.start.map((x) => x.toFixed(2)).join('/')} → ` +
    `${meta.loadavg.end.map((x) => x.toFixed(2)).join('/')} · git ${meta.git}` +
    `${meta.addon ? ` · addon ${meta.addon.sha256} (${meta.addon.mtime})` : ''} · ${fmt(meta.durationSec, 0)} s`, '');
  out.push('Shared, noisy machine: every comparison is a ratio of two measurements taken in the same run. ' +
    'Throughput cases run in interleaved rounds; values are medians over rounds, ratios are medians of per-round ratios. ' +
    'MB = 10^6 bytes.', '');

  out.push('## Goals', '');
  out.push(table(['goal', 'target', '>measured', 'result', 'detail'], goals.map((g) => [
    g.goal, g.target, Number.isFinite(g.measured) ? (g.target.includes('ms') ? `${fmt(g.measured)} ms` : `${fmt(g.measured)}×`) : 'n/a',
    g.result === 'PASS' ? 'PASS' : `**${g.result}**`, g.detail,
  ])), '');

  const tp = suites.throughput;
  if (tp) {
    out.push(`## Throughput (encrypt)`, '');
    out.push(`${tp.config.rounds} round(s); tinybench ${tp.config.syncMs} ms per case per round, ` +
      `sliding windows ${tp.config.windowMs} ms, openssl ${tp.config.opensslSeconds} s` +
      `${tp.config.gcBetweenCases ? '; gc() between cases (outside timing)' : ''}. ` +
      `"spread" is (max − min) / median over rounds.${noiseNote(tp)}`, '');
    out.push(table(['size', 'case', '>ops/s', '>MB/s', '>ratio', 'peer', '>spread', 'method'], tp.rows.map((r) => [
      sizeLabel(r.size), r.case, fmtInt(r.opsPerSec), fmtMB(r.mbPerSec),
      r.ratio == null ? '' : `${fmt(r.ratio)}×`, r.peer ?? '', `${fmt(r.spreadPct, 0)}%`, r.method,
    ])), '');

    out.push('### inlineThreshold crossover (pool with inlineThreshold 0 vs encryptSync)', '');
    out.push(table(['size', '>sync ops/s', `>pool ${tp.config.cores} workers ops/s`, '>pool/sync', '>pool 1 worker ops/s', '>1 worker/sync', '>pool, 1 in flight/sync'],
      tp.crossover.map((c) => [sizeLabel(c.size), fmtInt(c.syncOpsPerSec), fmtInt(c.poolAllOpsPerSec), `${fmt(c.poolAllVsSync)}×`,
        fmtInt(c.pool1OpsPerSec), `${fmt(c.pool1VsSync)}×`, `${fmt(c.poolSeqVsSync)}×`])), '');
    out.push(crossoverVerdict(tp.crossover, tp.config.cores, tp.config.defaultInlineThreshold), '');
  }

  const el = suites['event-loop'];
  if (el) {
    out.push(`## Event loop while encrypting ${sizeLabel(el.config.totalBytes)} in ${sizeLabel(el.config.pieceBytes)} pieces`, '');
    out.push(`${el.config.histogram}; heartbeat ${el.config.heartbeat}; ${el.config.repeats} repeat(s), ${el.config.reported}. ` +
      `hsmkms: ${el.config.threads} workers, inlineThreshold ${el.config.inlineThreshold}.${noiseNote(el)}`, '');
    out.push(table(['case', '>p99 ms', '>worst p99 ms', '>max ms', '>heartbeat max gap ms', '>MB/s'], el.rows.map((r) => [
      r.case, fmt(r.p99Ms), fmt(r.worstP99Ms), fmt(r.maxMs), fmt(r.heartbeatMaxGapMs), fmtMB(r.mbPerSec),
    ])), '');
  }

  const mem = suites.memory;
  if (mem) {
    out.push('## Memory (peak RSS)', '');
    out.push(`Fresh child per measurement; ${mem.config.gc}. In flight = ${mem.config.inFlight}. ` +
      `Sampling: ${mem.config.sampling}. ${mem.config.repeats} repeat(s), ${mem.config.reported}.${noiseNote(mem)}`, '');
    out.push(table(['case', '>in flight', '>baseline RSS', '>peak RSS', '>growth', '>worst growth', '>growth / in flight', '>MB/s'], mem.rows.map((r) => [
      r.case, mib(r.inFlightBytes), mib(r.baselineRss), mib(r.peakRss), mib(r.growth), mib(r.worstGrowth),
      `${fmt(r.growthPerInFlight)}×`, fmtMB(r.mbPerSec),
    ])), '');
  }
  return `${out.join('\n')}\n`;
}

/** The smallest size from which the pool wins at every larger size too. */
export function crossoverSize(crossover, key = 'poolAllVsSync') {
  return crossover.find((c, i) => crossover.slice(i).every((d) => d[key] > 1))?.size ?? null;
}

function crossoverVerdict(crossover, cores, defaultThreshold) {
  const winsAll = crossoverSize(crossover, 'poolAllVsSync');
  const wins1 = crossoverSize(crossover, 'pool1VsSync');
  const winsSeq = crossoverSize(crossover, 'poolSeqVsSync');
  const from = (size) => (size ? `from ${sizeLabel(size)}` : `at none of the sizes measured (up to ${sizeLabel(crossover.at(-1).size)})`);
  const below = winsAll ? crossover.filter((c) => c.size < winsAll).at(-1)?.size : crossover.at(-1).size;
  const advice = below === undefined
    ? 'the pool wins at every size measured'
    : `inline wins up to ${sizeLabel(below)}, so a threshold of about ${sizeLabel(below)} ` +
      `${below === defaultThreshold ? 'matches' : below > defaultThreshold ? 'is above' : 'is below'} ` +
      `the default inlineThreshold (${sizeLabel(defaultThreshold)})`;
  return `**The pool starts to win ${from(winsAll)}** with many messages in flight (${cores} workers; ` +
    `1 worker: ${from(wins1)}; one message at a time, awaiting each: ${from(winsSeq)}). In this run ${advice}.`;
}

/** A grouped bar chart of MB/s per size and case (log scale), as SVG. */
export function renderSvg(throughput) {
  if (!throughput) return null;
  const rows = throughput.rows.filter((r) => r.id !== 'async-seq' && throughput.config.sizes.includes(r.size));
  const sizes = [...new Set(rows.map((r) => r.size))];
  const ids = [...new Set(rows.map((r) => r.id))];
  const labels = Object.fromEntries(rows.map((r) => [r.id, r.case]));
  const palette = ['#4e79a7', '#a0cbe8', '#f28e2b', '#ffbe7d', '#59a14f', '#8cd17d', '#b6992d', '#e15759', '#ff9d9a', '#79706e'];
  const barH = 9;
  const groupGap = 14;
  const left = 70;
  const width = 760;
  const plotW = width - left - 20;
  const legendH = 16 * Math.ceil(ids.length / 2) + 10;
  const top = 30 + legendH;
  const groupH = ids.length * barH + groupGap;
  const height = top + sizes.length * groupH + 30;
  const vals = rows.map((r) => r.mbPerSec).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...vals)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...vals)));
  const x = (v) => left + (plotW * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="18" font-size="13" font-weight="bold">AES-256-GCM encrypt throughput, MB/s (log scale)</text>`,
  ];
  ids.forEach((id, i) => {
    const lx = left + (i % 2) * (plotW / 2);
    const ly = 30 + 16 * Math.floor(i / 2);
    parts.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="${palette[i % palette.length]}"/>`,
      `<text x="${lx + 14}" y="${ly + 9}">${esc(labels[id])}</text>`);
  });
  for (let v = lo; v <= hi; v *= 10) {
    parts.push(`<line x1="${x(v)}" y1="${top - 4}" x2="${x(v)}" y2="${height - 24}" stroke="#ddd"/>`,
      `<text x="${x(v)}" y="${height - 10}" text-anchor="middle">${v >= 1 ? v : v.toFixed(2)}</text>`);
  }
  sizes.forEach((size, g) => {
    const gy = top + g * groupH;
    parts.push(`<text x="${left - 6}" y="${gy + (ids.length * barH) / 2 + 4}" text-anchor="end" font-weight="bold">${sizeLabel(size)}</text>`);
    ids.forEach((id, i) => {
      const r = rows.find((q) => q.id === id && q.size === size);
      if (!r) return;
      parts.push(`<rect x="${left}" y="${gy + i * barH}" width="${Math.max(1, x(r.mbPerSec) - left)}" height="${barH - 1}" fill="${palette[i % palette.length]}">` +
        `<title>${esc(r.case)} ${sizeLabel(size)}: ${fmtMB(r.mbPerSec)} MB/s</title></rect>`);
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
