// Goals (PASS/FAIL) and the markdown report of the pkcs11 suite
// (bench/pkcs11/hsm.mjs). Every ratio compares two measurements of one run.

import { fmt, fmtInt, fmtUs, goalList, goalsTable, pairedRatio, runLine, table } from '../lib/markdown.mjs';

function row(suite, op, variant) {
  return suite?.rows.find((r) => r.op === op && r.variant === variant);
}

/** The goals of issue 3, evaluated on the suite's JSON. */
export function evaluatePkcs11Goals(suite) {
  const { goals, add } = goalList(suite);
  if (!suite) {
    add({ goal: 'pkcs11 suite', target: '', measured: NaN, pass: false, detail: '', ran: false });
    return goals;
  }

  // Event loop: every hsmkms case, in process and in the thread children.
  // p99 per case = the median over its rounds (as the AEAD event-loop suite
  // reports it); the goal takes the worst case. Single worst rounds are
  // listed: on this VM, stolen CPU time shows up there.
  const hs = suite.rows.filter((r) => r.hsmkms);
  const worst = hs.reduce((w, r) => (!w || r.eventLoopP99Ms > w.eventLoopP99Ms ? r : w), null);
  const children = [...suite.scaling, ...suite.gcmPeers];
  const childP99 = Math.max(...children.map((s) => s.eventLoopP99Ms));
  const childWorstRound = Math.max(...children.map((s) => s.eventLoopWorstP99Ms ?? s.eventLoopP99Ms));
  const inWorstRound = Math.max(...hs.map((r) => r.eventLoopWorstP99Ms));
  const measured = Math.max(worst?.eventLoopP99Ms ?? NaN, childP99);
  add({
    goal: 'event-loop p99 while hsmkms works (worst case)', target: '< 5 ms', unit: ' ms',
    measured, pass: measured < 5,
    detail: `worst in-process case: ${worst?.opLabel}, ${worst?.case} (${fmt(worst?.eventLoopP99Ms)} ms); thread-scaling children: ${fmt(childP99)} ms; ` +
      `worst single round: ${fmt(inWorstRound)} ms in process, ${fmt(childWorstRound)} ms in the children. ` +
      'monitorEventLoopDelay at 1 ms resolution; pkcs11js sync loops block it by design (see table)',
  });

  // AES-GCM 32 B against pkcs11js, side by side in each thread configuration (children).
  for (const peer of suite.gcmPeers.filter((p) => p.privateSessionKeys)) {
    const config = `hsmkms ${peer.threads} HSM thread${peer.threads > 1 ? 's' : ''}`;
    add({
      goal: `AES-GCM 32 B, ${config}, 8 in flight ≥ 2× pkcs11js async, 8 in flight`, target: '≥ 2×',
      measured: peer.vsAsync8, pass: peer.vsAsync8 >= 2,
      detail: `${fmtInt(peer.hsmkms)} vs ${fmtInt(peer.pkcs11jsAsync8)} ops/s (same process, median of per-round ratios)`,
    });
    add({
      goal: `AES-GCM 32 B, ${config}, 8 in flight ≥ 1× pkcs11js sync loop on a token key`, target: '≥ 1×',
      measured: peer.vsSyncToken, pass: peer.vsSyncToken >= 1,
      detail: `${fmtInt(peer.hsmkms)} vs ${fmtInt(peer.pkcs11jsSyncToken)} ops/s (same process)`,
    });
  }
  // And in the in-process table (hsmkms root with 2 threads, the default).
  {
    const ours = row(suite, 'gcm-enc-32', 'hsmkms-8');
    const async8 = row(suite, 'gcm-enc-32', 'pkcs11js-async-8');
    const token = row(suite, 'gcm-enc-32', 'pkcs11js-sync-token');
    const a = pairedRatio(ours, async8);
    const t = pairedRatio(ours, token);
    add({
      goal: 'AES-GCM 32 B, in-process table (2 HSM threads; 2 roots and pkcs11js in one process) ≥ 2× pkcs11js async, 8 in flight', target: '≥ 2×', measured: a, pass: a >= 2,
      detail: `${fmtInt(ours?.opsPerSec)} vs ${fmtInt(async8?.opsPerSec)} ops/s`, ran: Boolean(ours && async8),
    });
    add({
      goal: 'AES-GCM 32 B, in-process table (2 HSM threads; 2 roots and pkcs11js in one process) ≥ 1× pkcs11js sync loop on a token key', target: '≥ 1×', measured: t, pass: t >= 1,
      detail: `${fmtInt(ours?.opsPerSec)} vs ${fmtInt(token?.opsPerSec)} ops/s`, ran: Boolean(ours && token),
    });
  }

  // Scaling with HSM threads.
  for (const s of suite.scaling.filter((x) => x.op !== 'gcm-enc-32')) {
    add({
      goal: `${s.label}: 2 vs 1 HSM threads, privateSessionKeys ${s.privateSessionKeys}${s.privateSessionKeys ? ' (default)' : ''}`,
      target: '≥ 1.6×', measured: s.ratio, pass: s.ratio >= 1.6,
      detail: `${fmtInt(s.oneThread)} → ${fmtInt(s.twoThreads)} ops/s, 8 in flight, fresh child per run`,
    });
  }
  return goals;
}

