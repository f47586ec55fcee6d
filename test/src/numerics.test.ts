// Numerics (issue #5): NaN and ±Infinity in inputs propagate as IEEE arithmetic says and never crash; huge
// logits (±1e30 … ±FLT_MAX) stay finite where the math is finite. Compared with the float64 reference
// (test/reference.ts, which applies the same IEEE rules: exp(x − max) with max over the row, masks by −∞)
// where that is meaningful, and with explicit row/column checks that say which rows are NaN.
// Every sdpa case runs on the decode path (L ≤ 2), one row block, and two blocks (L = BM + 5: 45, 53 relaxed); with no mask
// (the scale folds into the exp pass) and with masks (scale applied first).
// Shapes: L query rows, S keys, E query/key width, Ev value width; matmul M×K · K×N; MHA B, T tokens, E.
// Run: WASM_ATTENTION_BUILD=debug node --import tsx scripts/uvu-run.mjs test/src/numerics.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertClose, assertRowsClose, randBytes, randn, rng } from "../helpers.js";
import {
  matmul, scaledDotProductAttention as sdpa, softmax,
  type Mask, type MultiHeadAttentionOptions, type SdpaOptions, type Tensor,
} from "../../src/index.js";
import { BM, KC } from "../constants.js";
import { bitsEqual, heapInUse, model, refForward, refMatmulCall, refSdpaCall, refSoftmaxCall, tensor } from "./reliability-support.js";

const RTOL = 1e-5;
const FLT_MAX = 3.4028234663852886e38;
const LS: Array<[number, number]> = [[1, 7], [2, 9], [7, 9], [BM + 5, BM + 10]];   // (L, S): decode, one block, two blocks

/** Rows of x [rows, cols] that hold a NaN. */
function nanRows(x: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / cols; r++) {
    for (let j = 0; j < cols; j++) if (Number.isNaN(x[r * cols + j])) { out.push(r); break; }
  }
  return out;
}

function allFiniteExcept(x: ArrayLike<number>, cols: number, rows: number[], what: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!rows.includes(Math.floor(i / cols)) && !Number.isFinite(x[i])) assert.unreachable(`${what}: [${Math.floor(i / cols)}, ${i % cols}] = ${x[i]}`);
  }
}

function rowIs(x: ArrayLike<number>, cols: number, r: number, pred: (v: number) => boolean, desc: string, what: string): void {
  for (let j = 0; j < cols; j++) if (!pred(x[r * cols + j])) assert.unreachable(`${what}: row ${r} should be ${desc}; [${r}, ${j}] = ${x[r * cols + j]}`);
}

/**
 * sdpa, checked against the reference (output and weights; NaN exactly where the reference has NaN). One
 * exception: in a NaN row the reference's weights are NaN everywhere (exp(−∞ − NaN)), while a key the causal
 * mask hides may get weight 0 or NaN (the kernel never computes it): either is accepted there.
 */
function check(q: Tensor, k: Tensor, v: Tensor, o: SdpaOptions, what: string): { out: Float32Array; w: Float32Array } {
  const mark = heapInUse();
  const r = sdpa(q, k, v, { ...o, returnWeights: true });
  assert.is(heapInUse(), mark, `${what}: heap back`);
  const ref = refSdpaCall(q, k, v, o);
  const L = q.shape[q.shape.length - 2], S = k.shape[k.shape.length - 2], Ev = v.shape[v.shape.length - 1];
  assertRowsClose(r.output.data, ref.out, Ev, RTOL, `${what}: output`, ref.mag);
  const w = r.weights!.data, want = Float64Array.from(ref.w);
  for (let x = 0; x < want.length; x++) {
    const i = Math.floor(x / S) % L, j = x % S;
    if (o.causal && j > i + S - L && Number.isNaN(want[x]) && w[x] === 0) want[x] = 0;
  }
  assertRowsClose(w, want, S, RTOL, `${what}: weights`);
  return { out: r.output.data, w };
}

type MaskKind = "none" | "bool" | "additive";
function maskFor(kind: MaskKind, rand: () => number, L: number, S: number): Mask | undefined {
  if (kind === "none") return undefined;
  if (kind === "bool") { const m = randBytes(rand, L * S, 0.7); for (let i = 0; i < L; i++) m[i * S + (i % S)] = 1; return { data: m, shape: [L, S] }; }
  const m = randn(rand, L * S, -2, 2);
  for (let i = 0; i < L * S; i++) if (rand() < 0.2 && i % S !== Math.floor(i / S) % S) m[i] = -Infinity;
  return { data: m, shape: [L, S] };
}

