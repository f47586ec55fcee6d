// attentionHeatmap: attention weights drawn as an SVG document, built as a string (no DOM), so it
// gives the same text in Node, workers and browsers.
//
// Shapes: weights [L, S], [H, L, S] or [B, H, L, S], as returnWeights / needWeights give them:
// L queries (rows, top to bottom), S keys (columns, left to right), H heads, B batch.
// Layout: a grid of panels (small multiples: one per head drawn, or one for the mean over heads) that
// share one colour scale; query labels left of each grid row, key labels (rotated) under the lowest
// panel of each grid column, and on the right a colour bar with ticks, and a NaN swatch when a drawn
// weight is NaN. Colours: src/colormap.ts (index ⌊256·(w − lo)/(hi − lo)⌋ clipped to 0…255).
// A panel is drawn one of two ways:
// - cells, while L, S ≤ MAX_AXIS and all panels together hold ≤ MAX_CELLS weights: one <rect> per
//   weight, filled with the colormap at that weight, holding a <title> (query, key, weight) for hover;
// - an image otherwise: an <image> with a PNG data URL (src/png.ts), one pixel per block of
//   ⌈L/256⌉ × ⌈S/256⌉ weights holding the block's largest weight (NaN if any weight of it is NaN), so a
//   single strong weight stays visible. At most 256 × 256 pixels: a palette PNG of ~66 KB (~88 KB as
//   base64), or with NaN pixels (a 257th colour) an RGB one of ~197 KB (~263 KB).
import { COLORMAPS, type ColormapName, NAN_COLOR, colorIndex, colormapColors } from "./colormap.js";
import { base64, encodePng } from "./png.js";
import { type Tensor, checkBool, checkInt, checkOptions, checkTensor, fmtShape, rangeError, typeError } from "./validate.js";

export type { ColormapName } from "./colormap.js";

export interface HeatmapOptions {
  /** Which batch element of [B, H, L, S] weights to draw. Default 0. */
  batch?: number;
  /** The heads to draw, one panel each ("all", the default), or one panel of their float64 mean ("mean"). */
  heads?: readonly number[] | "all" | "mean";
  /** L row labels (the query tokens). Default: the row numbers. */
  queryLabels?: readonly string[];
  /** S column labels (the key tokens). Default: the column numbers. */
  keyLabels?: readonly string[];
  /** The heading, also the document's accessible name. Default "Attention weights" ("" draws none). */
  title?: string;
  /** "viridis" (default), "magma" or "gray". */
  colormap?: ColormapName;
  /** [min, max] of the colour scale; weights outside take the end colours. Default [min(0, smallest), largest] of the finite weights drawn. */
  range?: readonly [number, number];
  /** Width and height of one weight's cell, in px. Default: panels of ~480 px (one) or ~240 px (several), cells ≤ 24 px (≥ 2 px when drawn as cells). */
  cellSize?: number;
  /** Draw the colour bar (and the NaN swatch). Default true. */
  legend?: boolean;
}

const FN = "attentionHeatmap";
const KNOWN = ["batch", "heads", "queryLabels", "keyLabels", "title", "colormap", "range", "cellSize", "legend"];
/** Panels are drawn as cells while L, S ≤ MAX_AXIS and the panels hold ≤ MAX_CELLS weights in all; as images beyond. */
export const MAX_AXIS = 256;
export const MAX_CELLS = 65536;
/** Image panels have at most this many pixels a side. */
export const MAX_PIXELS = 256;
/** Labels longer than this many characters are cut, ending in "…" (the full text is in the hover title). */
const MAX_LABEL = 12;
const PAD = 8, GAP = 14, FONT = 10, CHAR_W = 6, BAR_W = 14;

interface Panel { name: string; values: ArrayLike<number> }   // L·S weights, row-major

