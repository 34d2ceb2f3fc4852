// Goals (PASS/FAIL) and the markdown report of the kms suite
// (bench/kms/kms.mjs). Every ratio compares two measurements of one run.
import { fmt, fmtInt, fmtUs, goalList, goalsTable, pairedRatio, runLine, table } from '../lib/markdown.mjs';

function row(suite, op, variant) {
  return suite?.rows.find((r) => r.op === op && r.variant === variant);
}

/** The goals: encrypt 32 B through the whole KMS at 64 in flight. */
export function evaluateKmsGoals(suite) {
  const { goals, add } = goalList(suite);
  if (!suite) {
    add({ goal: 'kms suite', target: '', measured: NaN, pass: false, detail: '', ran: false });
    return goals;
  }
  const n = suite.config.inFlight;
  const ours = row(suite, 'encrypt-32', `hsmkms-${n}`);
  const sync = row(suite, 'encrypt-32', 'pkcs11js-sync');
  const ratio = pairedRatio(ours, sync);
  add({
    goal: `Kms encrypt 32 B, ${n} in flight ≥ 1.5× pkcs11js sync loop (raw AES-GCM on a token key)`, target: '≥ 1.5×',
    measured: ratio, pass: ratio >= 1.5, ran: Boolean(ours && sync),
    detail: `${fmtInt(ours?.opsPerSec)} vs ${fmtInt(sync?.opsPerSec)} ops/s (median of per-round ratios)`,
  });
  const open = row(suite, 'encrypt-32', `hsmkms-${n}-public`);
  if (open) {
    const openRatio = pairedRatio(open, sync);
    add({
      goal: `The same with privateSessionKeys false (SoftHSM then skips decrypting the key object under its token lock)`, target: '≥ 1.5×',
      measured: openRatio, pass: openRatio >= 1.5, ran: Boolean(sync),
      detail: `${fmtInt(open.opsPerSec)} vs ${fmtInt(sync?.opsPerSec)} ops/s; p99 ${fmtUs(open.p99Us)}, event-loop p99 ${fmt(open.eventLoopP99Ms)} ms`,
    });
  }
  const p99Ms = ours ? ours.p99Us / 1000 : NaN;
  add({
    goal: `Kms encrypt 32 B, ${n} in flight: p99 latency per call`, target: '< 2 ms', unit: ' ms',
    measured: p99Ms, pass: p99Ms < 2, ran: Boolean(ours), detail: `p50 ${fmtUs(ours?.p50Us)} (median over rounds)`,
  });
  const worst = suite.rows.filter((r) => r.hsmkms).reduce((w, r) => (!w || r.eventLoopP99Ms > w.eventLoopP99Ms ? r : w), null);
  add({
    goal: `Kms encrypt 32 B, ${n} in flight: event-loop p99`, target: '< 5 ms', unit: ' ms',
    measured: ours?.eventLoopP99Ms, pass: ours?.eventLoopP99Ms < 5, ran: Boolean(ours),
    detail: `worst round ${fmt(ours?.eventLoopWorstP99Ms)} ms, max ${fmt(ours?.eventLoopMaxMs)} ms; worst Kms case: ${worst?.opLabel}, ` +
      `${worst?.case} (${fmt(worst?.eventLoopP99Ms)} ms). monitorEventLoopDelay at 1 ms resolution`,
  });
  return goals;
}

/** hsmkms / pkcs11js for a row: its same-in-flight peer, and pkcs11js's sync loop. */
function ratios(suite, r) {
  if (!r.hsmkms) return ['', ''];
  const n = suite.config.inFlight;
  const peer = r.inFlight === 1 ? null : row(suite, r.op, `pkcs11js-async-${n}`);
  const sync = row(suite, r.op, 'pkcs11js-sync');
  const show = (x) => (Number.isFinite(x) ? `${fmt(x)}×` : '');
  return [show(pairedRatio(r, peer)), show(pairedRatio(r, sync))];
}

export function renderKmsMarkdown({ meta, suite, goals }) {
  const c = suite.config;
  const out = [];
  out.push('# hsmkms KMS benchmarks (Kms on SoftHSM2, against raw pkcs11js)', '');
  out.push(runLine(meta, suite, `SoftHSM ${c.softhsm} · pkcs11js ${c.pkcs11js}`), '');
  out.push('Shared, noisy 2-vCPU machine: every comparison is a ratio of two measurements taken in the same run, in one process, on one token. ' +
    'Values are medians over rounds; ratios are medians of per-round ratios.' +
    (suite.machine ? ` Other processes used ${fmt(suite.machine.othersPct, 0)}% of the machine's CPU while the suite ran.` : ''), '');
  out.push('## Goals', '', goalsTable(goals), '');
  out.push('## Operations, side by side', '');
  out.push(`${c.rounds} round(s) of ${c.windowMs} ms per case (after ${c.warmupMs} ms of warm-up). hsmkms: ${c.hsmkms}; ` +
    `encryption context ${JSON.stringify(c.encryptionContext)}; ${fmtInt(c.auditRecords)} audit records reached the store. ` +
    `pkcs11js: ${c.pkcs11jsSetup}. Latency = one call, start to settle, as its caller sees it; event loop = ${c.eventLoop}. ` +
    `"vs async" compares with pkcs11js async at the same ${c.inFlight} in flight, "vs sync" with pkcs11js's sync loop.`, '');
  const lines = suite.rows.map((r) => [
    r.opLabel, r.case, fmtInt(r.opsPerSec), fmtUs(r.p50Us), fmtUs(r.p99Us), `${fmt(r.eventLoopP99Ms)} ms`, ...ratios(suite, r), `${fmt(r.spreadPct, 0)}%`,
  ]);
  out.push(table(['operation', 'case', '>ops/s', '>p50', '>p99', '>event-loop p99', '>vs async', '>vs sync', '>spread'], lines), '');
  out.push('### What the pkcs11js rows call', '');
  const methods = [...new Map(suite.rows.filter((r) => r.method).map((r) => [r.op, [r.opLabel, r.method]])).values()];
  out.push(table(['operation', 'pkcs11js'], methods), '');
  out.push('A Kms encrypt is more than the raw call: request checks, the key resolver (cached), a random IV from the host OpenSSL DRBG, ' +
    'the blob header and AAD (key id, version, IV, encryption context), AES-GCM in the HSM on the unwrapped CMK, the blob, and an audit record ' +
    '(group commit). generateDataKey adds a C_GenerateRandom for the key; sign hashes the RAW message in native code ' +
    'before CKM_ECDSA on the unwrapped CMK; decrypt parses the blob and needs no IV. ' +
    'The batch rows do the same per item (each its own IV, context, blob and audit record), with one call to the root per HSM thread ' +
    'per batch instead of one per item.', '');
  return `${out.join('\n')}\n`;
}