// ---- NaN -------------------------------------------------------------------------------------------------------

test("sdpa: a NaN in one query row makes that output row and weights row NaN; every other row stays finite and equals the reference", () => {
  const rand = rng(1);
  for (const [L, S] of LS) for (const kind of ["none", "bool", "additive"] as MaskKind[]) for (const causal of [false, true]) {
    for (const i of [0, L - 1]) {
      const E = 5, Ev = 3;
      const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
      q.data[i * E + 2] = NaN;
      const what = `L=${L} S=${S} ${kind} causal=${causal} NaN in query row ${i}`;
      const { out, w } = check(q, k, v, { mask: maskFor(kind, rand, L, S), causal }, what);
      assert.equal(nanRows(out, Ev), [i], `${what}: NaN output rows`);
      assert.equal(nanRows(w, S), [i], `${what}: NaN weight rows`);
      rowIs(out, Ev, i, Number.isNaN, "all NaN", what);
    }
  }
});

test("sdpa: a NaN in key j makes exactly the rows that attend to j NaN; rows that cannot see j (causal, boolean mask) stay finite; an additive −Infinity does not hide it (NaN + −∞ = NaN)", () => {
  const rand = rng(2);
  for (const [L, S] of LS) {
    const E = 4, Ev = 3, j = Math.floor(S / 2);
    const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    k.data[j * E + 1] = NaN;
    const all = Array.from({ length: L }, (_, i) => i);
    // no mask: every row attends to j
    assert.equal(nanRows(check(q, k, v, {}, `L=${L} no mask`).out, Ev), all, `L=${L} no mask: NaN rows`);
    // causal (bottom-right): row i sees j iff j ≤ i + S − L
    const sees = all.filter((i) => j <= i + S - L);
    assert.equal(nanRows(check(q, k, v, { causal: true }, `L=${L} causal`).out, Ev), sees, `L=${L} causal: NaN rows`);
    // boolean mask dropping key j in even rows
    const bm = new Uint8Array(L * S).fill(1);
    for (let i = 0; i < L; i += 2) bm[i * S + j] = 0;
    const r1 = check(q, k, v, { mask: { data: bm, shape: [L, S] } }, `L=${L} bool mask`);
    assert.equal(nanRows(r1.out, Ev), all.filter((i) => i % 2 === 1), `L=${L} bool mask: NaN rows`);
    // additive −Infinity on key j in even rows: still NaN everywhere (as the reference)
    const am = new Float32Array(L * S);
    for (let i = 0; i < L; i += 2) am[i * S + j] = -Infinity;
    assert.equal(nanRows(check(q, k, v, { mask: { data: am, shape: [L, S] } }, `L=${L} additive −∞`).out, Ev), all, `L=${L} additive −∞: NaN rows`);
  }
});

test("sdpa: a NaN at value [j, e] makes column e NaN in the rows that give key j a weight > 0; rows the causal mask keeps from key j never read it; the weights and every other column stay finite and equal the reference", () => {
  const rand = rng(3);
  for (const [L, S] of LS) for (const causal of [false, true]) {
    const E = 4, Ev = 5, j = Math.floor(S / 2), e = 3;
    const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    v.data[j * Ev + e] = NaN;
    const what = `L=${L} S=${S} causal=${causal}`;
    const r = sdpa(q, k, v, { causal, returnWeights: true });
    const ref = refSdpaCall(q, k, v, { causal });
    // Rows that give key j weight 0 (the causal mask removes it) never read value row j: as if it held 0.
    const v0 = { data: v.data.slice(), shape: v.shape };
    v0.data[j * Ev + e] = 0;
    const ref0 = refSdpaCall(q, k, v0, { causal });
    assertRowsClose(r.weights!.data, ref.w, S, RTOL, `${what}: weights`);
    for (let i = 0; i < L; i++) {
      const attends = ref.w[i * S + j] > 0;
      for (let c = 0; c < Ev; c++) {
        const g = r.output.data[i * Ev + c];
        if (c === e && attends) assert.ok(Number.isNaN(g), `${what}: [${i}, ${c}] = ${g}, want NaN (weight ${ref.w[i * S + j]})`);
        if (c === e && !attends) assert.ok(Math.abs(g - ref0.out[i * Ev + c]) <= RTOL * Math.max(1, Math.abs(ref0.out[i * Ev + c])), `${what}: [${i}, ${c}] = ${g}: a masked value row was read (want ${ref0.out[i * Ev + c]})`);
        if (c !== e) assert.ok(Math.abs(g - ref.out[i * Ev + c]) <= RTOL * Math.max(1, Math.abs(ref.out[i * Ev + c])), `${what}: [${i}, ${c}] = ${g}, want ${ref.out[i * Ev + c]}`);
      }
    }
  }
});

