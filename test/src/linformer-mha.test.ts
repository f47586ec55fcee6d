// test/src/linformer-mha.test.ts ↔ src/mha-linformer.ts and its hooks in src/mha.ts, src/mha-plan.ts,
// src/mha-config.ts, src/mha-weights.ts (MultiHeadAttention's projectedLength / maxLength / shareKV and
// the keyProjection / valueProjection weights, state_dict keys proj_k / proj_v), and the `blockSparse`
// forward option of src/mha.ts / src/mha-plan.ts.
// Linformer against the explicit formula in float64: the K/V projections, then K' = E[:, :S]·K and
// V' = F[:, :S]·V per batch item, then every head's attention over the k projected keys and the output
// projection. blockSparse against refMha with the layout as an element mask.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MultiHeadAttention, type MultiHeadAttentionOptions, init, sparseLayout, terminate, writeSafetensors } from "../../src/index.js";
import { tuning } from "../../src/parallel.js";
import { BM, KC } from "../constants.js";
import { BUILD, assertRowsClose, randn, rng, throwsWith } from "../helpers.js";
import { type RefMhaWeights, refAttention, refLinear } from "../reference.js";
import { stillWorks } from "../support.js";
import { type MhaCfg, bitsEqual, fullCfg, model, randomWeights, refForward, tensor } from "./reliability-support.js";

const RTOL = 1e-5;

interface Lin { n: number; k: number; shareKV: boolean; E: Float32Array; F: Float32Array }

/** A Linformer layer with known random weights (projections uniform ±1/√n). */
function linModel(c: Partial<MhaCfg> & { E: number; H: number }, n: number, k: number, shareKV: boolean, seed: number) {
  const cfg = fullCfg(c);
  const rand = rng(seed);
  const { weights, ref } = randomWeights(rand, cfg);
  const E = randn(rand, k * n, -1 / Math.sqrt(n), 1 / Math.sqrt(n));
  const F = shareKV ? E : randn(rand, k * n, -1 / Math.sqrt(n), 1 / Math.sqrt(n));
  const mha = new MultiHeadAttention({
    embedDim: cfg.E, numHeads: cfg.H, numKVHeads: cfg.Hkv, kdim: cfg.kdim, vdim: cfg.vdim, bias: cfg.bias, seed,
    projectedLength: k, maxLength: n, ...(shareKV ? { shareKV } : {}),
  });
  mha.loadWeights({ ...weights, keyProjection: E, ...(shareKV ? {} : { valueProjection: F }) });
  return { mha, cfg, ref, weights, lin: { n, k, shareKV, E, F } as Lin };
}

/** P[:, :S] (P [k, n]) · X [B, S, W] in float64 → [B, k, W]. */
function projectSeq(P: ArrayLike<number>, k: number, n: number, X: ArrayLike<number>, B: number, S: number, W: number): Float64Array {
  const y = new Float64Array(B * k * W);
  for (let b = 0; b < B; b++) for (let r = 0; r < k; r++) for (let d = 0; d < W; d++) {
    let s = 0;
    for (let j = 0; j < S; j++) s += P[r * n + j] * X[(b * S + j) * W + d];
    y[(b * k + r) * W + d] = s;
  }
  return y;
}

