// SVG line chart of one suite: GFLOP/s (y, linear from 0) against x (sequence length, log2 axis),
// one line with markers per implementation (and per case series, if the suite has several).
// Self-contained, no dependencies; a white background and explicit colours, so it reads the same
// on GitHub's light and dark themes. Colours are the Okabe–Ito palette; each impl also has its
// own marker shape and each series its own dash, so the chart survives grey-scale printing.

import type { BenchResult } from './harness.js';

export interface ChartOptions {
  /** Default: '<suite>: GFLOP/s by sequence length'. */
  title?: string;
  /** Second line under the title, e.g. machine, Node version and date. */
  subtitle?: string;
  /** Default: 'sequence length'. */
  xLabel?: string;
  /** Default: 'GFLOP/s (higher is better)'. */
  yLabel?: string;
  width?: number;
  height?: number;
}

const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999999'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'down', 'cross'] as const;
const DASHES = ['', '7 4', '2 3', '10 3 2 3'];
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const INK = '#222222', MUTED = '#666666', GRID = '#e4e4e4', AXIS = '#888888';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const r1 = (v: number): string => String(Math.round(v * 10) / 10);

interface Point { x: number; y: number; ms: number; label: string }
interface Series { key: string; impl: string; group: string; color: string; marker: (typeof MARKERS)[number]; dash: string; points: (Point | null)[] }

