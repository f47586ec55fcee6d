// test/src/heatmap.test.ts ↔ src/heatmap.ts, src/colormap.ts, src/png.ts (attentionHeatmap).
// weights [L, S], [H, L, S], [B, H, L, S]: L queries (rows), S keys (columns), H heads, B batch.
// The SVG is parsed by a small XML parser written here (it rejects anything not well-formed), and
// every cell's fill is compared with the colour the test computes itself: index ⌊256·(w − lo)/(hi − lo)⌋
// clipped to 0…255 of the map, whose entries are checked against matplotlib's float tables (every
// 17th entry, copied from lib/matplotlib/_cm_listed.py). Image panels are decoded with node:zlib.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { inflateSync } from "node:zlib";
import { randn, rng, throwsWith } from "../helpers.js";
import { attentionHeatmap, MultiHeadAttention } from "../../src/index.js";
import { NAN_COLOR, colormapColors, type ColormapName } from "../../src/colormap.js";

// ---------------------------------------------------------------------------------------------
// A tiny XML parser: elements, attributes ("…" or '…'), text, the five named entities and numeric
// references. Throws on anything else: unbalanced or crossed tags, a raw "<" or "&" in text or an
// attribute, an unknown entity, a duplicate attribute, characters XML 1.0 cannot hold, text outside
// the root element.
interface El { name: string; attrs: Record<string, string>; children: El[]; text: string; parent: El | null }

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
function decode(s: string, where: string): string {
  if (/[<]/.test(s)) throw new Error(`raw "<" in ${where}: ${JSON.stringify(s.slice(0, 80))}`);
  return s.replace(/&([^;]*);?/g, (m, name: string) => {
    if (!m.endsWith(";")) throw new Error(`unterminated "&" in ${where}: ${JSON.stringify(s.slice(0, 80))}`);
    if (name in ENTITIES) return ENTITIES[name];
    const num = /^#(\d+)$/.exec(name) ?? /^#x([0-9a-fA-F]+)$/.exec(name);
    if (num) return String.fromCodePoint(parseInt(num[1], name[1] === "x" ? 16 : 10));
    throw new Error(`unknown entity &${name}; in ${where}`);
  });
}

