/**
 * bench/report/write-report.mjs turns whatever bench/results/<suite>.json
 * exist into report.{json,md,svg}. This builds it from small fixture results
 * in a temp directory (so it does not depend on the committed numbers),
 * checks the SVG is well-formed XML with every expected series plotted inside
 * the plot area, that the machine, Node and OpenSSL versions are recorded,
 * and that a suite with no results is left out and named as not run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const WRITE_REPORT = path.join(ROOT, 'bench', 'report', 'write-report.mjs');
const SVG_NS = 'http://www.w3.org/2000/svg';

// ---- a small XML parser: enough to prove well-formedness (node has no DOMParser) ----

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = '[A-Za-z_][\\w.:-]*';
const TAG = new RegExp(`<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`, 'y');
const ATTR = new RegExp(`(${NAME})\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'g');

/** Throws unless every `&` starts one of XML's entities or a character reference. */
function checkEntities(text: string, where: string): void {
  const bad = text.match(/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/);
  if (bad) throw new Error(`unescaped & in ${where}: ${JSON.stringify(text.slice(0, 60))}`);
}

/** Parses `src` into its one root element; throws on anything not well-formed. */
function parseXml(src: string): XmlElement {
  const s = src.replace(/^<\?xml[^?]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '');
  if (/<!|<\?/.test(s)) throw new Error('unexpected DOCTYPE, CDATA or processing instruction');
  const stack: XmlElement[] = [];
  const roots: XmlElement[] = [];
  let i = 0;
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    const text = s.slice(i, lt < 0 ? s.length : lt);
    checkEntities(text, 'text');
    if (stack.length) stack.at(-1)!.text += text;
    else if (text.trim()) throw new Error(`text outside the root element: ${JSON.stringify(text.trim().slice(0, 40))}`);
    if (lt < 0) break;
    TAG.lastIndex = lt;
    const m = TAG.exec(s);
    if (!m) throw new Error(`malformed tag at offset ${lt}: ${JSON.stringify(s.slice(lt, lt + 60))}`);
    const [whole, closing, name, attrText, selfClosing] = m as unknown as [string, string, string, string, string];
    i = lt + whole.length;
    if (closing) {
      if (attrText.trim() || selfClosing) throw new Error(`malformed closing tag </${name}>`);
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name ?? 'nothing'}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(ATTR)) {
      const [, key, dq, sq] = a as unknown as [string, string, string | undefined, string | undefined];
      if (key in attrs) throw new Error(`duplicate attribute ${key} on <${name}>`);
      attrs[key] = dq ?? sq ?? '';
      checkEntities(attrs[key]!, `attribute ${key} of <${name}>`);
    }
    const el: XmlElement = { name, attrs, children: [], text: '' };
    (stack.length ? stack.at(-1)!.children : roots).push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  if (roots.length !== 1) throw new Error(`expected one root element, found ${roots.length}`);
  return roots[0]!;
}

function descendants(el: XmlElement): XmlElement[] {
  return el.children.flatMap((c) => [c, ...descendants(c)]);
}

const hasClass = (el: XmlElement, cls: string) => (el.attrs.class ?? '').split(/\s+/).includes(cls);
const textOf = (el: XmlElement): string => el.text + el.children.map(textOf).join('');

// ---- fixture results, in the shapes bench/run.mjs writes ----

const META = {
  date: '2031-02-03T04:05:06.000Z',
  quick: false,
  cpu: { model: 'Fixture CPU @ 3.0GHz', cores: 4, arch: 'x64' },
  memoryBytes: 8 * 2 ** 30,
  kernel: 'Linux 6.1.0-fixture',
  node: 'v22.99.0',
  openssl: { node: '3.9.9', addon: 'OpenSSL 3.9.9 addon', cli: 'OpenSSL 3.9.9 cli (Library: OpenSSL 3.9.9)' },
  git: 'abc1234',
  loadavg: { start: [0, 0, 0], end: [0, 0, 0] },
};

const KiB = 1024;
const MiB = 1024 * KiB;

function throughputRows() {
  const cases = { openssl: 'openssl speed (1 process)', node: 'node:crypto one-shot', webcrypto: 'WebCrypto subtle.encrypt', 'async-all': 'hsmkms encrypt, 4 workers' };
  const speed = { openssl: 3000, node: 1500, webcrypto: 1000, 'async-all': 4000 };
  return Object.entries(cases).flatMap(([id, label]) => [64, KiB, 64 * KiB, MiB].map((size) => {
    const mbPerSec = (speed[id as keyof typeof speed] * size) / (size + 4 * KiB);
    return { suite: 'throughput', id, case: label, size, mbPerSec, opsPerSec: (mbPerSec * 1e6) / size, rounds: [1, 1, 1] };
  }));
}