/** The Linformer layer in float64: output [B, L, E], per-head weights [B, H, L, k], mag. */
function refLin(cfg: MhaCfg, w: RefMhaWeights, lin: Lin, xq: ArrayLike<number>, xk: ArrayLike<number>, xv: ArrayLike<number>, B: number, L: number, S: number, softcap?: number) {
  const { E, H, Hkv, kdim, vdim } = cfg;
  const Dh = E / H, Ekv = Hkv * Dh, k = lin.k;
  const abs = (x: ArrayLike<number> | undefined) => (x ? Float64Array.from(x, Math.abs) : undefined);
  const q = refLinear(xq, B * L, E, w.Wq, E, w.bq);
  const K = projectSeq(lin.E, k, lin.n, refLinear(xk, B * S, kdim, w.Wk, Ekv, w.bk), B, S, Ekv);
  const V = projectSeq(lin.F, k, lin.n, refLinear(xv, B * S, vdim, w.Wv, Ekv, w.bv), B, S, Ekv);
  const Vm = projectSeq(abs(lin.F)!, k, lin.n, refLinear(abs(xv)!, B * S, vdim, abs(w.Wv)!, Ekv, abs(w.bv)), B, S, Ekv);
  const qh = new Float64Array(B * H * L * Dh), kh = new Float64Array(B * H * k * Dh), vh = new Float64Array(B * H * k * Dh), vmh = new Float64Array(B * H * k * Dh);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / Hkv));
    for (let i = 0; i < L; i++) for (let d = 0; d < Dh; d++) qh[((b * H + h) * L + i) * Dh + d] = q[(b * L + i) * E + h * Dh + d];
    for (let j = 0; j < k; j++) for (let d = 0; d < Dh; d++) {
      const at = ((b * H + h) * k + j) * Dh + d, from = (b * k + j) * Ekv + g * Dh + d;
      kh[at] = K[from]; vh[at] = V[from]; vmh[at] = Vm[from];
    }
  }
  const a = refAttention(qh, kh, vh, [B, H], L, k, Dh, Dh, { vMag: vmh, softcap });
  const ctx = new Float64Array(B * L * E), ctxm = new Float64Array(B * L * E);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < L; i++) for (let d = 0; d < Dh; d++) {
    ctx[(b * L + i) * E + h * Dh + d] = a.out[((b * H + h) * L + i) * Dh + d];
    ctxm[(b * L + i) * E + h * Dh + d] = a.mag[((b * H + h) * L + i) * Dh + d];
  }
  return { out: refLinear(ctx, B * L, E, w.Wo, E, w.bo), w: a.w, mag: refLinear(ctxm, B * L, E, abs(w.Wo)!, E, abs(w.bo)) };
}

/** Per-head weights [B, H, L, k] averaged over heads → [B, L, k]. */
function avgHeads(w: Float64Array, B: number, H: number, n: number): Float64Array {
  const a = new Float64Array(B * n);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) a[b * n + i] += w[(b * H + h) * n + i] / H;
  return a;
}

test(`Linformer MultiHeadAttention vs float64: S < maxLength (first S columns), S = maxLength, shareKV, GQA, cross-attention, one query (decode path), odd sizes across BM = ${BM} and KC = ${KC}`, () => {
  const rand = rng(41);
  type Case = [cfg: Partial<MhaCfg> & { E: number; H: number }, B: number, L: number, S: number | null, n: number, k: number, shareKV: boolean];
  const cases: Case[] = [
    [{ E: 8, H: 2 }, 2, 7, null, 12, 5, false],                              // self, S = 7 < n
    [{ E: 24, H: 4, Hkv: 2 }, 2, BM + 3, null, BM + 3, 16, false],           // self, S = n, GQA
    [{ E: 12, H: 3, Hkv: 1, bias: false }, 1, 2 * BM + 1, null, 2 * BM + 9, 1, true],   // k = 1, multi-query, shared
    [{ E: 16, H: 4, Hkv: 1, kdim: 10, vdim: 6 }, 2, 5, KC + 9, KC + 20, 37, true],    // cross, S across KC
    [{ E: 20, H: 5 }, 3, 1, 30, 33, 7, false],                              // one query: the decode kernel over k keys
    [{ E: 18, H: 3 }, 1, 1, null, 4, 9, false],                             // self L = S = 1, k > n
    [{ E: 8, H: 1 }, 2, 9, 11, 11, BM + 2, false],                          // k > S, k across BM
  ];
  let n = 0;
  for (const [c, B, L, Sg, len, k, shareKV] of cases) {
    const m = linModel(c, len, k, shareKV, 100 + n);
    const { E, kdim, vdim, H } = m.cfg;
    const S = Sg ?? L;
    const x = tensor(rand, [B, L, E]);
    const kx = Sg === null ? undefined : tensor(rand, [B, S, kdim]), vx = Sg === null ? undefined : tensor(rand, [B, S, vdim]);
    const softcap = n % 3 === 2 ? 3 : undefined;
    const ref = refLin(m.cfg, m.ref, m.lin, x.data, (kx ?? x).data, (vx ?? x).data, B, L, S, softcap);
    const what = `case ${n}: B=${B} L=${L} S=${S} n=${len} k=${k}${shareKV ? " shareKV" : ""}${softcap ? " softcap" : ""}`;
    const plain = m.mha.forward(x, kx, vx, softcap ? { softcap } : {});
    assert.equal(plain.output.shape, [B, L, E], `${what}: output shape`);
    assertRowsClose(plain.output.data, ref.out, E, RTOL, `${what}: output`, ref.mag);
    const perHead = m.mha.forward(x, kx, vx, { needWeights: true, averageWeights: false, ...(softcap ? { softcap } : {}) });
    assert.equal(perHead.weights!.shape, [B, H, L, k], `${what}: per-head weights [B, H, L, k]`);
    assertRowsClose(perHead.weights!.data, ref.w, k, RTOL, `${what}: per-head weights`);
    assertRowsClose(perHead.output.data, ref.out, E, RTOL, `${what}: output with weights`, ref.mag);
    const avg = m.mha.forward(x, kx, vx, { needWeights: true, ...(softcap ? { softcap } : {}) });
    assert.equal(avg.weights!.shape, [B, L, k], `${what}: averaged weights [B, L, k]`);
    assertRowsClose(avg.weights!.data, avgHeads(ref.w, B, H, L * k), k, RTOL, `${what}: averaged weights`);
    m.mha.dispose();
    n++;
  }
});

