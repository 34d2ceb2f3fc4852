// The HTTP server benchmark's report: bench/results/server.{json,md}.

const f1 = (x) => x.toFixed(1);

/** Goal: SigV4 verification is not the bottleneck (a minor share of the server's CPU). */
export function evaluateServerGoals(suite) {
  const sigv4 = suite.serverCpu.split.sigv4.pct;
  return [{ goal: 'SigV4 verification is not the bottleneck (< 20% of server CPU)', value: `${f1(sigv4)}%`, met: suite.errors === 0 && sigv4 < 20 }];
}

export function renderServerMarkdown({ meta, suite, goals }) {
  const s = suite.serverCpu.split;
  const row = (name, part) => `| ${name} | ${f1(part.microsPerOp)} µs | ${f1(part.pct)}% |`;
  return [
    '# HTTP server benchmark',
    '',
    `${suite.case}; ${suite.concurrency} concurrent keep-alive clients, ${suite.requests} requests, ${suite.errors} errors.`,
    `${meta.cpu.model}, ${meta.cpu.cores} cores, Node ${meta.node}, ${meta.date}${meta.quick ? ' (quick)' : ''}.`,
    '',
    '| ops/s | p50 | p90 | p99 | server CPU / op | server cores busy |',
    '|---:|---:|---:|---:|---:|---:|',
    `| ${suite.opsPerSec.toFixed(0)} | ${suite.latencyMs.p50.toFixed(2)} ms | ${suite.latencyMs.p90.toFixed(2)} ms | ${suite.latencyMs.p99.toFixed(2)} ms | ${f1(suite.serverCpu.microsPerOp)} µs | ${suite.serverCpu.coresBusy.toFixed(2)} |`,
    '',
    'Server CPU split (SigV4 and protocol timed in the server; KMS = the same Encrypt measured in-process; HTTP stack = the rest):',
    '',
    '| part | CPU / op | share |',
    '|---|---:|---:|',
    row('SigV4 verification (hash body + canonical request, 1 HMAC, cached signing key)', s.sigv4),
    row('JSON 1.1 protocol (parse, base64, serialise)', s.protocol),
    row('KMS work (Encrypt in the root, audit)', s.kms),
    row('HTTP stack (node:http, sockets, logging, metrics)', s.httpStack),
    '',
    `The Kms alone, in-process, at the same concurrency: ${suite.directKms.opsPerSec.toFixed(0)} ops/s, ${f1(suite.directKms.cpuMicrosPerOp)} µs CPU / op.`,
    `Load generator CPU (same machine): ${f1(suite.clientCpuSeconds)} s over ${f1(suite.seconds)} s.`,
    '',
    '| goal | value | met |',
    '|---|---:|:---:|',
    ...goals.map((g) => `| ${g.goal} | ${g.value} | ${g.met ? 'yes' : 'no'} |`),
    '',
  ].join('\n');
}