export function renderPkcs11Markdown({ meta, suite, goals }) {
  const out = [];
  out.push('# hsmkms PKCS#11 benchmarks (SoftHSM2, against pkcs11js)', '');
  out.push(runLine(meta, suite, `${suite.config.softhsm ? `SoftHSM ${suite.config.softhsm}` : ''} · pkcs11js ${suite.config.pkcs11js}`), '');
  out.push('Shared, noisy 2-vCPU machine: every comparison is a ratio of two measurements taken in the same run ' +
    '(and, for the thread configurations, in the same child process). Values are medians over rounds; ratios are medians of per-round ratios.' +
    (suite.machine ? ` Other processes used ${fmt(suite.machine.othersPct, 0)}% of the machine's CPU while the suite ran.` : ''), '');

  out.push('## Goals', '');
  out.push(goalsTable(goals), '');

  out.push('## Operations, side by side (one process, one token)', '');
  out.push(`${suite.config.rounds} round(s) of ${suite.config.windowMs} ms per case (after ${suite.config.warmupMs} ms of warm-up). ` +
    `hsmkms: ${suite.config.hsmkmsRoot}. pkcs11js: ${suite.config.pkcs11jsSetup}. ` +
    `Latency = one call, start to settle, as its caller sees it; event loop = ${suite.config.eventLoop}.`, '');
  const ops = [...new Set(suite.rows.map((r) => r.op))];
  const peerOf = { 'hsmkms-8': 'pkcs11js-async-8', 'hsmkms-1': 'pkcs11js-async-1' };
  const lines = [];
  for (const op of ops) {
    for (const r of suite.rows.filter((x) => x.op === op)) {
      const peer = peerOf[r.variant] ? row(suite, op, peerOf[r.variant]) : null;
      const ratio = peer ? pairedRatio(r, peer) : NaN;
      lines.push([
        r.opLabel, r.case, fmtInt(r.opsPerSec), fmtUs(r.p50Us), fmtUs(r.p99Us), `${fmt(r.eventLoopP99Ms)} ms`,
        Number.isFinite(ratio) ? `${fmt(ratio)}× ${peer.variant.replace('pkcs11js-', 'pkcs11js ')}` : '', `${fmt(r.spreadPct, 0)}%`,
      ]);
    }
  }
  out.push(table(['operation', 'case', '>ops/s', '>p50', '>p99', '>event-loop p99', '>hsmkms / pkcs11js', '>spread'], lines), '');
  out.push('pkcs11js has no async C_GenerateRandom, so random has no pkcs11js async rows. ' +
    '"unwrap" = C_UnwrapKey of the CMK blob + AES-GCM 32 B + C_DestroyObject (hsmkms: a root with keyCacheCapacity 0).', '');

  out.push('## HSM threads (fresh child per run, 8 in flight)', '');
  out.push(`${suite.config.scalingRounds} round(s) of ${suite.config.scalingMs} ms per operation; ${suite.config.scaling}. ` +
    'privateSessionKeys is the CKA_PRIVATE of the unwrapped CMK session objects: SoftHSM decrypts a private object\'s attributes ' +
    'under one token-wide mutex on every use, which serialises the two threads.', '');
  out.push(table(['operation', 'privateSessionKeys', '>1 thread ops/s', '>2 threads ops/s', '>2 / 1'], suite.scaling.map((s) => [
    s.label, String(s.privateSessionKeys), fmtInt(s.oneThread), fmtInt(s.twoThreads), `${fmt(s.ratio)}×`,
  ])), '');
  out.push('### AES-GCM 32 B per configuration, against pkcs11js in the same child', '');
  out.push(table(['HSM threads', 'privateSessionKeys', '>hsmkms 8 in flight', '>pkcs11js sync, token key', '>pkcs11js async, 8 in flight', '>vs sync token', '>vs async 8'],
    suite.gcmPeers.map((g) => [g.threads, String(g.privateSessionKeys), fmtInt(g.hsmkms), fmtInt(g.pkcs11jsSyncToken), fmtInt(g.pkcs11jsAsync8), `${fmt(g.vsSyncToken)}×`, `${fmt(g.vsAsync8)}×`])), '');
  out.push('SoftHSM scales AES-GCM poorly across sessions (its own locks; the reference measured 97k → 67k ops/s from 1 to 2 threads in C), ' +
    'and its private session objects serialise on one token-wide mutex: for AES-GCM a second HSM thread gains little or loses on this ' +
    'machine, while RSA and ECDSA need it (ECDSA only with privateSessionKeys false).', '');
  return `${out.join('\n')}\n`;
}