test("Linformer: unbatched input ([L, E]) gives the batched result's bits; weights [H, L, k]; S = 0 keys (cross) gives an empty sum", () => {
  const rand = rng(42);
  const m = linModel({ E: 16, H: 2 }, 20, 6, false, 7);
  const x = tensor(rand, [13, 16]);
  const a = m.mha.forward(x, undefined, undefined, { needWeights: true, averageWeights: false });
  const b = m.mha.forward({ data: x.data, shape: [1, 13, 16] }, undefined, undefined, { needWeights: true, averageWeights: false });
  assert.equal(a.output.shape, [13, 16]);
  assert.equal(a.weights!.shape, [2, 13, 6]);
  bitsEqual(a.output.data, b.output.data, "unbatched output");
  bitsEqual(a.weights!.data, b.weights!.data, "unbatched weights");
  const empty = { data: new Float32Array(0), shape: [1, 0, 16] };
  const z = m.mha.forward({ data: x.data, shape: [1, 13, 16] }, empty, empty, { needWeights: true });
  const ref = refLin(m.cfg, m.ref, m.lin, x.data, [], [], 1, 13, 0);
  assertRowsClose(z.output.data, ref.out, 16, RTOL, "S = 0: K' = V' = 0", ref.mag);
  assertRowsClose(z.weights!.data, avgHeads(ref.w, 1, 2, 13 * 6), 6, RTOL, "S = 0: uniform weights over k");
  m.mha.dispose();
});

