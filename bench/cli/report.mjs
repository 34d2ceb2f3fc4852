// Goals (PASS/FAIL) and markdown of the cli suite (bench/cli/cli.mjs).

const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** Issue 6: the CLI on a 1 GiB file within 0.8x of the library's stream, peak RSS < 200 MiB. */
export function evaluateCliGoals(suite) {
  const goals = [];
  const add = (goal, target, measured, pass, detail) => goals.push({ goal, target, measured, detail, result: pass ? 'PASS' : 'FAIL' });
  for (const op of ['encrypt', 'decrypt']) {
    const r = suite.ratios[op];
    add(`hsmkms ${op} vs the library's stream, same file`, '≥ 0.8×', r, r >= 0.8 && suite.verified, `output verified: ${suite.verified}`);
    const rss = suite.peakRssMiB[op];
    add(`hsmkms ${op} peak RSS, ${fmt(suite.bytes / 2 ** 30, 2)} GiB file`, '< 200 MiB', rss, rss < 200, 'getrusage of the child');
  }
  return goals;
}

export function renderCliMarkdown({ meta, suite, goals }) {
  const lines = ['# hsmkms command-line benchmark', ''];
  lines.push(`${meta.date} · ${meta.cpu.model} × ${meta.cpu.cores} · Node ${meta.node} · ${meta.git}${suite.quick ? ' · QUICK' : ''}`, '');
  lines.push('| goal | target | measured | result | detail |', '|---|---|---|---|---|');
  for (const g of goals) lines.push(`| ${g.goal} | ${g.target} | ${fmt(g.measured)}${g.goal.includes('RSS') ? ' MiB' : '×'} | **${g.result}** | ${g.detail} |`);
  lines.push('', '| case | median | unit | rounds |', '|---|---|---|---|');
  for (const r of suite.rows) lines.push(`| ${r.label} | ${fmt(r.value, 0)} | ${r.unit} | ${r.rounds.map((v) => fmt(v, 0)).join(', ')} |`);
  if (suite.machine) lines.push('', `Other processes used ${fmt(suite.machine.othersPct, 0)}% of the machine's CPU while the suite ran.`);
  return `${lines.join('\n')}\n`;
}
