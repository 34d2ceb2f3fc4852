// Assembles report.json's document from whatever result files exist.
import { chartSeries } from './chart-series.mjs';
import { loadResults } from './load-results.mjs';
import { reportMeta, runOf } from './report-meta.mjs';
import { countResults, suiteGoals } from './suite-goals.mjs';
import { suiteHeadlines } from './suite-headlines.mjs';

export function buildReport(resultsDir, now = new Date()) {
  const { results, notRun, unreadable, ranSuites } = loadResults(resultsDir);
  const suites = {};
  for (const [file, json] of Object.entries(results)) {
    const run = runOf(file, json);
    suites[file] = {
      suites: ranSuites(file), date: run.date, git: run.git, quick: run.quick,
      goals: suiteGoals(json), headline: suiteHeadlines(file, json),
    };
  }
  return {
    meta: reportMeta(results, now),
    notRun,
    unreadable,
    totals: countResults(Object.values(suites).map((s) => s.goals)),
    chart: {
      title: 'AES-256-GCM encrypt throughput against message size',
      x: 'message size, bytes', y: 'MB/s (10^6 bytes/s)',
      series: chartSeries(results),
    },
    suites,
  };
}