test("Linformer state_dict: proj_k / proj_v [maxLength, k] (E, F transposed) round trip, shareKV has no proj_v, initial projections uniform ±1/√k", () => {
  const rand = rng(43);
  const len = 9, k = 4;
  for (const shareKV of [false, true]) {
    const m = linModel({ E: 12, H: 3, Hkv: 1 }, len, k, shareKV, 11);
    const sd = m.mha.stateDict("attn.");
    assert.equal(sd["attn.proj_k"].shape, [len, k], "proj_k shape [maxLength, k]");
    for (let r = 0; r < k; r++) for (let j = 0; j < len; j++) assert.is(sd["attn.proj_k"].data[j * k + r], m.lin.E[r * len + j], `proj_k[${j}, ${r}] = E[${r}, ${j}]`);
    if (shareKV) assert.is(sd["attn.proj_v"], undefined, "no proj_v with shareKV");
    else for (let r = 0; r < k; r++) for (let j = 0; j < len; j++) assert.is(sd["attn.proj_v"].data[j * k + r], m.lin.F[r * len + j], `proj_v[${j}, ${r}]`);
    const other = new MultiHeadAttention({ embedDim: 12, numHeads: 3, numKVHeads: 1, projectedLength: k, maxLength: len, shareKV, seed: 99 });
    other.loadStateDict(sd, { prefix: "attn." });
    const x = tensor(rand, [2, 8, 12]);
    bitsEqual(other.forward(x).output.data, m.mha.forward(x).output.data, `loaded state_dict (shareKV ${shareKV}): same bits`);
    const file = new MultiHeadAttention({ embedDim: 12, numHeads: 3, numKVHeads: 1, projectedLength: k, maxLength: len, shareKV, seed: 98 });
    file.loadStateDict(writeSafetensors(Object.fromEntries(Object.entries(sd).map(([n, t]) => [n, { data: t.data, shape: [...t.shape] }]))), { prefix: "attn." });
    bitsEqual(file.forward(x).output.data, m.mha.forward(x).output.data, `loaded from safetensors bytes (shareKV ${shareKV}): same bits`);
    file.dispose();
    if (!shareKV) {
      const { ["attn.proj_v"]: _, ...noV } = sd;
      throwsWith(() => other.loadStateDict(noV, { prefix: "attn." }), TypeError, /key "attn\.proj_v" \[9, 4\] is missing/, "missing proj_v");
      throwsWith(() => other.loadStateDict({ ...sd, "attn.proj_k": { data: new Float32Array(len * k), shape: [k, len] } }, { prefix: "attn." }), RangeError,
        /"attn\.proj_k"\.shape must be \[9, 4\]/, "proj_k as [k, maxLength]");
      bitsEqual(other.forward(x).output.data, m.mha.forward(x).output.data, "a refused state_dict changes nothing");
    }
    other.dispose();
    m.mha.dispose();
  }
  // initial projections: uniform ±1/√k (lucidrains/linformer's init_), drawn from the seed
  const kk = 16, nn = 300;
  const a = new MultiHeadAttention({ embedDim: 8, numHeads: 2, projectedLength: kk, maxLength: nn, seed: 5 });
  const b = new MultiHeadAttention({ embedDim: 8, numHeads: 2, projectedLength: kk, maxLength: nn, seed: 5 });
  const sa = a.stateDict(), sb = b.stateDict();
  for (const key of ["proj_k", "proj_v"]) {
    const d = sa[key].data, bound = 1 / Math.sqrt(kk);
    let max = 0, sum = 0;
    for (const v of d) { max = Math.max(max, Math.abs(v)); sum += v; }
    assert.ok(max <= bound && max > 0.99 * bound, `${key}: max |x| = ${max} within and near 1/√k = ${bound}`);
    assert.ok(Math.abs(sum / d.length) < 0.05 * bound, `${key}: mean ≈ 0`);
    bitsEqual(d, sb[key].data, `${key}: the same seed, the same projection`);
  }
  assert.ok(sa.proj_k.data.some((v, i) => v !== sa.proj_v.data[i]), "E and F drawn separately");
  // the rest of the initial weights are those of a layer without Linformer (drawn first)
  const plain = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 5 });
  bitsEqual(sa.in_proj_weight.data, plain.stateDict().in_proj_weight.data, "in_proj_weight as without Linformer");
  a.dispose(); b.dispose(); plain.dispose();
});