const FIXTURES: Record<string, unknown> = {
  aead: {
    meta: { ...META, date: '2031-02-03T01:00:00.000Z', suites: ['throughput'] },
    goals: [
      { goal: 'hsmkms all workers vs node:crypto one-shot, 1 MiB', target: '≥ 2×', measured: 2.5, detail: '', result: 'PASS' },
      { goal: 'event-loop p99 while hsmkms encrypts', target: '< 5 ms', measured: 7, detail: '', result: 'FAIL' },
    ],
    suites: { throughput: { rows: throughputRows(), poolWinsFrom: { allWorkers: 64 * KiB } } },
  },
  pkcs11: {
    meta: { ...META, date: '2031-02-03T02:00:00.000Z' },
    goals: [{ goal: 'AES-GCM 32 B vs pkcs11js async', target: '≥ 2×', measured: 2.2, unit: '×', detail: '', result: 'PASS' }],
    suite: {
      rows: ['gcm-enc-32', 'gcm-enc-4k'].flatMap((op) => [
        { suite: 'pkcs11', id: `${op}/hsmkms-8`, op, opLabel: `AES-GCM ${op}`, variant: 'hsmkms-8', case: 'hsmkms async, 8 in flight', opsPerSec: 40000, p99Us: 500 },
        { suite: 'pkcs11', id: `${op}/pkcs11js-sync`, op, opLabel: `AES-GCM ${op}`, variant: 'pkcs11js-sync', case: 'pkcs11js sync loop', opsPerSec: 30000, p99Us: 50 },
      ]),
    },
  },
  envelope: {
    meta: { ...META, date: '2031-02-03T03:00:00.000Z' },
    goals: [{ goal: 'encryptStream vs client-node', target: '≥ 10×', measured: 6, detail: '', result: 'FAIL' }],
    suite: {
      streamBytes: 256 * MiB,
      rows: [
        { id: 'hsmkms-0478-enc', label: 'hsmkms encryptStream', unit: 'MB/s', value: 200, bytes: 256 * MiB, rounds: [200] },
        { id: 'peer-0478-default-enc', label: 'client-node encryptStream', unit: 'MB/s', value: 40, bytes: 64 * MiB, rounds: [40] },
        { id: 'small-hsmkms-raw', label: 'hsmkms envelope.encrypt 1 KiB', unit: 'ops/s', value: 6000, rounds: [6000] },
        { id: 'small-peer-raw', label: 'client-node encrypt 1 KiB', unit: 'ops/s', value: 800, rounds: [800] },
      ],
    },
  },
  server: {
    meta: META,
    goals: [{ goal: 'SigV4 verification is not the bottleneck (< 20% of server CPU)', value: '16.3%', met: true }],
    suite: { case: 'Encrypt 32 B over HTTP', concurrency: 64, opsPerSec: 2500, latencyMs: { p50: 20, p99: 70 } },
  },
};

const EXPECTED_SERIES = ['hsmkms', 'node:crypto', 'WebCrypto', 'openssl speed', 'client-node', 'pkcs11js'];

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-bench-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes the named fixtures to a fresh directory and runs the report writer on it. */
function reportFrom(name: string, files: string[]) {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(path.join(dir, `${f}.json`), JSON.stringify(FIXTURES[f]));
  execFileSync(process.execPath, [WRITE_REPORT, '--results', dir], { cwd: ROOT, stdio: 'pipe' });
  return {
    svg: readFileSync(path.join(dir, 'report.svg'), 'utf8'),
    md: readFileSync(path.join(dir, 'report.md'), 'utf8'),
    json: JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')),
  };
}

/** Every series group of the chart: name → its points' coordinates. */
function plottedSeries(root: XmlElement) {
  const all = descendants(root);
  const plot = all.find((e) => e.name === 'rect' && hasClass(e, 'plot-area'));
  if (!plot) throw new Error('no <rect class="plot-area">');
  const [x, y, w, h] = ['x', 'y', 'width', 'height'].map((k) => Number(plot.attrs[k]));
  const series = new Map<string, { cx: number; cy: number; inside: boolean }[]>();
  for (const g of all.filter((e) => e.name === 'g' && hasClass(e, 'series'))) {
    const points = descendants(g).filter((e) => e.name === 'circle' && hasClass(e, 'point')).map((c) => {
      const cx = Number(c.attrs.cx);
      const cy = Number(c.attrs.cy);
      return { cx, cy, inside: Number.isFinite(cx) && Number.isFinite(cy) && cx >= x! && cx <= x! + w! && cy >= y! && cy <= y! + h! };
    });
    series.set(g.attrs['data-series']!, points);
  }
  return series;
}