function parseXml(src: string): El {
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(src);
  if (bad) throw new Error(`character U+${bad[0].charCodeAt(0).toString(16)} is not allowed in XML, at ${bad.index}`);
  const top: El = { name: "#document", attrs: {}, children: [], text: "", parent: null };
  let cur = top, i = 0;
  while (i < src.length) {
    const lt = src.indexOf("<", i);
    const text = src.slice(i, lt < 0 ? src.length : lt);
    if (text) {
      if (cur === top && text.trim()) throw new Error(`text outside the root: ${JSON.stringify(text.slice(0, 40))}`);
      cur.text += decode(text, `text of <${cur.name}>`);
    }
    if (lt < 0) break;
    const gt = src.indexOf(">", lt);
    if (gt < 0) throw new Error(`unclosed tag at ${lt}`);
    const tag = src.slice(lt + 1, gt);
    if (tag.startsWith("/")) {
      if (tag.slice(1).trim() !== cur.name) throw new Error(`</${tag.slice(1)}> closes <${cur.name}>`);
      cur = cur.parent!;
    } else {
      const m = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)$/.exec(tag);
      if (!m) throw new Error(`malformed tag <${tag.slice(0, 80)}>`);
      const el: El = { name: m[1], attrs: {}, children: [], text: "", parent: cur };
      for (const a of m[2].matchAll(/([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        if (a[1] in el.attrs) throw new Error(`duplicate attribute ${a[1]} in <${m[1]}>`);
        el.attrs[a[1]] = decode(a[2] ?? a[3], `attribute ${a[1]} of <${m[1]}>`);
      }
      if (cur === top && top.children.length) throw new Error("a second root element");
      cur.children.push(el);
      if (!m[3]) cur = el;
    }
    i = gt + 1;
  }
  if (cur !== top) throw new Error(`<${cur.name}> is never closed`);
  if (top.children.length !== 1) throw new Error("no root element");
  return top.children[0];
}

function all(el: El, pred: (e: El) => boolean, out: El[] = []): El[] {
  for (const c of el.children) { if (pred(c)) out.push(c); all(c, pred, out); }
  return out;
}
const child = (el: El, name: string) => el.children.find((c) => c.name === name);
const hasClass = (cls: string) => (e: El) => (e.attrs.class ?? "").split(" ").includes(cls);

// ---------------------------------------------------------------------------------------------
// The colour reference. Anchors: matplotlib's float RGB at entries 0, 17, …, 255.
const MPL: Record<"viridis" | "magma", number[][]> = {
  viridis: [[0, 0.267004, 0.004874, 0.329415], [17, 0.282656, 0.100196, 0.422160], [34, 0.277134, 0.185228, 0.489898], [51, 0.253935, 0.265254, 0.529983], [68, 0.221989, 0.339161, 0.548752], [85, 0.190631, 0.407061, 0.556089], [102, 0.163625, 0.471133, 0.558148], [119, 0.139147, 0.533812, 0.555298], [136, 0.120565, 0.596422, 0.543611], [153, 0.134692, 0.658636, 0.517649], [170, 0.208030, 0.718701, 0.472873], [187, 0.327796, 0.773980, 0.406640], [204, 0.477504, 0.821444, 0.318195], [221, 0.647257, 0.858400, 0.209861], [238, 0.824940, 0.884720, 0.106217], [255, 0.993248, 0.906157, 0.143936]],
  magma: [[0, 0.001462, 0.000466, 0.013866], [17, 0.043830, 0.033830, 0.141886], [34, 0.123833, 0.067295, 0.295879], [51, 0.232077, 0.059889, 0.437695], [68, 0.341482, 0.080564, 0.492631], [85, 0.445163, 0.122724, 0.506901], [102, 0.550287, 0.161158, 0.505719], [119, 0.658483, 0.196027, 0.490253], [136, 0.767398, 0.233705, 0.457755], [153, 0.868793, 0.287728, 0.409303], [170, 0.944006, 0.377643, 0.365136], [187, 0.981000, 0.498428, 0.369734], [204, 0.994738, 0.624350, 0.427397], [221, 0.997228, 0.747981, 0.516859], [238, 0.993170, 0.870024, 0.626189], [255, 0.987053, 0.991438, 0.749504]],
};
const hex = (r: number, g: number, b: number) => "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("");
const rgb = (c: string) => [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16));

/** The expected index, in float64: ⌊256·t⌋ with t = (v − lo)/(hi − lo), clipped; NaN → −1. */
function expectIndex(v: number, lo: number, hi: number): number {
  if (Number.isNaN(v)) return -1;
  if (v <= lo) return 0;
  if (v >= hi) return 255;
  return Math.min(255, Math.floor(((v - lo) / (hi - lo)) * 256));
}
function expectColor(map: ColormapName, v: number, lo: number, hi: number): string {
  const k = expectIndex(v, lo, hi);
  return k < 0 ? NAN_COLOR[map] : colormapColors(map)[k];
}
/** The default range: [min(0, smallest finite), largest finite]. */
function defaultRange(values: ArrayLike<number>): [number, number] {
  let lo = 0, hi = -Infinity;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) { lo = Math.min(lo, values[i]); hi = Math.max(hi, values[i]); }
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** The panels of a parsed heatmap: for each, its title and its cells (fill, title text) row-major. */
function panelsOf(svg: El) {
  return all(svg, hasClass("panel")).map((p) => ({
    name: all(p, hasClass("panel-title"))[0]?.text,
    cells: all(p, (e) => e.name === "rect" && e.parent !== null && hasClass("cells")(e.parent)).map((r) => ({
      x: +r.attrs.x, y: +r.attrs.y, fill: r.attrs.fill, title: child(r, "title")?.text ?? "",
    })),
    image: all(p, (e) => e.name === "image" && hasClass("cells")(e))[0],
    queryLabels: all(p, hasClass("query-labels")).flatMap((g) => g.children.map((t) => t.text)),
    keyLabels: all(p, hasClass("key-labels")).flatMap((g) => g.children.map((t) => t.text)),
  }));
}

/** Checks every cell: fill = the map's colour at the weight, title "query l … → key s …: w" (w to 6 digits). */
function checkCells(svgText: string, map: ColormapName, planes: ArrayLike<number>[], L: number, S: number, lo: number, hi: number, what: string) {
  const panels = panelsOf(parseXml(svgText));
  assert.is(panels.length, planes.length, `${what}: panels`);
  panels.forEach((p, i) => {
    assert.is(p.cells.length, L * S, `${what}: panel ${i} cells`);
    p.cells.forEach((c, j) => {
      const l = Math.floor(j / S), s = j % S, v = planes[i][j];
      assert.is(c.fill, expectColor(map, v, lo, hi), `${what}: panel ${i} cell [${l}, ${s}] = ${v} in [${lo}, ${hi}]`);
      const m = /^query (\d+)(?: “.*”)? → key (\d+)(?: “.*”)?: (\S+)$/s.exec(c.title);
      assert.ok(m, `${what}: cell title ${JSON.stringify(c.title)}`);
      assert.equal([+m![1], +m![2]], [l, s], `${what}: title indices`);
      const got = Number(m![3]);
      assert.ok(Number.isNaN(v) ? Number.isNaN(got) : Math.abs(got - v) <= 5e-6 * Math.abs(v), `${what}: title weight ${m![3]} vs ${v}`);
    });
  });
  return panels;
}

// ---------------------------------------------------------------------------------------------
test("colormaps: viridis and magma equal matplotlib's tables (every 17th entry), gray is (i, i, i); 256 entries, lightness rising", () => {
  for (const map of ["viridis", "magma"] as const) {
    const c = colormapColors(map);
    assert.is(c.length, 256);
    for (const [i, r, g, b] of MPL[map]) assert.is(c[i], hex(Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)), `${map}[${i}]`);
  }
  assert.equal(colormapColors("gray"), Array.from({ length: 256 }, (_, i) => hex(i, i, i)));
  for (const map of ["viridis", "magma", "gray"] as const) {
    // relative luminance (sRGB → linear) rises along the map: a perceptually ordered map, not a rainbow
    const Y = colormapColors(map).map((c) => { const [r, g, b] = rgb(c).map((v) => { const s = v / 255; return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; });
    for (let i = 1; i < 256; i++) assert.ok(Y[i] > Y[i - 1] - 1e-3, `${map}: luminance falls at ${i}: ${Y[i - 1]} → ${Y[i]}`);
    assert.ok(Y[255] - Y[0] > 0.6, `${map}: luminance span ${Y[255] - Y[0]}`);
    const nan = rgb(NAN_COLOR[map]);
    const dist = Math.min(...colormapColors(map).map((c) => Math.hypot(...rgb(c).map((v, k) => v - nan[k]))));
    assert.ok(dist > 100, `${map}: the NaN colour ${NAN_COLOR[map]} is ${dist} from the nearest entry`);
  }
});

test("cells: every fill is the colormap at its weight and every title names query, key and weight ([L, S], [H, L, S], [B, H, L, S]; odd sizes; three maps)", () => {
  const cases: [number[], ColormapName][] = [[[1, 1], "viridis"], [[5, 8], "magma"], [[3, 17, 4], "gray"], [[2, 3, 9, 13], "viridis"], [[1, 2, 63, 1], "magma"]];
  for (const [shape, map] of cases) {
    const rank = shape.length, [B, H, L, S] = [...Array(4 - rank).fill(1), ...shape];
    const data = randn(rng(shape.reduce((a, b) => a * b) + rank), B * H * L * S, 0, 1);
    // exact bin edges and the range's ends land on the right side of ⌊256·t⌋
    data[0] = 0;
    if (data.length > 2) data[1] = 0.5;
    const batch = B - 1, plane = L * S;
    const planes = Array.from({ length: H }, (_, h) => data.subarray((batch * H + h) * plane, (batch * H + h + 1) * plane));
    const [lo, hi] = defaultRange(Float64Array.from(planes.flatMap((p) => Array.from(p))));
    const svg = attentionHeatmap({ data, shape }, { colormap: map, batch: rank === 4 ? batch : undefined });
    const panels = checkCells(svg, map, planes, L, S, lo, hi, `[${shape}] ${map}`);
    if (rank > 2) assert.equal(panels.map((p) => p.name), planes.map((_, h) => `head ${h}`));
    else assert.is(panels[0].name, undefined, "a [L, S] map has no panel title");
  }
});

test("cells: bin edges: weights k/256 of the range take entry k, a hair below take k − 1 ([1, 257] over range [0, 1])", () => {
  const S = 256;
  const data = new Float32Array(2 * S);
  for (let k = 0; k < S; k++) { data[k] = k / 256; data[S + k] = Math.fround(k / 256 - 1e-6); }
  const svg = attentionHeatmap({ data, shape: [2, S] }, { range: [0, 1] });
  const cells = panelsOf(parseXml(svg))[0].cells;
  const colors = colormapColors("viridis");
  for (let k = 0; k < S; k++) {
    assert.is(cells[k].fill, colors[k], `k/256 at ${k}`);
    assert.is(cells[S + k].fill, colors[Math.max(0, k - 1)], `below k/256 at ${k}`);
  }
});

test("labels: <, &, quotes, ]]>, control characters and lone surrogates cannot break the SVG; long labels end in …", () => {
  const q = ["<script>", "a & b", `"quoted"`, "it's", "]]>", "\u0001bell", "\uD800lone", "🙂 emoji", "supercalifragilistic", "</svg>"];
  const k = ["&amp;", "<", ">", "'\"", "x"];
  const data = randn(rng(7), q.length * k.length, 0, 1);
  const svg = attentionHeatmap({ data, shape: [q.length, k.length] }, { queryLabels: q, keyLabels: k, title: `"Title" <b> & 'c'` });
  const doc = parseXml(svg);   // throws unless well-formed
  assert.is(doc.name, "svg");
  assert.is(child(doc, "title")?.text, `"Title" <b> & 'c'`);
  assert.ok(child(doc, "desc")!.text.length > 50, "a <desc> for screen readers");
  assert.is(doc.attrs.role, "img");
  const clean = (s: string) => s.replace(/[\u0001]/g, "\uFFFD").replace(/\uD800/g, "\uFFFD");
  const cut = (s: string) => (Array.from(s).length > 12 ? Array.from(s).slice(0, 11).join("") + "…" : s);
  const p = panelsOf(doc)[0];
  assert.equal(p.queryLabels, q.map((s) => cut(clean(s))));
  assert.equal(p.keyLabels, k.map((s) => cut(clean(s))));
  // the full label is in the hover titles of the cells
  assert.is(p.cells[8 * k.length].title.startsWith(`query 8 “supercalifragilistic” → key 0 “&amp;”: `), true, p.cells[8 * k.length].title);
  assert.is(p.cells[0].title.startsWith(`query 0 “<script>” → key 0 “&amp;”`), true);
  // a truncated label carries its full text as a <title>
  const long = all(doc, (e) => e.name === "text" && e.text === "supercalifr…")[0];
  assert.is(child(long, "title")?.text, "supercalifragilistic");
});

test("NaN: NaN cells take the map's NaN colour, and the legend gets a NaN entry with the count; none without NaN", () => {
  for (const map of ["viridis", "magma", "gray"] as const) {
    const data = randn(rng(11), 2 * 4 * 6, 0, 1);
    data[3] = NaN; data[30] = NaN; data[47] = NaN;
    const svg = attentionHeatmap({ data, shape: [2, 4, 6] }, { colormap: map });
    const doc = parseXml(svg);
    const planes = [data.subarray(0, 24), data.subarray(24)];
    checkCells(svg, map, planes, 4, 6, ...defaultRange(data), `NaN ${map}`);
    const nan = all(doc, hasClass("nan"));
    assert.is(nan.length, 1, "one NaN legend entry");
    assert.is(all(nan[0], (e) => e.name === "rect")[0].attrs.fill, NAN_COLOR[map]);
    assert.is(all(nan[0], (e) => e.name === "text")[0].text, "NaN (3)");
    assert.not.ok(colormapColors(map).includes(NAN_COLOR[map]), "the NaN colour is not in the map");
  }
  const clean = attentionHeatmap({ data: randn(rng(12), 24, 0, 1), shape: [4, 6] });
  assert.is(all(parseXml(clean), hasClass("nan")).length, 0, "no NaN entry without NaN");
  // legend: false draws no colour bar, no NaN entry
  const noLegend = parseXml(attentionHeatmap({ data: Float32Array.of(NaN, 1, 2, 3), shape: [2, 2] }, { legend: false }));
  assert.is(all(noLegend, hasClass("legend")).length, 0);
});

test("heads: a grid of one panel per head, shared scale; chosen heads of a batch element; key labels under the lowest panel of each column", () => {
  const [B, H, L, S] = [2, 8, 4, 5];
  const data = randn(rng(13), B * H * L * S, 0, 1);
  const plane = L * S;
  const head = (b: number, h: number) => data.subarray((b * H + h) * plane, (b * H + h + 1) * plane);
  const keys = ["a", "b", "c", "d", "e"];
  const svgAll = attentionHeatmap({ data, shape: [B, H, L, S] }, { keyLabels: keys });
  const allPanels = checkCells(svgAll, "viridis", Array.from({ length: H }, (_, h) => head(0, h)), L, S,
    ...defaultRange(data.subarray(0, H * plane)), "all heads of batch 0");
  // 8 panels: 4 columns × 2 rows; query labels on the first column (2), key labels under the second row (4)
  assert.is(allPanels.filter((p) => p.queryLabels.length === L).length, 2);
  assert.is(allPanels.filter((p) => p.keyLabels.length === S).length, 4);
  assert.equal(allPanels[4].keyLabels, keys);
  const chosen = [5, 1, 7];
  const svg = attentionHeatmap({ data, shape: [B, H, L, S] }, { batch: 1, heads: chosen });
  const lohi = defaultRange(Float64Array.from(chosen.flatMap((h) => Array.from(head(1, h)))));   // the scale covers the panels drawn
  const panels = checkCells(svg, "viridis", chosen.map((h) => head(1, h)), L, S, ...lohi, "heads [5, 1, 7] of batch 1");
  assert.equal(panels.map((p) => p.name), ["head 5", "head 1", "head 7"]);
  // 7 heads: 4 + 3; the fourth column's lowest panel is in the first row and gets the key labels
  const seven = panelsOf(parseXml(attentionHeatmap({ data, shape: [B, H, L, S] }, { heads: [0, 1, 2, 3, 4, 5, 6] })));
  assert.equal(seven.map((p) => p.keyLabels.length > 0), [false, false, false, true, true, true, true]);
});

test("heads: \"mean\" is one panel of the float64 mean over every head of the batch element", () => {
  const [B, H, L, S] = [2, 3, 7, 9];
  const data = randn(rng(14), B * H * L * S, 0, 1);
  const plane = L * S, mean = new Float64Array(plane);
  for (let j = 0; j < plane; j++) {
    let s = 0;
    for (let h = 0; h < H; h++) s += data[(1 * H + h) * plane + j];
    mean[j] = s / H;
  }
  const svg = attentionHeatmap({ data, shape: [B, H, L, S] }, { batch: 1, heads: "mean", colormap: "magma" });
  const panels = checkCells(svg, "magma", [mean], L, S, ...defaultRange(mean), "mean");
  assert.is(panels[0].name, "mean of 3 heads");
  // a float32 mean would differ from the float64 one in some titles: check one is exactly the float64 value's 6 digits
  const m0 = /: (\S+)$/.exec(panels[0].cells[0].title)![1];
  assert.is(m0, String(+mean[0].toPrecision(6)));
  // heads 1e8, 1, −1e8: the float64 mean is 1/3; summed in float32 (1e8 + 1 = 1e8) it would be 0
  const c = attentionHeatmap({ data: Float32Array.of(1e8, 2, 1, 5, -1e8, -1), shape: [3, 1, 2] }, { heads: "mean", range: [0, 1] });
  const cells = panelsOf(parseXml(c))[0].cells;
  assert.equal(cells.map((x) => /: (\S+)$/.exec(x.title)![1]), ["0.333333", "2"]);
  assert.equal(cells.map((x) => x.fill), [colormapColors("viridis")[85], colormapColors("viridis")[255]]);
});

test("range: weights outside [min, max] take the end colours; ticks stay inside; the description counts them", () => {
  const data = Float32Array.from({ length: 40 }, (_, i) => i / 39);
  const svg = attentionHeatmap({ data, shape: [5, 8] }, { range: [0.2, 0.6] });
  checkCells(svg, "viridis", [data], 5, 8, 0.2, 0.6, "range [0.2, 0.6]");
  const doc = parseXml(svg);
  const colors = colormapColors("viridis");
  const cells = panelsOf(doc)[0].cells;
  assert.is(cells[0].fill, colors[0]);
  assert.is(cells[39].fill, colors[255]);
  const below = Array.from(data).filter((v) => v < 0.2).length, above = Array.from(data).filter((v) => v > 0.6).length;
  assert.ok(child(doc, "desc")!.text.includes(`(${below} weights below and ${above} above it drawn in its end colours)`), child(doc, "desc")!.text);
  const ticks = all(doc, hasClass("tick")).map((t) => Number(all(t, (e) => e.name === "text")[0].text));
  assert.ok(ticks.length >= 3 && ticks.every((t) => t >= 0.2 - 1e-12 && t <= 0.6 + 1e-12), `ticks ${ticks}`);
  assert.equal(ticks, [0.2, 0.3, 0.4, 0.5, 0.6]);
  // ±Infinity clip to the ends too, and do not move the default range
  const inf = Float32Array.of(-Infinity, 0.25, 0.5, Infinity);
  const c2 = panelsOf(parseXml(attentionHeatmap({ data: inf, shape: [2, 2] })))[0].cells;
  assert.equal(c2.map((c) => c.fill), [colors[0], colors[128], colors[255], colors[255]]);
});

/** CRC-32 bit by bit (reflected polynomial 0xEDB88320), written apart from src/png.ts's table. */
function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** Decodes a PNG data URL: checks signature, chunk CRCs, IDAT (node:zlib's inflate checks Adler-32), filter 0; returns "#rrggbb" per pixel. */
function decodePng(href: string): { width: number; height: number; pixels: string[]; colorType: number; bytes: number } {
  const bytes = new Uint8Array(Buffer.from(href.replace(/^data:image\/png;base64,/, ""), "base64"));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
  let p = 8, width = 0, height = 0, colorType = 0, palette: string[] = [];
  const idat: number[] = [];
  while (p < bytes.length) {
    const len = dv.getUint32(p), type = String.fromCharCode(...bytes.subarray(p + 4, p + 8)), data = bytes.subarray(p + 8, p + 8 + len);
    assert.is(dv.getUint32(p + 8 + len), crc32(bytes.subarray(p + 4, p + 8 + len)), `${type} CRC`);
    if (type === "IHDR") { width = dv.getUint32(p + 8); height = dv.getUint32(p + 12); colorType = data[9]; assert.is(data[8], 8, "bit depth"); }
    if (type === "PLTE") palette = Array.from({ length: len / 3 }, (_, i) => hex(data[3 * i], data[3 * i + 1], data[3 * i + 2]));
    if (type === "IDAT") for (const b of data) idat.push(b);
    p += 12 + len;
  }
  const raw = new Uint8Array(inflateSync(Uint8Array.from(idat)));
  const bpp = colorType === 3 ? 1 : 3;
  assert.is(raw.length, height * (1 + width * bpp), "scanline bytes");
  const pixels: string[] = [];
  for (let y = 0; y < height; y++) {
    const o = y * (1 + width * bpp);
    assert.is(raw[o], 0, "filter type 0");
    for (let x = 0; x < width; x++) {
      const q = o + 1 + x * bpp;
      pixels.push(colorType === 3 ? palette[raw[q]] : hex(raw[q], raw[q + 1], raw[q + 2]));
    }
  }
  return { width, height, pixels, colorType, bytes: bytes.length };
}

test("large maps: L or S > 256 draw an image, one pixel per ⌈L/256⌉×⌈S/256⌉ block = the colour of its largest weight, NaN if any is NaN", () => {
  for (const [L, S, nanAt] of [[300, 40, -1], [257, 513, 1000], [100, 600, 5]] as const) {
    const data = randn(rng(L + S), L * S, 0, 1);
    if (nanAt >= 0) data[nanAt] = NaN;
    const svg = attentionHeatmap({ data, shape: [L, S] }, { colormap: "magma" });
    const panel = panelsOf(parseXml(svg))[0];
    assert.is(panel.cells.length, 0, "no cell rects");
    const img = decodePng(panel.image.attrs.href);
    const fr = Math.ceil(L / 256), fc = Math.ceil(S / 256);
    assert.equal([img.width, img.height], [Math.ceil(S / fc), Math.ceil(L / fr)], `[${L}, ${S}] pixels`);
    assert.is(img.colorType, nanAt >= 0 ? 2 : 3, "palette PNG unless a NaN pixel needs a 257th colour");
    const [lo, hi] = defaultRange(data);
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        let m = -Infinity;
        for (let l = y * fr; l < Math.min(L, (y + 1) * fr); l++) for (let s = x * fc; s < Math.min(S, (x + 1) * fc); s++) m = Number.isNaN(data[l * S + s]) || Number.isNaN(m) ? NaN : Math.max(m, data[l * S + s]);
        assert.is(img.pixels[y * img.width + x], expectColor("magma", m, lo, hi), `[${L}, ${S}] pixel (${x}, ${y})`);
      }
    }
  }
  // many panels: 8 heads of 128 × 128 (131072 cells > 65536) are images, unpooled (one pixel a weight)
  const data = randn(rng(15), 8 * 128 * 128, 0, 1);
  const panels = panelsOf(parseXml(attentionHeatmap({ data, shape: [8, 128, 128] })));
  assert.is(panels.length, 8);
  const img = decodePng(panels[3].image.attrs.href);
  const [lo, hi] = defaultRange(data);
  assert.equal(img.pixels, Array.from(data.subarray(3 * 16384, 4 * 16384), (v) => expectColor("viridis", v, lo, hi)));
});

test("large maps: a 4096 × 4096 map is a few hundred KB (< 150 KB without NaN, < 400 KB with), well-formed", () => {
  const N = 4096, data = new Float32Array(N * N);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 0) / 2 ** 32;
  const a = attentionHeatmap({ data, shape: [N, N] });
  assert.ok(a.length < 150_000, `${a.length} characters`);
  const img = decodePng(panelsOf(parseXml(a))[0].image.attrs.href);
  assert.equal([img.width, img.height], [256, 256]);
  data[N * 100 + 7] = NaN;
  const b = attentionHeatmap({ data, shape: [1, 1, N, N] });
  assert.ok(b.length < 400_000, `${b.length} characters`);
  const nanImg = decodePng(panelsOf(parseXml(b))[0].image.attrs.href);
  assert.is(nanImg.pixels[(100 >> 4) * 256 + 0], NAN_COLOR.viridis, "the NaN's block is the NaN colour");
  assert.is(nanImg.pixels.filter((c) => c === NAN_COLOR.viridis).length, 1);
});

