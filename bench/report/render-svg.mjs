// The chart as plain SVG 1.1 (no scripts, fonts or links, so it renders the
// same in any browser and on GitHub): log-scale x = message size in bytes,
// log-scale y = MB/s, one <g class="series" data-series="NAME"> per series.

const W = 900;
const H = 540;
// Plot area; the legend sits in the right margin.
const PLOT = { x: 80, y: 70, w: 540, h: 390 };

// Fixed colours per series (Okabe–Ito, readable with colour blindness);
// openssl, the reference, is dashed.
const STYLE = {
  hsmkms: { color: '#D55E00', width: 3 },
  'hsmkms envelope': { color: '#E69F00', width: 2 },
  'hsmkms on SoftHSM2': { color: '#CC79A7', width: 2 },
  'node:crypto': { color: '#0072B2', width: 2 },
  WebCrypto: { color: '#56B4E9', width: 2 },
  'openssl speed': { color: '#000000', width: 2, dash: '6 4' },
  'client-node': { color: '#009E73', width: 2 },
  pkcs11js: { color: '#7F7F7F', width: 2 },
};
const FALLBACK = ['#882255', '#117733', '#332288', '#999933'];

export const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const num = (x) => Number(x.toFixed(1));
const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

export function bytesLabel(bytes) {
  for (const [unit, n] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]]) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes} B`;
}

const mbLabel = (v) => (v >= 1 ? v.toLocaleString('en-US') : String(v));

/** Log axes over powers of two (x) and ten (y) that hold every point. */
function scales(series) {
  const pts = series.flatMap((s) => s.points);
  const xs = pts.map((p) => Math.log2(p.bytes));
  const ys = pts.map((p) => Math.log10(p.mbPerSec));
  // Half a doubling of margin, so no marker sits on the frame.
  const x0 = Math.floor(Math.min(...xs)) - 0.5;
  const x1 = Math.max(x0 + 1.5, Math.ceil(Math.max(...xs)) + 0.5);
  const y0 = Math.floor(Math.min(...ys));
  const y1 = Math.max(y0 + 1, Math.ceil(Math.max(...ys)));
  const step = [1, 2, 3, 4, 5, 10].find((s) => (x1 - x0) / s <= 13);
  const xTicks = [];
  for (let e = Math.ceil(x0 / step) * step; e <= x1; e += step) xTicks.push(2 ** e);
  const yTicks = [];
  for (let e = y0; e <= y1; e++) yTicks.push(10 ** e);
  return {
    x: (bytes) => PLOT.x + (PLOT.w * (Math.log2(bytes) - x0)) / (x1 - x0),
    y: (mb) => PLOT.y + PLOT.h - (PLOT.h * (Math.log10(mb) - y0)) / (y1 - y0),
    xTicks, yTicks,
  };
}

function axes({ x, y, xTicks, yTicks }) {
  const out = ['<g class="axes" font-size="11" fill="#333">'];
  for (const t of yTicks) {
    const ty = num(y(t));
    out.push(`<line x1="${PLOT.x}" y1="${ty}" x2="${PLOT.x + PLOT.w}" y2="${ty}" stroke="#e3e3e3"/>`,
      `<text x="${PLOT.x - 6}" y="${ty + 4}" text-anchor="end">${esc(mbLabel(t))}</text>`);
  }
  for (const t of xTicks) {
    const tx = num(x(t));
    out.push(`<line x1="${tx}" y1="${PLOT.y}" x2="${tx}" y2="${PLOT.y + PLOT.h}" stroke="#e3e3e3"/>`,
      `<text x="${tx}" y="${PLOT.y + PLOT.h + 16}" text-anchor="middle">${esc(bytesLabel(t))}</text>`);
  }
  out.push(`<rect class="plot-area" x="${PLOT.x}" y="${PLOT.y}" width="${PLOT.w}" height="${PLOT.h}" fill="none" stroke="#888"/>`,
    `<text class="axis-label" x="${PLOT.x + PLOT.w / 2}" y="${PLOT.y + PLOT.h + 38}" text-anchor="middle" font-size="12">message size (bytes, log scale)</text>`,
    `<text class="axis-label" transform="translate(22 ${PLOT.y + PLOT.h / 2}) rotate(-90)" text-anchor="middle" font-size="12">throughput, MB/s (10⁶ bytes/s, log scale)</text>`,
    '</g>');
  return out;
}

function seriesGroup(s, i, { x, y }) {
  const st = STYLE[s.name] ?? { color: FALLBACK[i % FALLBACK.length], width: 2 };
  const pts = s.points.map((p) => ({ ...p, cx: num(x(p.bytes)), cy: num(y(p.mbPerSec)) }));
  const out = [`<g class="series" id="series-${slug(s.name)}" data-series="${esc(s.name)}">`];
  // Series whose points are different operations (a 1 KiB message, a long
  // stream) get no line: nothing lies between them.
  if (pts.length > 1 && s.connect !== false) {
    out.push(`<polyline class="series-line" fill="none" stroke="${st.color}" stroke-width="${st.width}"` +
      `${st.dash ? ` stroke-dasharray="${st.dash}"` : ''} points="${pts.map((p) => `${p.cx},${p.cy}`).join(' ')}"/>`);
  }
  for (const p of pts) {
    out.push(`<circle class="point" cx="${p.cx}" cy="${p.cy}" r="${s.connect === false ? 5 : 4}" fill="${st.color}" stroke="white" stroke-width="1" ` +
      `data-bytes="${p.bytes}" data-mb-per-sec="${p.mbPerSec.toFixed(3)}">` +
      `<title>${esc(`${s.name}, ${bytesLabel(p.bytes)}: ${p.mbPerSec.toFixed(p.mbPerSec >= 10 ? 0 : 2)} MB/s (${p.label})`)}</title></circle>`);
  }
  out.push('</g>');
  return out;
}

function legend(series) {
  const lx = PLOT.x + PLOT.w + 24;
  const out = ['<g class="legend" font-size="12">'];
  series.forEach((s, i) => {
    const st = STYLE[s.name] ?? { color: FALLBACK[i % FALLBACK.length], width: 2 };
    const ly = PLOT.y + 10 + i * 24;
    out.push(`<g class="legend-entry" data-series="${esc(s.name)}"><title>${esc(s.note)}</title>`,
      s.connect === false ? '' : `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${st.color}" stroke-width="${st.width}"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}/>`,
      `<circle cx="${lx + 14}" cy="${ly}" r="${s.connect === false ? 5 : 4}" fill="${st.color}"/>`,
      `<text x="${lx + 36}" y="${ly + 4}">${esc(s.name)}</text></g>`);
  });
  out.push('</g>');
  return out;
}

