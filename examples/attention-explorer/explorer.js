// The attention explorer: a sentence → tokens → embeddings → MultiHeadAttention (needWeights) →
// attentionHeatmap per head and averaged. No model download: each token's embedding is a seeded
// random vector (seeded by the token's text) plus the Transformer's sinusoidal position encoding,
// and the attention weights are a seeded random initialisation — or a safetensors file the user drops in.
import { MultiHeadAttention, attentionHeatmap, buildInfo, init, readSafetensors } from "wasm-attention";
import { BUILDS, features, runBench } from "./bench.js";

const $ = (id) => document.getElementById(id);
const MAX_TOKENS = 64, DEFAULT_E = 64;

await init();

/** Words (letters, digits, _) and single punctuation marks. */
export function tokenize(text) {
  return text.match(/[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu)?.slice(0, MAX_TOKENS) ?? [];
}

/** FNV-1a of the token's text: the seed of its embedding, so one word always gets one vector. */
function fnv1a(s) {
  let h = 0x811c9dc5;
  for (const ch of s) { h ^= ch.codePointAt(0); h = Math.imul(h, 0x01000193) >>> 0; }
  return h;
}

/** x [L, E]: a seeded vector per token (uniform in ±3) + sin/cos position encoding (Vaswani et al.). */
function embed(tokens, E) {
  const x = new Float32Array(tokens.length * E);
  tokens.forEach((tok, pos) => {
    let a = fnv1a(tok.toLowerCase());
    for (let i = 0; i < E; i++) {
      a = (a + 0x6d2b79f5) >>> 0;   // mulberry32
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      const r = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
      const angle = pos / 10000 ** ((2 * Math.floor(i / 2)) / E);
      x[pos * E + i] = 3 * r + (i % 2 ? Math.cos(angle) : Math.sin(angle));   // ×3: sharper attention than ±1
    }
  });
  return x;
}

// The model: seeded (E = 64) until a safetensors file is dropped in.
let model = null;     // { mha, source }
function seededModel(numHeads) {
  model?.mha.dispose();
  model = { mha: new MultiHeadAttention({ embedDim: DEFAULT_E, numHeads, seed: 7 }), source: `seeded weights, E = ${DEFAULT_E}` };
}

/** Finds nn.MultiheadAttention weights in a safetensors file (any prefix) and loads them. */
async function loadFile(file, numHeads) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const { tensors } = readSafetensors(bytes);
  const names = Object.keys(tensors);
  const key = names.find((n) => n.endsWith("in_proj_weight")) ?? names.find((n) => n.endsWith("q_proj_weight"));
  if (!key) throw new Error(`no in_proj_weight or q_proj_weight in ${file.name} (names: ${names.slice(0, 8).join(", ")}${names.length > 8 ? ", …" : ""})`);
  const prefix = key.slice(0, key.lastIndexOf(key.endsWith("in_proj_weight") ? "in_proj_weight" : "q_proj_weight"));
  const E = tensors[key].shape[1];
  const kdim = tensors[prefix + "k_proj_weight"]?.shape[1] ?? E, vdim = tensors[prefix + "v_proj_weight"]?.shape[1] ?? E;
  const mha = new MultiHeadAttention({ embedDim: E, numHeads, kdim, vdim, bias: (prefix + "in_proj_bias") in tensors });
  try { mha.loadStateDict(bytes, { prefix }); } catch (e) { mha.dispose(); throw e; }
  model?.mha.dispose();
  model = { mha, source: `${file.name}${prefix ? ` (${prefix}*)` : ""}, E = ${E}` };
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

/** Tokenize, embed, attend, draw. */
export function update() {
  const tokens = tokenize($("text").value);
  if (!tokens.length) { $("per-head").innerHTML = $("mean").innerHTML = ""; status("Type a sentence."); return; }
  const causal = $("causal").checked, padded = $("padding").checked;
  const labels = [...tokens];
  if (padded) do labels.push("[PAD]"); while (labels.length % 8 !== 0 || labels.length - tokens.length < 2);
  const { mha } = model, E = mha.embedDim, L = labels.length;
  const x = { data: embed(labels, E), shape: [1, L, E] };
  const keyPaddingMask = padded ? { data: Uint8Array.from(labels, (_, i) => (i >= tokens.length ? 1 : 0)), shape: [1, L] } : undefined;
  const t0 = performance.now();
  const { weights } = mha.forward(x, undefined, undefined, { needWeights: true, averageWeights: false, causal, keyPaddingMask });
  const ms = performance.now() - t0;
  let max = 0;
  for (const v of weights.data) if (v > max) max = v;
  const common = { queryLabels: labels, keyLabels: labels, colormap: $("colormap").value, range: [0, max || 1] };
  $("per-head").innerHTML = attentionHeatmap(weights, { ...common, title: `Each head (${mha.numHeads})` });
  $("mean").innerHTML = attentionHeatmap(weights, { ...common, heads: "mean", title: "Mean over heads" });
  const info = buildInfo();
  status(`${tokens.length} tokens${padded ? ` + ${L - tokens.length} padding` : ""}; ${model.source}, ${mha.numHeads} heads; ` +
    `forward with weights in ${ms.toFixed(2)} ms (build "${info.build}"); rows: queries, columns: keys; hover a cell for its weight.`);
  Object.assign(document.body.dataset, { tokens: L, causal, heads: mha.numHeads });
}

function safeUpdate() {
  try { update(); } catch (e) { status(`${e.name}: ${e.message}`, true); }
}

let timer;
$("text").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(safeUpdate, 120); });
for (const id of ["causal", "padding", "colormap"]) $(id).addEventListener("change", safeUpdate);
$("heads").addEventListener("change", () => {
  const file = $("weights").files?.[0];
  if (file) loadFile(file, Number($("heads").value)).then(safeUpdate, (e) => status(`${e.name}: ${e.message}`, true));
  else { seededModel(Number($("heads").value)); safeUpdate(); }
});
$("weights").addEventListener("change", async () => {
  const file = $("weights").files?.[0];
  if (!file) { seededModel(Number($("heads").value)); safeUpdate(); return; }
  try { await loadFile(file, Number($("heads").value)); safeUpdate(); } catch (e) { status(`${e.name}: ${e.message}`, true); }
});

