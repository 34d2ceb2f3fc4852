// soak.json (everything, samples included) and soak.md (the verdicts, the
// slopes and a thinned sample table), in the style of the other results.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT_DIR } from '../lib/common.mjs';
import { addonFingerprint, machineMeta } from '../lib/machine-meta.mjs';
import { fmt, fmtInt, table } from '../lib/markdown.mjs';
import { THRESHOLDS } from './analysis.mjs';

/** Machine, versions and commit, as bench/run.mjs records them. */
export function soakMeta({ quick, opensslAddon, softhsm, pkcs11js }) {
  const { git, loadavg, ...machine } = machineMeta(quick);
  return {
    ...machine,
    openssl: { node: process.versions.openssl, addon: opensslAddon },
    softhsm,
    pkcs11js,
    addon: addonFingerprint(),
    git,
    loadavg,
  };
}

const MiB = 1024 * 1024;

function renderMarkdown(doc) {
  const { meta, run, slopes: s, verdict, samples } = doc;
  const checks = table(['check', 'target', '>measured', 'result'], verdict.checks.map((c) => [
    c.check, c.target, typeof c.measured === 'number' ? `${Number.isInteger(c.measured) ? fmtInt(c.measured) : fmt(c.measured, 3)}${c.unit}` : String(c.measured),
    c.result === 'PASS' ? 'PASS' : `**${c.result}**`,
  ]));
  const row = (name, x, unit, digits = 3) => [name, `${fmt(x.first, digits)} → ${fmt(x.last, digits)}${unit}`, `${fmt(x.min, digits)} .. ${fmt(x.max, digits)}${unit}`,
    `${fmt(x.perMillionOps, digits)}${unit}`, `${fmt(x.perHour, digits)}${unit}`];
  const slopeTable = table(['series (second half)', 'first → last', '>min .. max', '>slope per million ops', '>slope per hour'], [
    row('RSS', s.rssMiB, ' MiB'), row('V8 heap used', s.heapUsedMiB, ' MiB'), row('external (Buffers, native)', s.externalMiB, ' MiB'),
    row('open fds', s.fds, '', 2), row('HSM objects (token + session)', s.hsmObjects, '', 2), row('cached CMK versions (session objects)', s.cachedKeys, '', 2),
    row('HSM objects beyond the key cache', s.leakedObjects, '', 2), row('live secure-memory blocks', s.secureBlocks, '', 2),
  ]);
  const step = Math.max(1, Math.ceil(samples.length / 24));
  const shown = samples.filter((_, i) => i % step === 0 || i === samples.length - 1);
  const sampleTable = table(['>t (s)', '>ops', '>RSS MiB', '>heap MiB', '>external MiB', '>fds', '>HSM objects', '>token', '>cached', '>secure blocks'], shown.map((x) => [
    fmt(x.tSec, 0), fmtInt(x.ops), fmt(x.rss / MiB, 1), fmt(x.heapUsed / MiB, 1), fmt(x.external / MiB, 1), x.fds, x.hsmObjects, x.tokenObjects, x.cachedKeys, x.secureBlocks,
  ]));
  const mix = Object.entries(run.counts).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ');
  return `# hsmkms soak (Kms on SoftHSM2, mixed operations)

${meta.date} · ${meta.cpu.model} · ${meta.cpu.cores} cores · Node ${meta.node} · SoftHSM ${meta.softhsm} · pkcs11js ${meta.pkcs11js} · load avg ${meta.loadavg.start.map((x) => x.toFixed(2)).join('/')} → ${meta.loadavg.end.map((x) => x.toFixed(2)).join('/')} · git ${meta.git}${meta.addon ? ` · addon ${meta.addon.sha256}` : ''}${meta.quick ? ' · **quick mode**' : ''}

**${verdict.pass ? 'PASS' : 'FAIL'}** · ${fmt(run.seconds / 60, 1)} min · ${fmtInt(run.ops)} operations (${fmtInt(run.ops / run.seconds)} ops/s) · ${run.inFlight} in flight · ${fmtInt(run.errors)} failed · ${samples.length} samples every ${run.sampleSeconds} s

Shared machine: ${fmt(run.othersPct, 0)}% of its CPU went to other processes during the run (other sessions' builds and tests), so the rate is not a benchmark figure; the slopes are per operation as well as per hour for that reason.

## Verdicts

${checks}

Thresholds: RSS ≤ ${THRESHOLDS.rssMiBPerMillionOps} MiB per million operations (under ${fmt((THRESHOLDS.rssMiBPerMillionOps * MiB) / 1e6, 1)} bytes kept per operation); HSM objects (token + session) within ${THRESHOLDS.hsmObjectsPerMillionOps} per million operations; HSM objects beyond the key cache (objects − token objects − cached CMK versions) flat; open fds flat. Slopes are least-squares fits over the second half of the run (after warm-up), against operations done and against time.

## Slopes

${slopeTable}

## What ran

Kms.open({ root: { pkcs11 } }) on a fresh SoftHSM2 token, SQLite store in a temp dir, default options; ${run.poolSize} symmetric CMKs in a pool, one ECC_NIST_P256 and one RSA_2048 signing key, one HMAC_256 key. Mix by weight: ${Object.entries(run.mix).map(([k, v]) => `${k} ${v}`).join(', ')}. Messages 16–976 bytes, encryption context of two pairs. About every ${fmtInt(run.createEvery)} operations a new CMK replaces the oldest in the pool (the one replaced the time before is scheduled for deletion, the Kms's clock moved 8 days on, and purged: that evicts its unwrapped versions); about every ${fmtInt(run.rotateEvery)} a pool key rotates. Lifecycle: ${run.lifecycle.created} keys created, ${run.lifecycle.rotated} rotations, ${run.lifecycle.deleted} deletions scheduled, ${run.lifecycle.purged} keys purged. Operations per kind: ${mix}.

HSM objects are counted by a separate pkcs11js session on the same module in the same process (C_FindObjects with an empty template sees the token objects and every session object of the application); positive control before the run: a CMK's first use added ${run.control.delta} object(s) seen by that session, matching the addon's key cache, and evicting it took ${run.control.delta} away. The addon's own count (root stats, taken a moment apart while operations run) agreed with it in ${run.addonCountAgrees} of ${samples.length} samples, off by at most ${run.addonCountMaxDiff}.

## Samples

${sampleTable}
`;
}

/** Writes `<outDir>/soak.json` and `<outDir>/soak.md`; returns the markdown. */
export function writeSoakResults(outDir, doc) {
  mkdirSync(outDir, { recursive: true });
  const markdown = renderMarkdown(doc);
  writeFileSync(path.join(outDir, 'soak.json'), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'soak.md'), markdown);
  return markdown;
}