test("needWeights from MultiHeadAttention draws as is: [B, H, L, S] per head and [B, L, S] averaged; same input, same text; inputs unchanged", () => {
  // (the kernels are those helpers.ts loaded for this run's build: calling init() here would switch builds)
  const mha = new MultiHeadAttention({ embedDim: 16, numHeads: 4, seed: 3 });
  try {
    const x = { data: randn(rng(16), 2 * 5 * 16), shape: [2, 5, 16] };
    const perHead = mha.forward(x, undefined, undefined, { needWeights: true, averageWeights: false, causal: true }).weights!;
    const avg = mha.forward(x, undefined, undefined, { needWeights: true, causal: true }).weights!;
    const copy = perHead.data.slice();
    const a = attentionHeatmap(perHead, { batch: 1 });
    assert.is(a, attentionHeatmap(perHead, { batch: 1 }), "deterministic");
    assert.equal(perHead.data, copy, "weights unchanged");
    const panels = panelsOf(parseXml(a));
    assert.is(panels.length, 4);
    // causal: the upper triangle is 0 → entry 0 of the map
    for (const p of panels) for (const c of p.cells) if (c.x > c.y) assert.is(c.fill, colormapColors("viridis")[0]);
    // [B, L, S] averaged reads as [H, L, S]: one panel per batch element; use it with batch: 0 of [B, 1, L, S]
    const m = attentionHeatmap({ data: avg.data, shape: [2, 1, 5, 5] }, { batch: 1, heads: "mean" });
    const mean = new Float64Array(25);
    for (let h = 0; h < 4; h++) for (let j = 0; j < 25; j++) mean[j] += perHead.data[(4 + h) * 25 + j] / 4;
    const cells = panelsOf(parseXml(m))[0].cells;
    cells.forEach((c, j) => assert.ok(Math.abs(Number(/: (\S+)$/.exec(c.title)![1]) - mean[j]) < 1e-5, `averaged weight ${j}`));
  } finally { mha.dispose(); }
});

