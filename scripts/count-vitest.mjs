// Prints "<passed> <failed>" from vitest's JSON report. A missing report or a
// suite that failed to load counts as a failure, never as zero tests.
import { readFileSync } from 'node:fs';

try {
  const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const failedSuites = report.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  console.log(`${report.numPassedTests} ${report.numFailedTests + failedSuites}`);
} catch {
  console.log('0 1');
}