/** A step of 1, 2, 2.5 or 5 × 10^k giving about `ticks` intervals up to max. */
function niceStep(max: number, ticks = 5): number {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function fmtTick(v: number): string { return String(+v.toPrecision(6)); }

function marker(kind: (typeof MARKERS)[number], x: number, y: number, color: string, size = 4.5): string {
  const s = size, fill = `fill="${color}" stroke="#ffffff" stroke-width="1.2"`;
  switch (kind) {
    case 'circle': return `<circle cx="${r1(x)}" cy="${r1(y)}" r="${s}" ${fill}/>`;
    case 'square': return `<rect x="${r1(x - s * 0.9)}" y="${r1(y - s * 0.9)}" width="${r1(s * 1.8)}" height="${r1(s * 1.8)}" ${fill}/>`;
    case 'triangle': return `<path d="M${r1(x)} ${r1(y - s * 1.15)}L${r1(x + s)} ${r1(y + s * 0.75)}L${r1(x - s)} ${r1(y + s * 0.75)}Z" ${fill}/>`;
    case 'down': return `<path d="M${r1(x)} ${r1(y + s * 1.15)}L${r1(x + s)} ${r1(y - s * 0.75)}L${r1(x - s)} ${r1(y - s * 0.75)}Z" ${fill}/>`;
    case 'diamond': return `<path d="M${r1(x)} ${r1(y - s * 1.2)}L${r1(x + s * 1.2)} ${r1(y)}L${r1(x)} ${r1(y + s * 1.2)}L${r1(x - s * 1.2)} ${r1(y)}Z" ${fill}/>`;
    case 'cross': return `<path d="M${r1(x - s)} ${r1(y - s)}L${r1(x + s)} ${r1(y + s)}M${r1(x + s)} ${r1(y - s)}L${r1(x - s)} ${r1(y + s)}" stroke="${color}" stroke-width="2.2" fill="none"/>`;
  }
}

/** The SVG text of one suite's chart; a 'no data' chart if none of its results has x and a GFLOP/s. */
export function renderChart(results: BenchResult[], suite: string, opts: ChartOptions = {}): string {
  const W = opts.width ?? 800, H = opts.height ?? 460;
  const rows = results.filter((r) => r.suite === suite && r.x !== undefined && r.x > 0);
  const title = opts.title ?? `${suite}: GFLOP/s by sequence length`;

  // 1. series: one per impl × case series, points on the suite's x grid (null = gap)
  const impls: string[] = [], groups: string[] = [];
  for (const r of rows) {
    for (const i of r.impls) if (!impls.includes(i.name)) impls.push(i.name);
    const g = r.series ?? '';
    if (!groups.includes(g)) groups.push(g);
  }
  const series: Series[] = [];
  for (const g of groups) {
    const gRows = rows.filter((r) => (r.series ?? '') === g).sort((a, b) => a.x! - b.x!);
    impls.forEach((impl, ii) => {
      const points = gRows.map((r): Point | null => {
        const i = r.impls.find((x) => x.name === impl);
        if (!i || i.status !== 'ok' || i.gflops === undefined || !i.stats || !Number.isFinite(i.gflops)) return null;
        return { x: r.x!, y: i.gflops, ms: i.stats.medianMs, label: r.name };
      });
      if (points.every((p) => p === null)) return;
      series.push({
        key: g ? `${impl} · ${g}` : impl, impl, group: g,
        color: COLORS[ii % COLORS.length]!, marker: MARKERS[ii % MARKERS.length]!,
        dash: DASHES[groups.indexOf(g) % DASHES.length]!, points,
      });
    });
  }
  const pts = series.flatMap((s) => s.points.filter((p): p is Point => p !== null));

  // 2. layout
  const legendW = Math.max(150, 56 + 7.6 * Math.max(0, ...series.map((s) => s.key.length)));
  const left = 72, top = opts.subtitle ? 78 : 62, right = W - legendW - 24, bottom = H - 58;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${escapeXml(FONT)}" role="img" aria-label="${escapeXml(title)}">`);
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="30" font-size="17" font-weight="600" fill="${INK}">${escapeXml(title)}</text>`);
  if (opts.subtitle) out.push(`<text x="${left}" y="52" font-size="12" fill="${MUTED}">${escapeXml(opts.subtitle)}</text>`);

  if (pts.length === 0) {
    out.push(`<text x="${W / 2}" y="${H / 2}" font-size="14" text-anchor="middle" fill="${MUTED}">no data</text>`);
    out.push('</svg>');
    return out.join('\n') + '\n';
  }

  // 3. scales: x log2 over whole powers of two (padded), y linear from 0 to a nice max
  const lx = pts.map((p) => Math.log2(p.x));
  let lo = Math.floor(Math.min(...lx)), hi = Math.ceil(Math.max(...lx));
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = 0.3;
  const X = (x: number): number => left + ((Math.log2(x) - (lo - pad)) / (hi - lo + 2 * pad)) * (right - left);
  const step = niceStep(Math.max(...pts.map((p) => p.y)) * 1.05 || 1);
  const yMax = Math.ceil((Math.max(...pts.map((p) => p.y)) * 1.05 || 1) / step) * step;
  const Y = (y: number): number => bottom - (y / yMax) * (bottom - top);

  // 4. grid, ticks, axes, labels
  out.push(`<g font-size="12" fill="${INK}">`);
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const y = r1(Y(v));
    out.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="${GRID}" stroke-width="1"/>`);
    out.push(`<text x="${left - 8}" y="${y}" dy="0.35em" text-anchor="end">${fmtTick(v)}</text>`);
  }
  const every = hi - lo > 12 ? 2 : 1;
  for (let k = lo; k <= hi; k++) {
    const x = r1(X(2 ** k));
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="${GRID}" stroke-width="1"/>`);
    out.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="${AXIS}" stroke-width="1"/>`);
    if ((k - lo) % every === 0) out.push(`<text x="${x}" y="${bottom + 19}" text-anchor="middle">${fmtTick(2 ** k)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="${AXIS}" stroke-width="1.2"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="${AXIS}" stroke-width="1.2"/>`);
  out.push(`<text x="${r1((left + right) / 2)}" y="${H - 16}" text-anchor="middle" font-size="13">${escapeXml(opts.xLabel ?? 'sequence length')} (log₂ scale)</text>`);
  const yl = r1((top + bottom) / 2);
  out.push(`<text x="20" y="${yl}" text-anchor="middle" font-size="13" transform="rotate(-90 20 ${yl})">${escapeXml(opts.yLabel ?? 'GFLOP/s (higher is better)')}</text>`);
  out.push('</g>');

  // 5. lines (broken at gaps), then markers with tooltips; ours (first impl) drawn last, on top
  const ordered = [...series].reverse();
  for (const s of ordered) {
    let d = '', pen = false;
    for (const p of s.points) {
      if (!p) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${r1(X(p.x))} ${r1(Y(p.y))}`;
      pen = true;
    }
    const width = s.impl === impls[0] ? 2.8 : 2;
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${width}" stroke-linejoin="round" stroke-linecap="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
  }
  for (const s of ordered) {
    out.push(`<g>`);
    for (const p of s.points) {
      if (!p) continue;
      const tip = `${s.key} · ${p.label}: ${p.y.toPrecision(3)} GFLOP/s, ${p.ms.toPrecision(3)} ms`;
      out.push(`<g><title>${escapeXml(tip)}</title>${marker(s.marker, X(p.x), Y(p.y), s.color)}</g>`);
    }
    out.push(`</g>`);
  }

  // 6. legend, right of the plot
  const lx0 = right + 20;
  out.push(`<g font-size="12" fill="${INK}">`);
  series.forEach((s, i) => {
    const y = top + 8 + i * 22;
    out.push(`<line x1="${lx0}" y1="${y}" x2="${lx0 + 28}" y2="${y}" stroke="${s.color}" stroke-width="${s.impl === impls[0] ? 2.8 : 2}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(marker(s.marker, lx0 + 14, y, s.color));
    out.push(`<text x="${lx0 + 36}" y="${y}" dy="0.35em"${s.impl === impls[0] ? ' font-weight="600"' : ''}>${escapeXml(s.key)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