/** XML text and attribute escaping; characters XML 1.0 cannot hold (controls, lone surrogates, U+FFFE/F) become U+FFFD. */
const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
// eslint-disable-next-line no-control-regex
const ESC_RE = /[&<>"']|[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
export function escapeXml(s: string): string {
  return s.replace(ESC_RE, (c) => ESC[c] ?? "\uFFFD");
}

function truncate(s: string): string {
  const cps = Array.from(s);
  return cps.length > MAX_LABEL ? cps.slice(0, MAX_LABEL - 1).join("") + "…" : s;
}

const px = (x: number): string => String(Math.round(x * 100) / 100);
/** A weight as shown in hover titles: 6 significant digits. */
export const fmtWeight = (v: number): string => (v !== v ? "NaN" : String(+v.toPrecision(6)));

/** Round tick values (1, 2 or 5 × 10^k apart) inside [lo, hi], 3 to 8 of them, with their labels. */
function ticks(lo: number, hi: number): { v: number; text: string }[] {
  const raw = (hi - lo) / 4;
  const p = Number(`1e${Math.floor(Math.log10(raw))}`);   // a parsed literal: correctly rounded in every engine (10 ** k need not be)
  const m = raw / p;
  const step = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  const dec = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out: { v: number; text: string }[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9) && out.length < 12; k++) {
    const v = k * step;
    const text = Math.abs(v) >= 1e6 || dec > 6 ? v.toExponential(1) : v.toFixed(dec);
    out.push({ v, text: /^-0(\.0*)?$/.test(text) ? text.slice(1) : text });
  }
  return out;
}

/** Label every stride-th row and column, stride ∈ 1, 2, 5, 10, 20, 50, …: the least with stride·cellSize ≥ FONT + 1 (no overlap). */
function labelStride(cs: number): number {
  for (let e = 1; ; e *= 10) for (const m of [1, 2, 5]) if (m * e * cs >= FONT + 1) return m * e;
}

function checkLabels(arg: string, v: unknown, n: number, axis: string): string[] | null {
  if (v === undefined) return null;
  if (!Array.isArray(v)) throw typeError(FN, arg, `an array of ${n} strings (one per ${axis})`, v);
  const a: unknown[] = Array.prototype.slice.call(v);
  if (a.length !== n) throw rangeError(FN, `${arg}.length`, `equal ${axis === "query" ? "L" : "S"} = ${n}`, a.length);
  a.forEach((s, i) => { if (typeof s !== "string") throw typeError(FN, `${arg}[${i}]`, "a string", s); });
  return a as string[];
}

/** Checks weights and options (every message names the argument, the expected and the actual value). */
function checkArgs(weights: unknown, options: unknown) {
  const w = checkTensor(FN, "weights", weights, 2, "[L, S], [H, L, S] or [B, H, L, S]");
  const shape = w.shape, rank = shape.length;
  if (rank > 4) throw rangeError(FN, "weights.shape", "have rank 2, 3 or 4 ([L, S], [H, L, S] or [B, H, L, S])", `${fmtShape(shape)} (rank ${rank})`);
  if (shape.includes(0)) throw rangeError(FN, "weights.shape", "have no zero dimension (nothing to draw)", fmtShape(shape));
  const [B, H, L, S] = [...Array(4 - rank).fill(1), ...shape] as number[];
  const o = checkOptions<HeatmapOptions>(FN, options, KNOWN);
  const batch = checkInt(FN, "options.batch", o.batch, 0, 0);
  if (batch >= B) throw rangeError(FN, "options.batch", `be < B = ${B} (weights.shape ${fmtShape(shape)})`, batch);
  let heads: number[] | "mean";
  if (o.heads === undefined || o.heads === "all") heads = Array.from({ length: H }, (_, h) => h);
  else if (o.heads === "mean") heads = "mean";
  else if (Array.isArray(o.heads)) {
    const a: unknown[] = Array.prototype.slice.call(o.heads);
    if (a.length === 0) throw rangeError(FN, "options.heads", "name at least one head", "[]");
    a.forEach((h, i) => {
      if (typeof h !== "number") throw typeError(FN, `options.heads[${i}]`, "a number", h);
      if (!Number.isInteger(h) || h < 0 || h >= H) throw rangeError(FN, `options.heads[${i}]`, `be an integer in [0, H − 1] = [0, ${H - 1}]`, h);
    });
    heads = a as number[];
  } else throw typeError(FN, "options.heads", `"all", "mean" or an array of head indices`, o.heads);
  const queryLabels = checkLabels("options.queryLabels", o.queryLabels, L, "query");
  const keyLabels = checkLabels("options.keyLabels", o.keyLabels, S, "key");
  if (o.title !== undefined && typeof o.title !== "string") throw typeError(FN, "options.title", "a string", o.title);
  const cmap = o.colormap ?? "viridis";
  if (!COLORMAPS.includes(cmap)) throw typeError(FN, "options.colormap", `one of ${COLORMAPS.map((c) => JSON.stringify(c)).join(", ")}`, cmap);
  let range: [number, number] | null = null;
  if (o.range !== undefined) {
    if (!Array.isArray(o.range)) throw typeError(FN, "options.range", "an array [min, max]", o.range);
    const r: unknown[] = Array.prototype.slice.call(o.range);
    if (r.length !== 2) throw rangeError(FN, "options.range.length", "be 2 ([min, max])", r.length);
    r.forEach((v, i) => {
      if (typeof v !== "number") throw typeError(FN, `options.range[${i}]`, "a number", v);
      if (!Number.isFinite(v)) throw rangeError(FN, `options.range[${i}]`, "be a finite number", v);
    });
    const [lo, hi] = r as [number, number];
    if (!(lo < hi) || !Number.isFinite(hi - lo)) throw rangeError(FN, "options.range", "be [min, max] with min < max (and max − min finite)", `[${lo}, ${hi}]`);
    range = [lo, hi];
  }
  if (o.cellSize !== undefined) {
    if (typeof o.cellSize !== "number") throw typeError(FN, "options.cellSize", "a number", o.cellSize);
    if (!(o.cellSize > 0) || !Number.isFinite(o.cellSize)) throw rangeError(FN, "options.cellSize", "be a finite number > 0 (px)", o.cellSize);
  }
  const legend = checkBool(FN, "options.legend", o.legend, true);
  return { w, shape, rank, B, H, L, S, batch, heads, queryLabels, keyLabels, title: o.title, cmap, range, cellSize: o.cellSize, legend };
}