// ---- ±Infinity ---------------------------------------------------------------------------------------------------

test("sdpa: +Infinity scores make the row NaN (exp(∞ − ∞)); all-−Infinity scores give a zero row like a fully masked one; a negative scale swaps the two; other rows untouched", () => {
  const rand = rng(4);
  for (const [L, S] of LS) for (const kind of ["none", "bool"] as MaskKind[]) {
    const E = 3, Ev = 2, i = L - 1;
    const k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    for (let j = 0; j < S; j++) k.data[j * E] = 0.1 + rand();   // k[:, 0] > 0
    for (const [sign, scale] of [[1, undefined], [-1, undefined], [1, -1], [-1, -0.5]] as const) {
      const q = tensor(rand, [L, E]);
      q.data[i * E] = sign * Infinity;
      const positive = sign * (scale ?? 1) > 0;
      const what = `L=${L} ${kind} q[${i}, 0] = ${sign > 0 ? "+" : "−"}∞ scale ${scale ?? "default"}`;
      const { out, w } = check(q, k, v, { mask: maskFor(kind, rand, L, S), scale }, what);
      if (positive) { rowIs(out, Ev, i, Number.isNaN, "NaN", what); assert.equal(nanRows(out, Ev), [i], `${what}: NaN rows`); }
      else { rowIs(out, Ev, i, (x) => x === 0, "zeros", what); rowIs(w, S, i, (x) => x === 0, "zeros", `${what}: weights`); assert.equal(nanRows(out, Ev), [], `${what}: no NaN`); }
      allFiniteExcept(out, Ev, [i], what);
    }
  }
});

test("sdpa: an additive +Infinity makes its row NaN; a row of −Infinity entries gives zeros; −Infinity on some keys gives them weight exactly 0", () => {
  const rand = rng(5);
  for (const [L, S] of LS) {
    const E = 4, Ev = 3;
    const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    const m = randn(rand, L * S, -1, 1);
    const pinf = 0, ninf = L - 1 > 0 ? L - 1 : -1;
    m[pinf * S + 1 % S] = Infinity;
    if (ninf > 0) m.fill(-Infinity, ninf * S, (ninf + 1) * S);
    if (L > 2) { m[1 * S] = -Infinity; m[1 * S + S - 1] = -Infinity; }
    const { out, w } = check(q, k, v, { mask: { data: m, shape: [L, S] } }, `L=${L}`);
    rowIs(out, Ev, pinf, Number.isNaN, "NaN", `L=${L} +∞ entry`);
    if (ninf > 0) { rowIs(out, Ev, ninf, (x) => x === 0, "zeros", `L=${L} −∞ row`); rowIs(w, S, ninf, (x) => x === 0, "zeros", `L=${L} −∞ row weights`); }
    if (L > 2) assert.equal([w[S], w[2 * S - 1]], [0, 0], `L=${L}: −∞ entries have weight 0`);
    assert.equal(nanRows(out, Ev), [pinf], `L=${L}: NaN rows`);
  }
});

// ---- masks: −Infinity and huge negative additive masks ----------------------------------------------------------

