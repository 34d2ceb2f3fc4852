// Writes bench/results/report.{json,md,svg} from whatever results exist.
// run.mjs calls it after its suites; alone it rebuilds the report:
//
//   node bench/report/write-report.mjs [--results DIR] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildReport } from './build-report.mjs';
import { renderReportMarkdown } from './render-markdown.mjs';
import { renderSvg } from './render-svg.mjs';

const DEFAULT_RESULTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');

export function writeReport({ resultsDir = DEFAULT_RESULTS, outDir = resultsDir, now = new Date() } = {}) {
  const report = buildReport(resultsDir, now);
  mkdirSync(outDir, { recursive: true });
  const files = {
    json: path.join(outDir, 'report.json'),
    md: path.join(outDir, 'report.md'),
    svg: path.join(outDir, 'report.svg'),
  };
  writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files.md, renderReportMarkdown(report));
  writeFileSync(files.svg, renderSvg({ meta: report.meta, series: report.chart.series }));
  return { report, files };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? path.resolve(args[i + 1]) : undefined;
  };
  const { report, files } = writeReport({ resultsDir: opt('--results'), outDir: opt('--out') ?? opt('--results') });
  process.stderr.write(`wrote ${Object.values(files).map((f) => path.relative(process.cwd(), f)).join(', ')}` +
    ` (${report.chart.series.length} series; not run: ${report.notRun.join(', ') || 'none'})\n`);
}