test("errors: weights and every option are checked, naming the argument, the expected and the actual value", () => {
  const w = { data: new Float32Array(2 * 3 * 4), shape: [2, 3, 4] };
  const t = (fn: () => unknown, cls: typeof TypeError, re: RegExp) => throwsWith(fn, cls, re, re.source);
  t(() => attentionHeatmap(null as never), TypeError, /^attentionHeatmap: weights must be a tensor \{ data: Float32Array, shape: \[L, S\], \[H, L, S\] or \[B, H, L, S\] \}; got null$/);
  t(() => attentionHeatmap({ data: [1, 2], shape: [1, 2] } as never), TypeError, /weights\.data must be a Float32Array; got an Array\(2\)/);
  t(() => attentionHeatmap({ data: new Float32Array(3), shape: [3] }), RangeError, /weights\.shape must have rank ≥ 2 .*; got \[3\] \(rank 1\)/);
  t(() => attentionHeatmap({ data: new Float32Array(32), shape: [1, 2, 2, 2, 4] }), RangeError, /weights\.shape must have rank 2, 3 or 4 .*; got \[1, 2, 2, 2, 4\] \(rank 5\)/);
  t(() => attentionHeatmap({ data: new Float32Array(5), shape: [2, 3] }), RangeError, /weights\.data must have length 2·3 = 6 for shape \[2, 3\]; got 5/);
  t(() => attentionHeatmap({ data: new Float32Array(0), shape: [0, 3] }), RangeError, /weights\.shape must have no zero dimension \(nothing to draw\); got \[0, 3\]/);
  t(() => attentionHeatmap(w, [] as never), TypeError, /options must be an object; got an Array\(0\)/);
  t(() => attentionHeatmap(w, { colourmap: "magma" } as never), TypeError, /unknown option "colourmap"; known options are batch, heads/);
  t(() => attentionHeatmap(w, { batch: "0" } as never), TypeError, /options\.batch must be a number; got "0"/);
  t(() => attentionHeatmap(w, { batch: 1 }), RangeError, /options\.batch must be < B = 1 \(weights\.shape \[2, 3, 4\]\); got 1/);
  t(() => attentionHeatmap(w, { batch: -1 }), RangeError, /options\.batch must be an integer ≥ 0; got -1/);
  t(() => attentionHeatmap(w, { heads: "max" } as never), TypeError, /options\.heads must be "all", "mean" or an array of head indices; got "max"/);
  t(() => attentionHeatmap(w, { heads: [] }), RangeError, /options\.heads must name at least one head; got \[\]/);
  t(() => attentionHeatmap(w, { heads: [0, "1"] } as never), TypeError, /options\.heads\[1\] must be a number; got "1"/);
  t(() => attentionHeatmap(w, { heads: [2] }), RangeError, /options\.heads\[0\] must be an integer in \[0, H − 1\] = \[0, 1\]; got 2/);
  t(() => attentionHeatmap(w, { heads: [0.5] }), RangeError, /options\.heads\[0\] must be an integer .*; got 0\.5/);
  t(() => attentionHeatmap(w, { queryLabels: "abc" } as never), TypeError, /options\.queryLabels must be an array of 3 strings \(one per query\); got "abc"/);
  t(() => attentionHeatmap(w, { queryLabels: ["a", "b"] }), RangeError, /options\.queryLabels\.length must equal L = 3; got 2/);
  t(() => attentionHeatmap(w, { keyLabels: ["a", "b", "c", 4] } as never), TypeError, /options\.keyLabels\[3\] must be a string; got 4/);
  t(() => attentionHeatmap(w, { keyLabels: ["a"] }), RangeError, /options\.keyLabels\.length must equal S = 4; got 1/);
  t(() => attentionHeatmap(w, { title: 5 } as never), TypeError, /options\.title must be a string; got 5/);
  t(() => attentionHeatmap(w, { colormap: "jet" } as never), TypeError, /options\.colormap must be one of "viridis", "magma", "gray"; got "jet"/);
  t(() => attentionHeatmap(w, { range: 1 } as never), TypeError, /options\.range must be an array \[min, max\]; got 1/);
  t(() => attentionHeatmap(w, { range: [0] } as never), RangeError, /options\.range\.length must be 2 \(\[min, max\]\); got 1/);
  t(() => attentionHeatmap(w, { range: [0, "1"] } as never), TypeError, /options\.range\[1\] must be a number; got "1"/);
  t(() => attentionHeatmap(w, { range: [NaN, 1] }), RangeError, /options\.range\[0\] must be a finite number; got NaN/);
  t(() => attentionHeatmap(w, { range: [1, 1] }), RangeError, /options\.range must be \[min, max\] with min < max .*; got \[1, 1\]/);
  t(() => attentionHeatmap(w, { range: [-1e308, 1e308] }), RangeError, /max − min finite/);
  t(() => attentionHeatmap(w, { cellSize: "4" } as never), TypeError, /options\.cellSize must be a number; got "4"/);
  t(() => attentionHeatmap(w, { cellSize: 0 }), RangeError, /options\.cellSize must be a finite number > 0 \(px\); got 0/);
  t(() => attentionHeatmap(w, { cellSize: Infinity }), RangeError, /options\.cellSize must be a finite number > 0 \(px\); got Infinity/);
  t(() => attentionHeatmap(w, { legend: 1 } as never), TypeError, /options\.legend must be a boolean; got 1/);
  // after the errors it still works
  assert.ok(parseXml(attentionHeatmap(w, { cellSize: 3.5, legend: true, title: "" })).name === "svg");
});