test("sdpa: an additive mask of −Infinity gives the same bits as the boolean mask (output and weights), fully masked rows included (zeros)", () => {
  const rand = rng(6);
  for (const [L, S] of LS) for (const causal of [false, true]) for (const shape of [[L, S], [2, 1, L, S], [S]]) {
    const batch = shape.length === 4 ? [2, 3] : [];
    const E = 6, Ev = 5;
    const q = tensor(rand, [...batch, L, E]), k = tensor(rand, [...batch, S, E]), v = tensor(rand, [...batch, S, Ev]);
    const n = shape.reduce((a, b) => a * b, 1);
    const bm = randBytes(rand, n, 0.6);
    if (shape.length === 2 && L > 1) bm.fill(0, S, 2 * S);   // row 1 fully masked
    const am = Float32Array.from(bm, (b) => (b ? 0 : -Infinity));
    const a = sdpa(q, k, v, { mask: { data: bm, shape }, causal, returnWeights: true });
    const b = sdpa(q, k, v, { mask: { data: am, shape }, causal, returnWeights: true });
    const what = `L=${L} S=${S} mask [${shape}] causal=${causal}`;
    bitsEqual(b.output.data, a.output.data, `${what}: output`);
    bitsEqual(b.weights!.data, a.weights!.data, `${what}: weights`);
    const ref = refSdpaCall(q, k, v, { mask: { data: bm, shape }, causal });
    assertRowsClose(a.output.data, ref.out, Ev, RTOL, `${what}: vs reference`, ref.mag);
    if (shape.length === 2 && L > 1) rowIs(a.output.data, Ev, 1, (x) => x === 0, "zeros", what);
  }
});

test("sdpa: additive masks of −1e30, −1e38 and −FLT_MAX give the boolean mask's bits where a row keeps a key; a row with every key at that value is the uniform average (weights 1/S, finite), as the reference", () => {
  const rand = rng(7);
  for (const big of [-1e30, -1e38, -FLT_MAX]) for (const [L, S] of LS) for (const causal of [false, true]) {
    const E = 6, Ev = 4;
    const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    const bm = randBytes(rand, L * S, 0.6);
    for (let i = 0; i < L; i++) bm[i * S + Math.max(0, i + S - L)] = 1;   // a visible key kept in every row (causal too)
    const am = Float32Array.from(bm, (b) => (b ? 0 : big));
    const a = sdpa(q, k, v, { mask: { data: bm, shape: [L, S] }, causal, returnWeights: true });
    const b = sdpa(q, k, v, { mask: { data: am, shape: [L, S] }, causal, returnWeights: true });
    const what = `mask ${big} L=${L} S=${S} causal=${causal}`;
    bitsEqual(b.output.data, a.output.data, `${what}: output`);
    bitsEqual(b.weights!.data, a.weights!.data, `${what}: weights`);
  }
  for (const big of [-1e30, -1e38, -FLT_MAX]) for (const [L, S] of LS) {
    const E = 6, Ev = 4;
    const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    const { w, out } = check(q, k, v, { mask: { data: new Float32Array(L * S).fill(big), shape: [L, S] } }, `all keys at ${big} L=${L}`);
    for (let i = 0; i < L * S; i++) assert.ok(Math.abs(w[i] - 1 / S) <= 1e-6, `all keys at ${big}: weight ${w[i]} ≠ 1/${S}`);
    for (let c = 0; c < Ev; c++) {
      let mean = 0;
      for (let j = 0; j < S; j++) mean += v.data[j * Ev + c] / S;
      assert.ok(Math.abs(out[c] - mean) <= 1e-5, `all keys at ${big}: output ${out[c]} ≠ mean of V ${mean}`);
    }
  }
});

// ---- huge logits -------------------------------------------------------------------------------------------------

test("sdpa: scores of equal huge magnitude (q·k = ±1e30) give uniform weights over the top keys and exact zeros elsewhere, finite, as the reference", () => {
  const rand = rng(8);
  for (const [L, S] of LS) for (const kind of ["none", "bool"] as MaskKind[]) {
    const q: Tensor = { data: new Float32Array(L).fill(1e15), shape: [L, 1] };
    const top = Math.ceil(S / 2);
    const k: Tensor = { data: Float32Array.from({ length: S }, (_, j) => (j < top ? 1e15 : -1e15)), shape: [S, 1] };
    const v = tensor(rand, [S, 3]);
    const mask = kind === "bool" ? { data: new Uint8Array(L * S).fill(1), shape: [L, S] } : undefined;
    const { w } = check(q, k, v, { mask }, `L=${L} S=${S} ${kind}`);
    for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
      assert.ok(Math.abs(w[i * S + j] - (j < top ? 1 / top : 0)) <= 1e-6, `L=${L} ${kind}: w[${i}, ${j}] = ${w[i * S + j]}`);
    }
  }
});