test("Linformer config, loadWeights and forward refusals: clear TypeError/RangeError, the layer keeps working", () => {
  const fn = "MultiHeadAttention";
  throwsWith(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, maxLength: 10 }), TypeError, /config\.maxLength is for Linformer attention: give config\.projectedLength/, "maxLength alone");
  throwsWith(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, shareKV: true }), TypeError, /config\.shareKV is for Linformer/, "shareKV alone");
  throwsWith(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, projectedLength: 4 }), TypeError, /config\.maxLength must be a number/, "no maxLength");
  throwsWith(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, projectedLength: 0, maxLength: 4 }), RangeError, /config\.projectedLength must be an integer ≥ 1/, "k = 0");
  throwsWith(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, projectedLength: 2, maxLength: 4.5 }), RangeError, /config\.maxLength must be an integer ≥ 1/, "fractional n");
  throwsWith(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, projectedLength: 2, maxLength: 4, shareKV: 1 as never }), TypeError, /config\.shareKV must be a boolean/, "shareKV 1");
  for (const [extra, name] of [[{ alibi: true }, "alibi"], [{ alibiSlopes: Float32Array.of(1, 2) }, "alibiSlopes"], [{ rotary: {} }, "rotary"], [{ window: [2, 0] }, "window"]] as const) {
    throwsWith(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, projectedLength: 2, maxLength: 4, ...extra }), TypeError,
      new RegExp(`${fn}: config\\.${name} cannot be combined with config\\.projectedLength`), name);
  }
  const rand = rng(44);
  const m = linModel({ E: 8, H: 2 }, 10, 3, false, 3);
  const x = tensor(rand, [2, 6, 8]);
  const want = m.mha.forward(x).output.data;
  const E = m.lin.E;
  const base = { ...m.weights, keyProjection: E, valueProjection: E };
  throwsWith(() => m.mha.loadWeights(m.weights), TypeError, /weights\.keyProjection \(\[k, maxLength\]: k·maxLength = 3·10 = 30 floats\) is missing/, "no keyProjection");
  throwsWith(() => m.mha.loadWeights({ ...m.weights, keyProjection: E }), TypeError, /weights\.valueProjection .* is missing/, "no valueProjection");
  throwsWith(() => m.mha.loadWeights({ ...base, valueProjection: E.subarray(1) }), RangeError, /weights\.valueProjection must have length k·maxLength = 3·10 = 30/, "short F");
  throwsWith(() => m.mha.loadWeights({ ...base, keyProjection: Array.from(E) as never }), TypeError, /weights\.keyProjection must be a Float32Array/, "array E");
  bitsEqual(m.mha.forward(x).output.data, want, "refused loadWeights changed nothing");
  const shared = new MultiHeadAttention({ embedDim: 8, numHeads: 2, projectedLength: 3, maxLength: 10, shareKV: true });
  throwsWith(() => shared.loadWeights(base), TypeError, /weights\.valueProjection given but this MultiHeadAttention has shareKV: true/, "F with shareKV");
  const plain = new MultiHeadAttention({ embedDim: 8, numHeads: 2 });
  throwsWith(() => plain.loadWeights(base), TypeError, /weights\.keyProjection given but this MultiHeadAttention has no config\.projectedLength/, "E without Linformer");
  shared.dispose(); plain.dispose();
  const f = `${fn}.forward`;
  const refused: Array<[MultiHeadAttentionOptions, string]> = [
    [{ keyPaddingMask: { data: new Uint8Array(12), shape: [2, 6] } }, "keyPaddingMask"],
    [{ attnMask: { data: new Uint8Array(36).fill(1), shape: [6, 6] } }, "attnMask"],
    [{ causal: true }, "causal"], [{ causal: "top-left" }, "causal"],
    [{ blockSparse: { blockSize: 2, layout: { data: new Uint8Array(9).fill(1), shape: [3, 3] } } }, "blockSparse"],
  ];
  for (const [o, name] of refused) {
    throwsWith(() => m.mha.forward(x, undefined, undefined, o), TypeError, new RegExp(`${f}: options\\.${name} cannot be combined with Linformer attention`), name);
  }
  throwsWith(() => m.mha.forward(x, undefined, undefined, { window: [2, 2] }), TypeError, /options\.window cannot be combined with Linformer/, "window");
  bitsEqual(m.mha.forward(x, undefined, undefined, { window: [-1, -1], causal: false }).output.data, want, "an unbounded window and causal: false are no masks");
  throwsWith(() => m.mha.forward(tensor(rand, [1, 11, 8])), RangeError, /key length S must be ≤ config\.maxLength = 10/, "S > maxLength (self)");
  throwsWith(() => m.mha.forward(x, tensor(rand, [2, 11, 8]), tensor(rand, [2, 11, 8])), RangeError, /key length S must be ≤ config\.maxLength = 10 .*; got 11/, "S > maxLength (cross)");
  throwsWith(() => m.mha.createCache({ batch: 1, maxLength: 8 }), TypeError, /createCache: a Linformer layer \(config\.projectedLength\) has no KV cache/, "cache");
  bitsEqual(m.mha.forward(x).output.data, want, "the layer still works");
  m.mha.dispose();
  stillWorks("after Linformer refusals");
});

test("Linformer and blockSparse: 1 and 2 threads give the same bits (tuning.minWork = 0: every job through the workers)", async () => {
  const run = (): Float32Array[] => {
    const rand = rng(45);
    const L = 2 * BM + 5, b = 16;
    const m = linModel({ E: 24, H: 4, Hkv: 2 }, L + 2, 19, false, 21);
    const x = tensor(rand, [2, L, 24]);
    const r = m.mha.forward(x, undefined, undefined, { needWeights: true, averageWeights: false });
    m.mha.dispose();
    const d = model({ E: 24, H: 4, Hkv: 2 }, 5);
    const layout = sparseLayout({ queryLength: L, keyLength: L, blockSize: b, window: 1, globalBlocks: 1 });
    const s = d.mha.forward(x, undefined, undefined, { needWeights: true, averageWeights: false, causal: true, blockSparse: { blockSize: b, layout } });
    d.mha.dispose();
    return [r.output.data, r.weights!.data, s.output.data, s.weights!.data];
  };
  const saved = tuning.minWork;
  try {
    await init({ build: BUILD });
    const one = run();
    tuning.minWork = 0;
    await init({ build: BUILD, threads: 2 });
    const two = run();
    ["Linformer output", "Linformer weights", "blockSparse output", "blockSparse weights"].forEach((what, i) => bitsEqual(two[i], one[i], `${what}: 2 threads`));
  } finally {
    tuning.minWork = saved;
    terminate();
    await init({ build: BUILD });
  }
});

