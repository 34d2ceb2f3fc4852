// Reads every bench/results/<file>.json that exists. The run.mjs suite names
// are what a reader knows ("throughput", "kms", ...), so "not run" is said in
// those names; the three AEAD suites share aead.json.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Result file → the run.mjs suites it holds. */
export const RESULT_FILES = {
  aead: ['throughput', 'event-loop', 'memory'],
  pkcs11: ['pkcs11'],
  kms: ['kms'],
  envelope: ['envelope'],
  server: ['server'],
  multinode: ['multinode'],
  cli: ['cli'],
};

/** Suites of one result file that actually ran (aead.json may hold a subset). */
function suitesIn(file, json) {
  if (file === 'aead') return RESULT_FILES.aead.filter((s) => json.suites?.[s]);
  return RESULT_FILES[file];
}

/** { results: { file: json }, notRun: [suite], unreadable: [{ file, error }] } */
export function loadResults(resultsDir) {
  const results = {};
  const notRun = [];
  const unreadable = [];
  for (const [file, suites] of Object.entries(RESULT_FILES)) {
    const at = path.join(resultsDir, `${file}.json`);
    if (!existsSync(at)) {
      notRun.push(...suites);
      continue;
    }
    try {
      results[file] = JSON.parse(readFileSync(at, 'utf8'));
    } catch (err) {
      // A half-written file must not stop the rest of the report.
      unreadable.push({ file: `${file}.json`, error: err.message });
      notRun.push(...suites);
      continue;
    }
    const ran = suitesIn(file, results[file]);
    notRun.push(...suites.filter((s) => !ran.includes(s)));
  }
  return { results, notRun, unreadable, ranSuites: (file) => suitesIn(file, results[file]) };
}