test("sdpa: q·k products near 1e30 with finite sums (q, k ≈ 1e15, scale 1e−30) equal the reference: nothing overflows", () => {
  const rand = rng(9);
  for (const [L, S] of LS) for (const kind of ["none", "bool", "additive"] as MaskKind[]) for (const scale of [1e-30, -2e-30]) {
    const E = 16, Ev = 4;
    const q = tensor(rand, [L, E], -1e15, 1e15), k = tensor(rand, [S, E], -1e15, 1e15), v = tensor(rand, [S, Ev]);
    const { out } = check(q, k, v, { mask: maskFor(kind, rand, L, S), scale }, `L=${L} S=${S} ${kind} scale ${scale}`);
    allFiniteExcept(out, Ev, [], `L=${L} ${kind} scale ${scale}`);
  }
});

test("sdpa: scores near ±FLT_MAX (q·k = ±3.2e38, finite) with scale 1e−38: the unmasked path gives the masked path's and the reference's weights ((s − max) must not overflow)", () => {
  for (const [L, S] of LS) {
    const q: Tensor = { data: new Float32Array(L).fill(1.8e19), shape: [L, 1] };
    const k: Tensor = { data: Float32Array.from({ length: S }, (_, j) => (j % 2 ? -1.8e19 : 1.8e19 * (1 - j / (4 * S)))), shape: [S, 1] };
    const v = tensor(rng(10), [S, 2]);
    const ref = refSdpaCall(q, k, v, { scale: 1e-38 });
    const masked = sdpa(q, k, v, { scale: 1e-38, mask: { data: new Uint8Array(S).fill(1), shape: [S] }, returnWeights: true });
    assertRowsClose(masked.weights!.data, ref.w, S, RTOL, `L=${L} S=${S} with a mask: weights`);
    const plain = sdpa(q, k, v, { scale: 1e-38, returnWeights: true });
    assertRowsClose(plain.weights!.data, ref.w, S, RTOL, `L=${L} S=${S} without a mask: weights`);
    assertRowsClose(plain.output.data, ref.out, 2, RTOL, `L=${L} S=${S} without a mask: output`, ref.mag);
  }
});

// ---- softmax and matmul --------------------------------------------------------------------------------------------

test("softmax: +Infinity makes its row NaN; ±1e30, ±1e38 and ±FLT_MAX logits stay finite where the math is (one-hot, uniform, [1, 0]); other rows untouched", () => {
  const rows: number[][] = [
    [1, Infinity, 2, 3, 4, 5, 6, 7, 8],              // NaN row
    [Infinity, Infinity, 0, 0, 0, 0, 0, 0, 0],       // NaN row
    [1e30, 1e30, 1e30, 1e30, 1e30, 1e30, 1e30, 1e30, 1e30],
    [-1e30, -1e30, -1e30, -1e30, -1e30, -1e30, -1e30, -1e30, -1e30],
    [1e30, -1e30, 0, 5, -5, 1e30, 2, 3, -1e30],
    [3e38, -3e38, 1, 2, 3, 4, 5, 6, 7],
    [FLT_MAX, FLT_MAX, -FLT_MAX, 0, 0, 0, 0, 0, 0],
    [-FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX],
    [1e38, 9.9e37, 9.8e37, -Infinity, 1, 2, 3, 4, 5],
  ];
  for (const n of [9, 2]) {
    const x = Float32Array.from(rows.flatMap((r) => r.slice(0, n)));
    const t = { data: x, shape: [rows.length, n] };
    const y = softmax(t).data;
    assertRowsClose(y, refSoftmaxCall(t), n, RTOL, `n = ${n}`);
    assert.equal(nanRows(y, n), [0, 1], `n = ${n}: NaN rows`);
    for (let r = 2; r < rows.length; r++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += y[r * n + j];
      assert.ok(Math.abs(s - 1) < 1e-6, `n = ${n} row ${r} sums to ${s}`);
    }
  }
});