/** A block layout [..., R, C] (block b) as an element mask [..., L, S] (1 = keep). */
function layoutMask(layout: { data: Uint8Array; shape: number[] }, L: number, S: number, b: number): { data: Uint8Array; shape: number[] } {
  const R = Math.ceil(L / b), C = Math.ceil(S / b);
  const lead = layout.shape.slice(0, -2), nl = lead.reduce((a, c) => a * c, 1);
  const m = new Uint8Array(nl * L * S);
  for (let t = 0; t < nl; t++) for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
    m[(t * L + i) * S + j] = layout.data[(t * R + Math.floor(i / b)) * C + Math.floor(j / b)];
  }
  return { data: m, shape: [...lead, L, S] };
}

test("MultiHeadAttention.forward({ blockSparse }) vs float64 (the layout as an element mask): per-head layouts, empty block rows, partial blocks, causal, padding, cross, unbatched; a layout keeping every block gives the bits of none", () => {
  const rand = rng(46);
  const m = model({ E: 24, H: 4, Hkv: 2 }, 12);
  for (const [B, L, S, b, lead] of [
    [2, 7, 7, 3, []], [2, BM + 5, BM + 5, 8, [4]], [1, 2 * BM + 1, KC + 30, 32, [1, 4]], [2, 1, 40, 7, [2, 1]], [1, 9, 9, 4, []],
  ] as Array<[number, number, number, number, number[]]>) {
    const R = Math.ceil(L / b), C = Math.ceil(S / b);
    const lshape = [...lead, R, C];
    const n = lshape.reduce((a, c) => a * c, 1);
    // random blocks, one block row left empty (its rows give zeros)
    const data = Uint8Array.from({ length: n }, (_, i) => (Math.floor(i / C) % R === 1 ? 0 : rand() < 0.6 ? 1 : 0));
    const layout = { data, shape: lshape };
    const x = tensor(rand, [B, L, 24]);
    const kv = L === S ? undefined : tensor(rand, [B, S, 24]);
    const pad = { data: Uint8Array.from({ length: B * S }, (_, i) => (i % 7 === 3 ? 1 : 0)), shape: [B, S] };
    for (const [causal, keyPaddingMask] of [[false, undefined], [true, pad]] as const) {
      if (causal && L !== S) continue;
      const o: MultiHeadAttentionOptions = { causal, keyPaddingMask, needWeights: true, averageWeights: false };
      const got = m.mha.forward(x, kv, kv, { ...o, blockSparse: { blockSize: b, layout } });
      const ref = refForward(m, x, kv, kv, { ...o, attnMask: layoutMask(layout, L, S, b) });
      const what = `B=${B} L=${L} S=${S} b=${b} layout ${JSON.stringify(lshape)}${causal ? " causal" : ""}${keyPaddingMask ? " padded" : ""}`;
      assertRowsClose(got.output.data, ref.out, 24, RTOL, `${what}: output`, ref.mag);
      assertRowsClose(got.weights!.data, ref.w, S, RTOL, `${what}: weights`);
    }
  }
  // unbatched, layout [H, R, C]
  const L = 10, b = 4, R = 3;
  const layout = { data: Uint8Array.from({ length: 4 * R * R }, (_, i) => (i % 5 === 0 ? 0 : 1)), shape: [4, R, R] };
  const x = tensor(rand, [L, 24]);
  const got = m.mha.forward(x, undefined, undefined, { blockSparse: { blockSize: b, layout }, needWeights: true, averageWeights: false });
  const ref = refForward(m, x, undefined, undefined, { attnMask: layoutMask(layout, L, L, b), needWeights: true, averageWeights: false });
  assertRowsClose(got.output.data, ref.out, 24, RTOL, "unbatched [H, R, C] layout: output", ref.mag);
  assertRowsClose(got.weights!.data, ref.w, L, RTOL, "unbatched: weights");
  // with a plain cache: the layout indexes the call's S = cached + new keys (bottom-right causal)
  {
    const B = 2, P = 13, Ln = 6, T = P + Ln, b = 4;
    const xa = tensor(rand, [B, T, 24]);
    const rows = (a: number, z: number) => ({ data: Float32Array.from({ length: B * (z - a) * 24 }, (_, i) => xa.data[(Math.floor(i / ((z - a) * 24)) * T + a) * 24 + (i % ((z - a) * 24))]), shape: [B, z - a, 24] });
    const cache = m.mha.createCache({ batch: B, maxLength: T });
    m.mha.forward(rows(0, P), undefined, undefined, { cache });
    const lay = { data: Uint8Array.from({ length: 2 * 5 }, (_, i) => (i === 1 || i === 7 ? 0 : 1)), shape: [2, 5] };
    const got = m.mha.forward(rows(P, T), undefined, undefined, { cache, blockSparse: { blockSize: b, layout: lay }, needWeights: true, averageWeights: false });
    const ref = refForward(m, rows(P, T), xa, xa, { causal: true, attnMask: layoutMask(lay, Ln, T, b), needWeights: true, averageWeights: false });
    assertRowsClose(got.output.data, ref.out, 24, RTOL, "cache + blockSparse: output", ref.mag);
    assertRowsClose(got.weights!.data, ref.w, T, RTOL, "cache + blockSparse: weights");
    cache.dispose();
  }
  // a layout keeping every block: the bits of no layout
  const all = { data: new Uint8Array(R * R).fill(1), shape: [R, R] };
  bitsEqual(m.mha.forward(x, undefined, undefined, { causal: true, blockSparse: { blockSize: b, layout: all } }).output.data,
    m.mha.forward(x, undefined, undefined, { causal: true }).output.data, "all blocks kept = no layout");
  m.mha.dispose();
});

