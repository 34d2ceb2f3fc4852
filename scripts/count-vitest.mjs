// Prints "<passed> <failed>" from vitest's JSON report. A missing report, or a
// file that failed without a failed test (it did not load, or its beforeAll
// failed and its tests were skipped), counts as a failure, never as zero tests.
import { readFileSync } from 'node:fs';

try {
  const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const failedSuites = report.testResults.filter((f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed')).length;
  console.log(`${report.numPassedTests} ${report.numFailedTests + failedSuites}`);
} catch {
  console.log('0 1');
}