test("matmul: a NaN in A's row i makes C's row i NaN, in B's column j C's column j; Infinity·0 = NaN and ±Infinity propagate as the reference; the rest stays finite", () => {
  const rand = rng(11);
  for (const [M, K, N] of [[1, 1, 1], [3, 5, 4], [7, 17, 9], [13, 300, 11]]) for (const ta of [false, true]) for (const tb of [false, true]) {
    const A = tensor(rand, ta ? [K, M] : [M, K]), B = tensor(rand, tb ? [N, K] : [K, N]);
    const at = (i: number, k: number) => (ta ? k * M + i : i * K + k), bt = (k: number, j: number) => (tb ? j * K + k : k * N + j);
    const i = M - 1, j = 0;
    A.data[at(i, K - 1)] = NaN;
    B.data[bt(0, j)] = NaN;
    const what = `${M}×${K}·${K}×${N} tA=${ta} tB=${tb}`;
    const c = matmul(A, B, { transposeA: ta, transposeB: tb }).data;
    assertClose(c, refMatmulCall(A, B, { transposeA: ta, transposeB: tb }).data, RTOL, `${what}: NaN`);
    for (let r = 0; r < M; r++) for (let col = 0; col < N; col++) {
      assert.is(Number.isNaN(c[r * N + col]), r === i || col === j, `${what}: C[${r}, ${col}] = ${c[r * N + col]}`);
    }
    // ±Infinity: A[0, 0] = +∞; B[0, :] has a 0 (→ NaN) and signs (→ ±∞)
    const A2 = tensor(rand, ta ? [K, M] : [M, K]), B2 = tensor(rand, tb ? [N, K] : [K, N]);
    A2.data[at(0, 0)] = Infinity;
    B2.data[bt(0, 0)] = 0;
    const c2 = matmul(A2, B2, { transposeA: ta, transposeB: tb }).data;
    assertClose(c2, refMatmulCall(A2, B2, { transposeA: ta, transposeB: tb }).data, RTOL, `${what}: ±Infinity`);
    assert.ok(Number.isNaN(c2[0]) && (N === 1 || Math.abs(c2[1]) === Infinity), `${what}: C[0, 0] = ${c2[0]} (∞·0), C[0, 1] = ${c2[1]}`);
  }
});

test("matmul: products of 1e18·1e18 with finite sums equal the reference; sums beyond FLT_MAX overflow to ±Infinity as f32 says", () => {
  const rand = rng(12);
  for (const [M, K, N] of [[2, 8, 3], [6, 65, 9], [5, KC + 1, 8]]) {   // KC + 1: two k-blocks
    const A = tensor(rand, [M, K], -1e18, 1e18), B = tensor(rand, [K, N], -1e18, 1e18);
    assertClose(matmul(A, B).data, refMatmulCall(A, B).data, RTOL, `${M}×${K}·${K}×${N} at 1e36`);
    // all products positive, each 1e38: the sum (K·1e38 ≥ 2e38·…) exceeds FLT_MAX for K ≥ 4
    const P = { data: new Float32Array(M * K).fill(1e19), shape: [M, K] }, Qm = { data: new Float32Array(K * N).fill(1e19), shape: [K, N] };
    const c = matmul(P, Qm).data;
    const want = Math.fround(K * 1e38);
    for (let i = 0; i < c.length; i++) assert.is(c[i], want, `${M}×${K}·${K}×${N}: overflow to ${want}, got ${c[i]}`);
    Qm.data.fill(-1e19);
    assert.ok(matmul(P, Qm).data.every((x) => x === -Infinity), "negative overflow gives −Infinity");
  }
});

// ---- MultiHeadAttention ---------------------------------------------------------------------------------------------