test("blockSparse on MultiHeadAttention: bad layouts and a rolling cache are refused; the layer keeps working", () => {
  const rand = rng(47);
  const m = model({ E: 16, H: 2 }, 3);
  const x = tensor(rand, [2, 9, 16]);
  const want = m.mha.forward(x).output.data;
  const f = "MultiHeadAttention.forward";
  throwsWith(() => m.mha.forward(x, undefined, undefined, { blockSparse: { blockSize: 4, layout: { data: new Uint8Array(3), shape: [1, 3] } } }), RangeError,
    new RegExp(`${f}: options\\.blockSparse\\.layout\\.shape must end in \\[⌈L/b⌉, ⌈S/b⌉\\] = \\[3, 3\\]`), "wrong grid");
  throwsWith(() => m.mha.forward(x, undefined, undefined, { blockSparse: { blockSize: 3, layout: { data: new Uint8Array(27), shape: [3, 3, 3] } } }), RangeError,
    /options\.blockSparse\.layout/, "leading dim 3 vs H = 2");
  throwsWith(() => m.mha.forward(x, undefined, undefined, { blockSparse: { blockSize: 3, layout: { data: new Float32Array(9), shape: [3, 3] } as never } }), TypeError,
    /options\.blockSparse\.layout\.data must be a Uint8Array/, "float layout");
  throwsWith(() => m.mha.forward(x, undefined, undefined, { blockSparse: { layout: { data: new Uint8Array(9), shape: [3, 3] } } as never }), TypeError,
    /options\.blockSparse\.blockSize must be a number/, "no blockSize");
  const cache = m.mha.createCache({ batch: 2, window: 8 });
  throwsWith(() => m.mha.forward(tensor(rand, [2, 4, 16]), undefined, undefined,
    { cache, blockSparse: { blockSize: 2, layout: { data: Uint8Array.of(1, 0, 1, 1), shape: [2, 2] } } }), TypeError, /options\.blockSparse needs a plain cache/, "rolling cache");
  cache.dispose();
  bitsEqual(m.mha.forward(x).output.data, want, "the layer still works");
  m.mha.dispose();
  stillWorks("after bad blockSparse");
});

test.run();