test("layout: default cell sizes (24 px cap, ~480 px for one panel, ~240 px for several); labels every 1st/2nd/5th/10th… when cells are small; title \"\" draws none", () => {
  const size = (svg: string) => { const r = all(parseXml(svg), (e) => e.name === "rect" && e.parent !== null && hasClass("cells")(e.parent))[0]; return [+r.attrs.width, +r.attrs.height]; };
  assert.equal(size(attentionHeatmap({ data: new Float32Array(25), shape: [5, 5] })), [24, 24]);
  assert.equal(size(attentionHeatmap({ data: new Float32Array(100 * 60), shape: [100, 60] })), [4.8, 4.8]);           // 480 / 100
  assert.equal(size(attentionHeatmap({ data: new Float32Array(2 * 40 * 40), shape: [2, 40, 40] })), [6, 6]);        // 240 / 40
  assert.equal(size(attentionHeatmap({ data: new Float32Array(25), shape: [5, 5] }, { cellSize: 7.5 })), [7.5, 7.5]);
  // 4.8 px cells: every 5th label (5 · 4.8 ≥ 11 px, 2 · 4.8 < 11); 6 px: every 2nd; 24 px: all
  const labels = (svg: string) => panelsOf(parseXml(svg))[0];
  const p100 = labels(attentionHeatmap({ data: new Float32Array(100 * 60), shape: [100, 60] }));
  assert.equal(p100.queryLabels, Array.from({ length: 20 }, (_, i) => String(5 * i)));
  assert.equal(p100.keyLabels, Array.from({ length: 12 }, (_, i) => String(5 * i)));
  assert.equal(labels(attentionHeatmap({ data: new Float32Array(2 * 40 * 40), shape: [2, 40, 40] })).queryLabels, Array.from({ length: 20 }, (_, i) => String(2 * i)));
  assert.is(labels(attentionHeatmap({ data: new Float32Array(25), shape: [5, 5] })).queryLabels.length, 5);
  // title: default "Attention weights" drawn and in <title>; "" draws no heading but keeps the accessible name
  const heading = (svg: string) => all(parseXml(svg), (e) => e.name === "text" && e.attrs["font-weight"] === "bold").map((e) => e.text);
  assert.equal(heading(attentionHeatmap({ data: new Float32Array(4), shape: [2, 2] })), ["Attention weights"]);
  const untitled = attentionHeatmap({ data: new Float32Array(4), shape: [2, 2] }, { title: "" });
  assert.equal(heading(untitled), []);
  assert.is(child(parseXml(untitled), "title")?.text, "Attention weights");
  assert.equal(NAN_COLOR, { viridis: "#ff0000", magma: "#00ffff", gray: "#ff0000" }, "red, and cyan with magma, as the README says");
});

test("attentionHeatmap needs no init(): a fresh process draws without loading the kernels", () => {
  const code = `import("./src/index.ts").then((m) => { const s = m.attentionHeatmap({ data: Float32Array.of(0.25, 0.75), shape: [1, 2] }); console.log(m.buildInfo() === null && s.startsWith("<svg") ? "ok" : "bad"); })`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { cwd: new URL("../..", import.meta.url), encoding: "utf8" });
  assert.is(r.stdout.trim(), "ok", r.stderr);
});

test("the parser used here rejects what it must (so the well-formedness checks can fail)", () => {
  for (const bad of ["<svg><a></svg>", "<svg>a < b</svg>", "<svg>a & b</svg>", `<svg x="a"b"></svg>`, "<svg>&nbsp;</svg>", "<svg x='1' x='2'/>", "<svg/><svg/>", "<svg>\u0001</svg>", "<svg>\uD800</svg>", "<svg>"]) {
    assert.throws(() => parseXml(bad), undefined, JSON.stringify(bad));
  }
  assert.is(parseXml(`<svg a="&lt;&amp;&#39;&#x41;">t&gt;</svg>`).attrs.a, "<&'A");
});

test.run();
