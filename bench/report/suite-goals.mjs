// Every result file's goals in one shape: { goal, target, measured, unit,
// result: PASS|FAIL|NOT RUN, detail }. The suites grew their own shapes
// (server.json says { goal, value: "16.3%", met }), this evens them out.

/** The unit a goal's target is written in, for goals that do not carry one. */
function unitOf(target) {
  if (/ms\b/.test(target)) return ' ms';
  if (/MiB\b/.test(target)) return ' MiB';
  if (/%/.test(target)) return '%';
  return '×';
}

function normalise(g) {
  if ('met' in g) {
    // { goal, value, met }: the target is written into the goal's text.
    const measured = Number.parseFloat(g.value);
    return {
      goal: g.goal, target: g.target ?? '(in the goal)', measured: Number.isFinite(measured) ? measured : null,
      unit: String(g.value ?? '').replace(/^[-\d.]+/, ''), result: g.met ? 'PASS' : 'FAIL', detail: g.detail ?? '',
    };
  }
  return {
    goal: g.goal, target: g.target, measured: Number.isFinite(g.measured) ? g.measured : null,
    unit: g.unit ?? unitOf(g.target ?? ''), result: g.result, detail: g.detail ?? '',
  };
}

export function suiteGoals(json) {
  return (json.goals ?? []).map(normalise);
}

export function countResults(goalLists) {
  const counts = { PASS: 0, FAIL: 0, 'NOT RUN': 0 };
  for (const g of goalLists.flat()) counts[g.result] = (counts[g.result] ?? 0) + 1;
  return counts;
}