test("MultiHeadAttention: a NaN token poisons the rows that attend to it (causal: it and later rows; else all), the KV cache's later steps only; truncate() before it recovers bit for bit; other caches untouched", () => {
  const mark = heapInUse();
  const m = model({ E: 12, H: 4, Hkv: 2 }, 21);
  try {
    const T = 9, t = 4, E = 12;
    const x = tensor(rng(13), [1, T, E]);
    const bad = { data: x.data.slice(), shape: x.shape };
    bad.data[t * E + 5] = NaN;
    const full = m.mha.forward(bad, undefined, undefined, { causal: true }).output.data;
    assert.equal(nanRows(full, E), Array.from({ length: T - t }, (_, i) => t + i), "causal forward: exactly rows ≥ t NaN (earlier rows never read the NaN token)");
    assert.equal(nanRows(m.mha.forward(bad).output.data, E), Array.from({ length: T }, (_, i) => i), "non-causal forward: every row NaN");
    // token by token, two caches interleaved: `clean` gets x, `dirty` gets bad
    const clean = m.mha.createCache({ maxLength: T }), dirty = m.mha.createCache({ maxLength: T });
    const step = (c: typeof clean, src: Tensor, s: number) => m.mha.forward({ data: src.data.slice(s * E, (s + 1) * E), shape: [1, 1, E] }, undefined, undefined, { cache: c }).output.data;
    const cleanRows: Float32Array[] = [];
    for (let s = 0; s < T; s++) {
      const d = step(dirty, bad, s);
      const c = step(clean, x, s);
      cleanRows.push(c);
      if (s < t) bitsEqual(d, c, `step ${s} before the NaN token`);
      else rowIs(d, E, 0, Number.isNaN, "NaN", `step ${s} at/after the NaN token`);
      allFiniteExcept(c, E, [], `clean cache step ${s}`);
    }
    // drop the NaN token and what followed, then feed the clean tokens: same bits as the clean cache
    dirty.truncate(t);
    for (let s = t; s < T; s++) bitsEqual(step(dirty, x, s), cleanRows[s], `step ${s} after truncate(${t})`);
    const ref = refForward(m, x, undefined, undefined, { causal: true });
    for (let s = 0; s < T; s++) assertRowsClose(cleanRows[s], ref.out.subarray(s * E, (s + 1) * E), E, RTOL, `clean step ${s} vs reference`, ref.mag.subarray(s * E, (s + 1) * E));
  } finally {
    m.mha.dispose();
  }
  assert.is(heapInUse(), mark, "heap back");
});

test("MultiHeadAttention: additive keyPaddingMask/attnMask of −1e30 give the boolean masks' bits; inputs of magnitude 1e15 (scores ≈ 1e30) stay finite and equal the reference", () => {
  const mark = heapInUse();
  const m = model({ E: 12, H: 3 }, 22);
  try {
    const rand = rng(14);
    const B = 2, L = 7, E = 12;
    const x = tensor(rand, [B, L, E]);
    const pad = randBytes(rand, B * L, 0.3);
    pad[0] = 0; pad[L] = 0;   // key 0 never padded
    const a = m.mha.forward(x, undefined, undefined, { keyPaddingMask: { data: pad, shape: [B, L] }, needWeights: true, averageWeights: false });
    const b = m.mha.forward(x, undefined, undefined, { keyPaddingMask: { data: Float32Array.from(pad, (p) => (p ? -1e30 : 0)), shape: [B, L] }, needWeights: true, averageWeights: false });
    bitsEqual(b.output.data, a.output.data, "keyPaddingMask −1e30 vs padding: output");
    bitsEqual(b.weights!.data, a.weights!.data, "keyPaddingMask −1e30 vs padding: weights");
    const keep = randBytes(rand, L * L, 0.6);
    for (let i = 0; i < L; i++) keep[i * L] = 1;
    const c = m.mha.forward(x, undefined, undefined, { attnMask: { data: keep, shape: [L, L] } });
    const d = m.mha.forward(x, undefined, undefined, { attnMask: { data: Float32Array.from(keep, (p) => (p ? 0 : -1e30)), shape: [L, L] } });
    bitsEqual(d.output.data, c.output.data, "attnMask −1e30 vs boolean: output");
    const big = tensor(rand, [B, L, E], -1e15, 1e15);
    for (const o of [{}, { causal: true }, { attnMask: { data: keep, shape: [L, L] } }] as MultiHeadAttentionOptions[]) {
      const r = m.mha.forward(big, undefined, undefined, o).output.data;
      allFiniteExcept(r, E, [], `1e15 inputs ${JSON.stringify(Object.keys(o))}`);
      const ref = refForward(m, big, undefined, undefined, o);
      assertRowsClose(r, ref.out, E, RTOL, `1e15 inputs ${JSON.stringify(Object.keys(o))}`, ref.mag);
    }
  } finally {
    m.mha.dispose();
  }
  assert.is(heapInUse(), mark, "heap back");
});

test.run();