// ---- the benchmark panel
const f = features();
$("support").innerHTML = [
  ["WebAssembly SIMD", f.simd], ["relaxed SIMD", f.relaxedSimd],
  ["threads (SharedArrayBuffer, cross-origin isolated)", f.threads], ["logical cores", f.cores ?? "unknown"],
].map(([k, v]) => `<li>${k}: <b>${v === true ? "yes" : v === false ? "no" : v}</b></li>`).join("") +
  `<li>builds compared: ${BUILDS.map((b) => `${b.label}${b.requires.every((r) => f[r]) ? "" : " (n/a here)"}`).join(", ")}, and plain JavaScript</li>`;

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function drawResults(results) {
  const cases = [...new Set(results.map((r) => r.case))];
  const impls = [...new Map(results.map((r) => [r.impl, r.label])).entries()];
  $("bench-table").innerHTML = `<tr><th>case</th>${impls.map(([, l]) => `<th>${esc(l)}</th>`).join("")}</tr>` +
    cases.map((c) => `<tr><td>${esc(c)}</td>${impls.map(([id]) => {
      const r = results.find((x) => x.case === c && x.impl === id);
      if (!r) return "<td>…</td>";
      if (r.status !== "ok") return `<td class="na">${esc(r.status)}</td>`;
      return `<td data-gflops="${r.gflops}">${r.ms < 10 ? r.ms.toFixed(2) : r.ms.toFixed(0)} ms<br><small>${r.gflops.toFixed(1)} GFLOP/s, ${r.samples} runs</small></td>`;
    }).join("")}</tr>`).join("");
  // bar chart: GFLOP/s, one group of bars per case
  const ok = results.filter((r) => r.status === "ok");
  const top = Math.max(1, ...ok.map((r) => r.gflops));
  const colors = ["#3b528b", "#21918c", "#5ec962", "#fde725", "#440154"];
  const barH = 14, W = 520, labelW = 170;
  let y = 4;
  const rows = [];
  for (const c of cases) {
    rows.push(`<text x="0" y="${y + 11}" font-weight="bold">${esc(c)}</text>`);
    y += 16;
    for (const [i, [id, label]] of impls.entries()) {
      const r = ok.find((x) => x.case === c && x.impl === id);
      if (!r) continue;
      const w = Math.max(1, (r.gflops / top) * (W - labelW - 70));
      rows.push(`<text x="${labelW - 6}" y="${y + 11}" text-anchor="end">${esc(label)}</text>`,
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colors[i % colors.length]}"><title>${esc(`${label}: ${r.gflops.toFixed(2)} GFLOP/s`)}</title></rect>`,
        `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 11}">${r.gflops.toFixed(1)}</text>`);
      y += barH + 3;
    }
    y += 8;
  }
  $("bench-chart").innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-size="11" font-family="system-ui, sans-serif" role="img"><title>GFLOP/s by case and implementation</title>${rows.join("")}</svg>`;
}

$("run-bench").addEventListener("click", async () => {
  $("run-bench").disabled = true;
  delete $("bench").dataset.done;
  const results = [];
  $("bench-status").textContent = "running… (plain JavaScript at L = 512 takes a few seconds a run)";
  try {
    await runBench((r) => { results.push(r); drawResults(results); });
    $("bench-status").textContent = "done: medians of interleaved runs, after a check against plain JavaScript (max difference ≤ 1e-4 of the output's scale).";
  } catch (e) {
    $("bench-status").textContent = `failed: ${e.name}: ${e.message}`;
  } finally {
    await init();   // back to the default build for the heatmaps
    $("run-bench").disabled = false;
    $("bench").dataset.done = "1";
  }
});

seededModel(Number($("heads").value));
safeUpdate();
document.body.dataset.ready = "1";
