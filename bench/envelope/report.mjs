// Goals (PASS/FAIL) and the markdown report of the envelope suite
// (bench/envelope/envelope.mjs). Every ratio compares measurements of one run
// (median of per-round ratios).

const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');

function pairedRatio(a, b) {
  if (!a || !b) return NaN;
  const ratios = a.rounds.map((v, i) => v / b.rounds[i]).sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  return ratios.length % 2 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
}

/** The goals of issue 5 (streams), evaluated on the suite's JSON. */
export function evaluateEnvelopeGoals(suite) {
  const row = (id) => suite.rows.find((r) => r.id === id);
  const goals = [];
  const add = (goal, target, measured, pass, detail, ran = true) =>
    goals.push({ goal, target, measured, detail, result: ran ? (pass ? 'PASS' : 'FAIL') : 'NOT RUN' });
  for (const op of ['enc', 'dec']) {
    const name = op === 'enc' ? 'encryptStream' : 'decryptStream';
    const ours = row(`hsmkms-0478-${op}`);
    const theirs = row(`peer-0478-default-${op}`);
    const r = pairedRatio(ours, theirs);
    add(`${name} 0x0478 vs client-node at its defaults`, '≥ 10×', r, r >= 10, `${fmtInt(ours?.value)} vs ${fmtInt(theirs?.value)} MB/s`);
    const ceil = row(`aead-${op}`);
    const c = pairedRatio(ours, ceil);
    add(`${name} 0x0478 vs the AEAD engine, all workers`, '≥ 0.7×', c, c >= 0.7, `${fmtInt(ours?.value)} vs ${fmtInt(ceil?.value)} MB/s`);
    const signed = row(`hsmkms-0578-${op}`);
    const peer64 = row(`peer-0578-64k-${op}`);
    const s = pairedRatio(signed, peer64);
    add(`${name} 0x0578 vs client-node, both 64 KiB frames`, '≥ 1.5×', s, s >= 1.5, `${fmtInt(signed?.value)} vs ${fmtInt(peer64?.value)} MB/s`);
  }
  const cached = row('small-hsmkms-cached');
  const peerCached = row('small-peer-cached');
  const k = pairedRatio(cached, peerCached);
  add('1 KiB messages, hsmkms cached vs client-node cached', '≥ 20×', k, k >= 20, `${fmtInt(cached?.value)} vs ${fmtInt(peerCached?.value)} ops/s`, cached !== undefined);
  const rssMiB = suite.rss?.vmHwmKiB / 1024;
  add(`peak RSS, ${fmt(suite.rss?.streamBytes / 2 ** 30, 2)} GiB encryptStream → decryptStream (child)`, '< 150 MiB', rssMiB, rssMiB < 150 && suite.rss?.ok,
    `VmHWM ${fmt(rssMiB, 0)} MiB, ${fmt(suite.rss?.seconds, 1)} s, output verified: ${suite.rss?.ok}`);
  return goals;
}

export function renderEnvelopeMarkdown({ meta, suite, goals }) {
  const lines = [];
  lines.push('# hsmkms envelope benchmark', '');
  lines.push(`${meta.date} · ${meta.cpu.model} × ${meta.cpu.cores} · Node ${meta.node} · ${meta.git}${meta.quick ? ' · QUICK' : ''}`, '');
  lines.push(`Streams: ${suite.streamBytes / 2 ** 20} MiB (client-node at 4 KiB frames: ${suite.peerSmallFrameBytes / 2 ** 20} MiB), 64 KiB source chunks, in memory; ` +
    `${suite.threads} AES threads, ${suite.inFlight} frames in flight. Raw AES keyrings on both sides.`, '');
  lines.push('| goal | target | measured | result | detail |', '|---|---|---|---|---|');
  for (const g of goals) lines.push(`| ${g.goal} | ${g.target} | ${Number.isFinite(g.measured) ? `${fmt(g.measured)}${g.goal.startsWith('peak') ? ' MiB' : '×'}` : 'n/a'} | **${g.result}** | ${g.detail} |`);
  lines.push('', '| case | median | unit | rounds |', '|---|---|---|---|');
  for (const r of suite.rows) lines.push(`| ${r.label} | ${fmtInt(r.value)} | ${r.unit} | ${r.rounds.map((v) => fmtInt(v)).join(', ')} |`);
  lines.push('');
  if (suite.machine) lines.push(`Other processes used ${fmt(suite.machine.othersPct, 0)}% of the machine's CPU while the suite ran.`, '');
  return `${lines.join('\n')}\n`;
}