/**
 * Draws attention weights as an SVG heatmap (a complete document, as a string).
 * @param weights `[L, S]`, `[H, L, S]` or `[B, H, L, S]` (as `returnWeights` / `needWeights` give them).
 * @throws TypeError when weights is not such a tensor, an option has the wrong type or an unknown name.
 * @throws RangeError when weights has another rank or a zero dimension, batch/heads are out of range,
 *   labels have the wrong count, range is not min < max (finite), or cellSize is not > 0.
 */
export function attentionHeatmap(weights: Tensor, options?: HeatmapOptions): string {
  // 1. arguments
  const { w, shape, rank, H, L, S, batch, heads, queryLabels, keyLabels, cmap, range, cellSize, legend, title: titleOpt } = checkArgs(weights, options);

  // 2. the panels' weights: views of the data, or the float64 mean over every head
  const plane = L * S, base = batch * H * plane;
  const panels: Panel[] = [];
  const named = rank > 2;
  if (heads === "mean") {
    const mean = new Float64Array(plane);
    for (let h = 0; h < H; h++) {
      const off = base + h * plane;
      for (let i = 0; i < plane; i++) mean[i] += w.data[off + i];
    }
    for (let i = 0; i < plane; i++) mean[i] /= H;
    panels.push({ name: `mean of ${H} head${H === 1 ? "" : "s"}`, values: mean });
  } else {
    for (const h of heads) panels.push({ name: `head ${h}`, values: w.data.subarray(base + h * plane, base + (h + 1) * plane) });
  }

  // 3. the colour scale: the given range, or [min(0, smallest), largest] of the finite weights drawn
  let min = Infinity, max = -Infinity, nan = 0, below = 0, above = 0;
  for (const p of panels) {
    for (let i = 0; i < plane; i++) {
      const v = p.values[i];
      if (v !== v) nan++;
      else if (Number.isFinite(v)) { if (v < min) min = v; if (v > max) max = v; }
    }
  }
  let lo: number, hi: number;
  if (range) [lo, hi] = range;
  else if (min > max) [lo, hi] = [0, 1];   // nothing finite
  else { lo = Math.min(0, min); hi = max > lo ? max : lo + 1; }
  for (const p of panels) for (let i = 0; i < plane; i++) { const v = p.values[i]; if (v < lo) below++; else if (v > hi) above++; }
  const colors = colormapColors(cmap), nanColor = NAN_COLOR[cmap];

  // 4. geometry
  const n = panels.length;
  const asImage = L > MAX_AXIS || S > MAX_AXIS || n * plane > MAX_CELLS;
  const cs = cellSize ?? Math.max(asImage ? 0 : 2, Math.min(24, (n === 1 ? 480 : 240) / Math.max(L, S)));
  const pw = S * cs, ph = L * cs;
  const cols = Math.min(n, Math.max(4, Math.ceil(Math.sqrt(n)))), rows = Math.ceil(n / cols);
  const stride = labelStride(cs);
  const shown = (count: number, labels: string[] | null) => {
    const out: { i: number; text: string; full: string }[] = [];
    for (let i = 0; i < count; i += stride) { const full = labels ? labels[i] : String(i); out.push({ i, text: truncate(full), full }); }
    return out;
  };
  const qShown = shown(L, queryLabels), kShown = shown(S, keyLabels);
  const width = (t: string) => Array.from(t).length * CHAR_W;
  const qLabelW = Math.max(0, ...qShown.map((l) => width(l.text))) + 6;
  const kLabelH = Math.max(0, ...kShown.map((l) => width(l.text))) + 6;
  const title = titleOpt ?? "Attention weights";
  const titleH = title ? 24 : 0, nameH = named ? 16 : 0;
  const x0 = PAD + qLabelW, y0 = PAD + titleH + nameH;
  const lastInColumn = (c: number) => (c < n - (rows - 1) * cols ? rows - 1 : rows - 2);
  const origin = (i: number) => [x0 + (i % cols) * (pw + GAP), y0 + Math.floor(i / cols) * (ph + GAP + nameH)];
  let bottom = 0;
  for (let c = 0; c < cols; c++) bottom = Math.max(bottom, y0 + lastInColumn(c) * (ph + GAP + nameH) + ph + kLabelH);
  const gridRight = x0 + cols * pw + (cols - 1) * GAP;
  const tickList = ticks(lo, hi);
  const barH = Math.max(100, Math.min(300, ph)), lx = gridRight + 20, ly = y0;
  const legendW = BAR_W + 7 + Math.max(...tickList.map((t) => width(t.text)), nan ? width(`NaN (${nan})`) : 0);
  const legendBottom = ly + barH + (nan ? 30 : 8);
  const W = Math.max((legend ? lx + legendW : gridRight) + PAD, PAD * 2 + Array.from(title).length * 8);
  const Ht = Math.max(bottom, legend ? legendBottom : 0) + PAD;

  // 5. the document
  const qName = (l: number) => (queryLabels ? `query ${l} “${queryLabels[l]}”` : `query ${l}`);
  const kName = (s: number) => (keyLabels ? `key ${s} “${keyLabels[s]}”` : `key ${s}`);
  const fr = Math.ceil(L / MAX_PIXELS), fc = Math.ceil(S / MAX_PIXELS);
  const imgRows = Math.ceil(L / fr), imgCols = Math.ceil(S / fc);
  const out: string[] = [];
  const desc = `Heatmap of attention weights ${fmtShape(shape)}${rank === 4 ? `, batch ${batch}` : ""}: ` +
    `${n === 1 ? "one panel" : `${n} panels`}${named ? ` (${n <= 8 ? panels.map((p) => p.name).join(", ") : `${panels[0].name} … ${panels[n - 1].name}`})` : ""}; ` +
    `rows are the L = ${L} queries, columns the S = ${S} keys. Colour scale ${cmap}, dark at ${fmtWeight(lo)} to bright at ${fmtWeight(hi)}` +
    `${below || above ? ` (${below} weights below and ${above} above it drawn in its end colours)` : ""}. ` +
    `${nan ? `${nan} NaN weight${nan === 1 ? "" : "s"} drawn in ${nanColor}. ` : ""}` +
    (asImage ? `Each panel is an image of ${imgCols}×${imgRows} pixels, each pixel the largest weight of a block of ${fr}×${fc} (rows × columns; NaN if any weight of the block is NaN).` : "Each cell's title gives its query, key and weight.");
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${px(W)}" height="${px(Ht)}" viewBox="0 0 ${px(W)} ${px(Ht)}" role="img" font-family="system-ui, sans-serif" font-size="${FONT}">`,
    `<title>${escapeXml(title || "Attention weights")}</title>`, `<desc>${escapeXml(desc)}</desc>`,
    `<rect width="100%" height="100%" fill="#fff"/>`);
  if (title) out.push(`<text x="${PAD}" y="${PAD + 14}" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  panels.forEach((p, i) => {
    const [x, y] = origin(i), c = i % cols, r = Math.floor(i / cols);
    out.push(`<g class="panel" transform="translate(${px(x)},${px(y)})">`);
    if (named) out.push(`<text class="panel-title" y="-4" font-size="11">${escapeXml(p.name)}</text>`);
    if (asImage) {
      const idx = new Uint16Array(imgRows * imgCols);
      for (let ir = 0; ir < imgRows; ir++) {
        for (let ic = 0; ic < imgCols; ic++) {
          let m = -Infinity, isNan = false;
          for (let l = ir * fr; l < Math.min(L, (ir + 1) * fr) && !isNan; l++) {
            for (let s = ic * fc; s < Math.min(S, (ic + 1) * fc); s++) {
              const v = p.values[l * S + s];
              if (v !== v) { isNan = true; break; }
              if (v > m) m = v;
            }
          }
          idx[ir * imgCols + ic] = isNan ? 256 : colorIndex(m, lo, hi);
        }
      }
      const hasNan = idx.includes(256);
      const png = encodePng(imgCols, imgRows, idx, hasNan ? [...colors, nanColor] : colors);
      out.push(`<image class="cells" width="${px(pw)}" height="${px(ph)}" preserveAspectRatio="none" image-rendering="optimizeSpeed" style="image-rendering:pixelated" href="data:image/png;base64,${base64(png)}">` +
        `<title>${escapeXml(`${p.name}: ${L}×${S} weights as ${imgCols}×${imgRows} pixels, each the largest of ${fr}×${fc}`)}</title></image>`);
    } else {
      out.push(`<g class="cells" shape-rendering="crispEdges">`);
      const size = px(cs);
      for (let l = 0; l < L; l++) {
        const yy = px(l * cs), q = qName(l);
        for (let s = 0; s < S; s++) {
          const v = p.values[l * S + s];
          const k = colorIndex(v, lo, hi);
          out.push(`<rect x="${px(s * cs)}" y="${yy}" width="${size}" height="${size}" fill="${k < 0 ? nanColor : colors[k]}"><title>${escapeXml(`${q} → ${kName(s)}: ${fmtWeight(v)}`)}</title></rect>`);
        }
      }
      out.push(`</g>`);
    }
    const label = (l: { text: string; full: string }) => escapeXml(l.text) + (l.text !== l.full ? `<title>${escapeXml(l.full)}</title>` : "");
    if (c === 0) {
      out.push(`<g class="query-labels" text-anchor="end" fill="#333">`);
      for (const l of qShown) out.push(`<text x="-4" y="${px((l.i + 0.5) * cs)}" dominant-baseline="central">${label(l)}</text>`);
      out.push(`</g>`);
    }
    if (r === lastInColumn(c)) {
      out.push(`<g class="key-labels" text-anchor="end" fill="#333">`);
      for (const l of kShown) out.push(`<text transform="translate(${px((l.i + 0.5) * cs)},${px(ph + 4)}) rotate(-90)" dominant-baseline="central">${label(l)}</text>`);
      out.push(`</g>`);
    }
    out.push(`</g>`);
  });
  if (legend) {
    // the colour bar: a 1 × 256 PNG of the map (entry 255 at the top), stretched over the bar; ticks on its right
    const bar = encodePng(1, 256, Array.from({ length: 256 }, (_, i) => 255 - i), colors);
    out.push(`<g class="legend" transform="translate(${px(lx)},${px(ly)})">`,
      `<image width="${BAR_W}" height="${px(barH)}" preserveAspectRatio="none" image-rendering="optimizeSpeed" style="image-rendering:pixelated" href="data:image/png;base64,${base64(bar)}"/>`,
      `<rect width="${BAR_W}" height="${px(barH)}" fill="none" stroke="#555" stroke-width="0.5"/>`);
    for (const t of tickList) {
      const ty = px(barH * (1 - (t.v - lo) / (hi - lo)));
      out.push(`<g class="tick" transform="translate(${BAR_W},${ty})"><line x2="4" stroke="#555"/><text x="7" dominant-baseline="central">${escapeXml(t.text)}</text></g>`);
    }
    if (nan) {
      out.push(`<g class="nan" transform="translate(0,${px(barH + 10)})"><rect width="${BAR_W}" height="${BAR_W}" fill="${nanColor}" stroke="#555" stroke-width="0.5"/>` +
        `<text x="${BAR_W + 7}" y="${BAR_W / 2}" dominant-baseline="central">NaN (${nan})</text></g>`);
    }
    out.push(`</g>`);
  }
  out.push(`</svg>\n`);
  return out.join("\n");
}
