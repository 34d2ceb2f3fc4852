// `npm run fuzz`: builds the fuzz targets, makes seed corpora, then fuzzes
// every target (native and JavaScript) in turn and prints, per target,
// executions, exec/s, corpus size and crashes. Corpora persist in
// build-fuzz/corpus/<target>, crash inputs go to build-fuzz/crashes/.
//
//   npm run fuzz                         # 60 s per target
//   FUZZ_SECONDS=300 npm run fuzz        # longer
//   npm run fuzz -- message frame        # only these targets
//
// Exits 1 when any target crashed (each crash input then becomes a
// regression test: see test/fuzz/regressions/).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { BUILD, ROOT, listTargets, runTarget, seedDirs } from '../test/fuzz/fuzz-runner.mjs';

const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
if (!Number.isInteger(seconds) || seconds < 1) throw new Error('FUZZ_SECONDS must be a positive whole number');
const only = process.argv.slice(2);

execFileSync('bash', [path.join(ROOT, 'scripts/fuzz-build.sh')], { stdio: 'inherit' });
execFileSync('npm', ['run', '--silent', 'compile:ts'], { cwd: ROOT, stdio: 'inherit' });
const seedRoot = path.join(BUILD, 'seeds');
execFileSync(process.execPath, [path.join(ROOT, 'test/fuzz/make-seeds.cjs'), seedRoot], { stdio: 'inherit' });

const targets = listTargets().filter((t) => only.length === 0 || only.includes(t.name));
const rows = [];
let failed = 0;
for (const target of targets) {
  process.stderr.write(`fuzz: ${target.name} for ${seconds} s...\n`);
  const result = await runTarget(target, {
    seconds,
    corpusDir: path.join(BUILD, 'corpus', target.name),
    seeds: seedDirs(target, seedRoot),
    artifactDir: path.join(BUILD, 'crashes'),
  });
  const crashed = result.exitCode !== 0 || result.crashes.length > 0;
  if (crashed) {
    failed++;
    process.stderr.write(`${result.output.split('\n').slice(-60).join('\n')}\n`);
  }
  const execPerSec = result.execPerSec || Math.round(result.executions / seconds);
  rows.push([target.name, target.kind, result.executions, execPerSec, result.corpusFiles, crashed ? `${result.crashes.length || 'exit ' + result.exitCode}` : 0]);
}

const header = ['target', 'kind', 'executions', 'exec/s', 'corpus', 'crashes'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
console.log(line(header));
for (const row of rows) console.log(line(row));
console.log(`${rows.length} targets, ${seconds} s each, ${failed} with crashes`);
process.exit(failed === 0 ? 0 : 1);