/** `meta` is the report's (reportMeta); `series` from chartSeries. */
export function renderSvg({ meta, series }) {
  const title = 'AES-256-GCM encrypt throughput against message size';
  const sub = `${(meta.lastRun ?? meta.date).slice(0, 10)} · ${meta.machine.cpu}, ${meta.machine.cores} cores · ` +
    `Node ${meta.node} · OpenSSL ${meta.openssl.node ?? '?'}${meta.git ? ` · git ${meta.git}` : ''}`;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<title>${esc(`${title} (${sub})`)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text class="title" x="${PLOT.x}" y="28" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text class="subtitle" x="${PLOT.x}" y="48" font-size="12" fill="#444">${esc(sub)}</text>`,
  ];
  if (series.length === 0) {
    out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-size="14">no throughput results (run node bench/run.mjs)</text>`);
  } else {
    const sc = scales(series);
    out.push(...axes(sc));
    // Drawn in reverse legend order, so the first series (hsmkms) is on top.
    const groups = series.map((s, i) => seriesGroup(s, i, sc));
    for (const g of groups.reverse()) out.push(...g);
    out.push(...legend(series));
    out.push(`<text x="${PLOT.x}" y="${H - 12}" font-size="10" fill="#666">MB = 10⁶ bytes. ` +
      'Hover a point or legend entry for its source; bench/results/report.md lists them.</text>');
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