describe('bench report from every kind of result', () => {
  const report = reportFrom('all', ['aead', 'pkcs11', 'envelope', 'server']);

  it('writes a well-formed SVG 1.1 document with no external resources', () => {
    const root = parseXml(report.svg);
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe(SVG_NS);
    expect(Number(root.attrs.width)).toBeGreaterThan(0);
    expect(Number(root.attrs.height)).toBeGreaterThan(0);
    const all = [root, ...descendants(root)];
    expect(all.filter((e) => ['script', 'image', 'foreignObject', 'use', 'a'].includes(e.name))).toEqual([]);
    expect(all.filter((e) => Object.keys(e.attrs).some((k) => /href$/.test(k)))).toEqual([]);
  });

  it('plots every expected series inside the plot area, each with a legend entry', () => {
    const root = parseXml(report.svg);
    const series = plottedSeries(root);
    for (const name of EXPECTED_SERIES) {
      const points = series.get(name);
      expect(points, name).toBeDefined();
      expect(points!.length, name).toBeGreaterThan(0);
      expect(points!.every((p) => p.inside), `${name}: ${JSON.stringify(points)}`).toBe(true);
    }
    const legend = descendants(root).filter((e) => hasClass(e, 'legend-entry')).map((e) => e.attrs['data-series']);
    expect(legend.sort()).toEqual([...series.keys()].sort());
    // More throughput at 1 MiB than at 64 B: the y axis grows upwards.
    const hsmkms = series.get('hsmkms')!;
    expect(hsmkms.at(-1)!.cy).toBeLessThan(hsmkms[0]!.cy);
    expect(hsmkms.at(-1)!.cx).toBeGreaterThan(hsmkms[0]!.cx);
  });

  it('titles the chart with the date and the machine, and labels both axes', () => {
    const root = parseXml(report.svg);
    const texts = descendants(root).filter((e) => e.name === 'text').map(textOf);
    const heading = texts.slice(0, 2).join(' ');
    expect(heading).toContain('2031-02-03');
    expect(heading).toContain('Fixture CPU @ 3.0GHz');
    expect(texts.some((t) => /message size/.test(t))).toBe(true);
    expect(texts.some((t) => /MB\/s/.test(t))).toBe(true);
    expect(texts).toContain('1 KiB');
  });

  it('records the machine, Node and OpenSSL versions in report.json and report.md', () => {
    const { meta } = report.json;
    expect(meta.machine).toMatchObject({ cpu: 'Fixture CPU @ 3.0GHz', cores: 4, kernel: 'Linux 6.1.0-fixture' });
    expect(meta.node).toBe('v22.99.0');
    expect(meta.openssl).toEqual(META.openssl);
    expect(meta.git).toBe('abc1234');
    expect(Date.parse(meta.date)).not.toBeNaN();
    for (const s of ['Fixture CPU @ 3.0GHz', 'v22.99.0', '3.9.9', 'OpenSSL 3.9.9 addon', 'OpenSSL 3.9.9 cli', 'abc1234']) {
      expect(report.md).toContain(s);
    }
  });

  it('carries every suite goal with its result, and says which suites were not run', () => {
    const { suites, notRun, totals } = report.json;
    expect(Object.keys(suites).sort()).toEqual(['aead', 'envelope', 'pkcs11', 'server']);
    expect(suites.aead.goals.map((g: { result: string }) => g.result)).toEqual(['PASS', 'FAIL']);
    expect(suites.server.goals[0]).toMatchObject({ result: 'PASS', measured: 16.3, unit: '%' });
    expect(totals).toEqual({ PASS: 3, FAIL: 2, 'NOT RUN': 0 });
    expect(notRun).toEqual(['event-loop', 'memory', 'kms', 'multinode', 'cli']);
    expect(report.md).toMatch(/Not run.*event-loop, memory, kms, multinode, cli/);
    expect(report.md).toContain('![AES-256-GCM encrypt throughput against message size](report.svg)');
  });
});

describe('bench report with missing results', () => {
  it('leaves out the series whose results are missing', () => {
    const { svg, md } = reportFrom('aead-only', ['aead']);
    const series = plottedSeries(parseXml(svg));
    expect([...series.keys()].sort()).toEqual(['WebCrypto', 'hsmkms', 'node:crypto', 'openssl speed']);
    expect(md).toMatch(/Not run.*pkcs11, kms, envelope, server, multinode, cli/);
  });

  it('still writes a well-formed chart when there are no results at all', () => {
    const { svg, json } = reportFrom('none', []);
    expect(parseXml(svg).name).toBe('svg');
    expect(json.chart.series).toEqual([]);
    expect(json.notRun).toHaveLength(9);
  });
});

it.skipIf(!existsSync(path.join(ROOT, 'bench', 'results', 'aead.json')))('builds from the committed results too', () => {
  const out = path.join(tmp, 'committed');
  execFileSync(process.execPath, [WRITE_REPORT, '--results', path.join(ROOT, 'bench', 'results'), '--out', out], { cwd: ROOT, stdio: 'pipe' });
  const series = plottedSeries(parseXml(readFileSync(path.join(out, 'report.svg'), 'utf8')));
  for (const [name, points] of series) expect(points.every((p) => p.inside), name).toBe(true);
  expect(series.has('hsmkms')).toBe(true);
});
