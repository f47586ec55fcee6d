// The bench's referee: float64 references of every benched operation, built on the plain loops of
// test/reference.ts (the tests' reference; one copy, imported, not duplicated). Every implementation,
// ours included, is checked against these before it is timed (harness.ts, step 2).
//
// An output is seen as [rows, cols] row-major (cols = its last axis: N of a matmul, the softmax axis,
// D of SDPA, E of MHA). A reference gives the float64 values of the rows it checked: all rows, or for
// the largest cases a fixed sample (sampleRows), so that a full run's referee stays within seconds
// (a whole float64 SDPA at L = S = 16384 would take minutes and 2 GiB for its weights).
//
// Shapes: B batch, H heads, L query length, S key length, D head width, E model width, P cached tokens.
import { type RefMask, refAttention, refLinear, refMatmul, refMha, refSoftmax } from "../test/reference.js";
import { type RefActivation, refLayerNorm, refLinearAct } from "../test/reference-layers.js";
import type { MhaWeights, Tensor } from "./peers/types.js";

export interface Reference {
  /** Width of an output row: the output is [rows, cols] row-major. */
  cols: number;
  /** Rows of the whole output. */
  rows: number;
  /** The rows checked, ascending. */
  checked: number[];
  /** Float64 values of the checked rows, checked.length × cols. */
  values: Float64Array;
}

/** Rows checked per query sequence when there are more (see sampleRows). */
export const MAX_CHECKED_ROWS = 256;

/**
 * Rows to check out of n: all when n ≤ max. Otherwise the first and the last 41 (one more than the
 * GEMM's and attention's row block BM = MR·8 = 40, so a whole block and the start of the next are
 * checked at both ends, where causal rows see the fewest and the most keys) and, between them, rows
 * at an odd stride (so their residues modulo the block sizes vary), about max in all.
 */
export function sampleRows(n: number, max = MAX_CHECKED_ROWS): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const edge = 41;
  const rows = new Set<number>();
  for (let i = 0; i < edge; i++) { rows.add(i); rows.add(n - 1 - i); }
  let stride = Math.max(1, Math.floor((n - 2 * edge) / (max - 2 * edge)));
  if (stride % 2 === 0) stride++;
  for (let i = edge + 1; i < n - edge; i += stride) rows.add(i);
  return [...rows].sort((a, b) => a - b);
}

const f32 = (a: ArrayLike<number>, from: number, n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => a[from + i]!);

/** Rows `rows` of a [.., n, cols] array, concatenated. */
function pick(a: ArrayLike<number>, rows: number[], cols: number, base = 0): Float32Array {
  const out = new Float32Array(rows.length * cols);
  rows.forEach((r, i) => { for (let c = 0; c < cols; c++) out[i * cols + c] = a[base + r * cols + c]!; });
  return out;
}

/** C = A·B for a [M, K], b [K, N]: the rows `sampleRows(M)`. */
export function referenceMatmul(a: Tensor, b: Tensor): Reference {
  const [M, K] = a.shape as [number, number], N = b.shape[1]!;
  const checked = sampleRows(M);
  return { cols: N, rows: M, checked, values: refMatmul(pick(a.data, checked, K), b.data, checked.length, K, N) };
}

/** Softmax over the last axis of x [R, C]: the rows `sampleRows(R)`. */
export function referenceSoftmax(x: Tensor): Reference {
  const C = x.shape[x.shape.length - 1]!, R = x.data.length / C;
  const checked = sampleRows(R);
  return { cols: C, rows: R, checked, values: refSoftmax(pick(x.data, checked, C), C) };
}

/** act(x·Wᵀ + b) for x [M, K], weight [N, K] (nn.Linear's layout), bias [N] or null: the rows `sampleRows(M)`. */
export function referenceLinear(x: Tensor, w: Tensor, b: Tensor | null, act: RefActivation): Reference {
  const [M, K] = x.shape as [number, number], N = w.shape[0]!;
  const checked = sampleRows(M);
  return { cols: N, rows: M, checked, values: refLinearAct(pick(x.data, checked, K), w.data, b?.data ?? null, checked.length, K, N, act).y };
}

/** LayerNorm over the last axis of x [R, E] with weight and bias [E]: the rows `sampleRows(R)`. */
export function referenceLayerNorm(x: Tensor, w: Tensor, b: Tensor, eps: number): Reference {
  const E = x.shape[x.shape.length - 1]!, R = x.data.length / E;
  const checked = sampleRows(R);
  return { cols: E, rows: R, checked, values: refLayerNorm(pick(x.data, checked, E), w.data, b.data, E, eps).y };
}

/**
 * softmax(q·kᵀ/√D [causal, bottom-right: key j visible to query i iff j ≤ i + S − L])·v for
 * q [B, H, L, D], k/v [B, H, S, D]: output rows (b·H + h)·L + i for i in sampleRows(L), every head.
 * softcap: scores s → softcap·tanh(s/softcap); slopes [H]: head h's ALiBi bias −m_h·|i + S − L − j|
 * (as an additive mask over the checked rows, after the soft-cap). window [left, right] (−1: unbounded):
 * key j visible to query i only if i + S − L − left ≤ j ≤ i + S − L + right. visible(i, j): any other pattern
 * (a block-sparse layout), false = dropped.
 */
export function referenceSdpa(q: Tensor, k: Tensor, v: Tensor, { causal, softcap, slopes, window, visible }: { causal: boolean; softcap?: number; slopes?: Float32Array; window?: readonly [number, number]; visible?: (i: number, j: number) => boolean }): Reference {
  const [B, H, L, D] = q.shape as [number, number, number, number], S = k.shape[2]!;
  const qRows = sampleRows(L);
  const n = qRows.length;
  // Causal as a boolean mask over the checked rows only (refAttention's own causal assumes all L rows).
  const masks: RefMask[] = [];
  if (causal) {
    const m = new Uint8Array(n * S);
    qRows.forEach((i, r) => { for (let j = 0; j <= Math.min(S - 1, i + S - L); j++) m[r * S + j] = 1; });
    masks.push({ data: m, shape: [n, S], bool: true });
  }
  if (window) {
    const [l, r] = window.map((x) => (x < 0 ? Infinity : x));
    const m = new Uint8Array(n * S);
    qRows.forEach((i, row) => { for (let j = Math.max(0, i + S - L - l); j <= Math.min(S - 1, i + S - L + r); j++) m[row * S + j] = 1; });
    masks.push({ data: m, shape: [n, S], bool: true });
  }
  if (visible) {
    const m = new Uint8Array(n * S);
    qRows.forEach((i, row) => { for (let j = 0; j < S; j++) m[row * S + j] = visible(i, j) ? 1 : 0; });
    masks.push({ data: m, shape: [n, S], bool: true });
  }
  const checked: number[] = [], values = new Float64Array(B * H * n * D);
  for (let bh = 0; bh < B * H; bh++) {
    const bias: RefMask[] = [];
    if (slopes) {
      const m = slopes[bh % H]!, a = new Float64Array(n * S);
      qRows.forEach((i, r) => { for (let j = 0; j < S; j++) a[r * S + j] = -m * Math.abs(i + S - L - j); });
      bias.push({ data: a, shape: [n, S], bool: false });
    }
    const o = refAttention(pick(q.data, qRows, D, bh * L * D), f32(k.data, bh * S * D, S * D), f32(v.data, bh * S * D, S * D),
      [1], n, S, D, D, { masks: [...bias, ...masks], softcap }).out;
    values.set(o, bh * n * D);
    for (const i of qRows) checked.push(bh * L + i);
  }
  return { cols: D, rows: B * H * L, checked, values };
}

/** PyTorch-layout weights as refMha takes them (inProjWeight [3E, E] split into Wq, Wk, Wv). */
function refWeights(w: MhaWeights, E: number) {
  const W = w.inProjWeight, b = w.inProjBias;
  return {
    Wq: W.subarray(0, E * E), Wk: W.subarray(E * E, 2 * E * E), Wv: W.subarray(2 * E * E, 3 * E * E), Wo: w.outProjWeight,
    bq: b.subarray(0, E), bk: b.subarray(E, 2 * E), bv: b.subarray(2 * E, 3 * E), bo: w.outProjBias,
  };
}

/**
 * Self-attention layer (torch.nn.MultiheadAttention, batch_first) on x [B, L, E], causal optional:
 * output rows b·L + i. All rows while L ≤ MAX_CHECKED_ROWS; beyond that (B = 1, no mask) the rows
 * sampleRows(L), computed as cross-attention of those rows against the whole sequence: the same numbers.
 */
export function referenceMha(x: Tensor, w: MhaWeights, numHeads: number, { causal = false }: { causal?: boolean } = {}): Reference {
  const [B, L, E] = x.shape as [number, number, number];
  const checked = sampleRows(L), rw = refWeights(w, E);
  if (checked.length === L) {
    const out = refMha(x.data, x.data, x.data, B, L, L, E, numHeads, numHeads, E, E, rw, { causal }).out;
    return { cols: E, rows: B * L, checked: Array.from({ length: B * L }, (_, i) => i), values: out };
  }
  if (B !== 1 || causal) throw new RangeError(`referenceMha: sampled rows (L = ${L}) need B = 1 and no mask; got B = ${B}${causal ? ', causal' : ''}`);
  const out = refMha(pick(x.data, checked, E), x.data, x.data, 1, checked.length, L, E, numHeads, numHeads, E, E, rw).out;
  return { cols: E, rows: L, checked, values: out };
}

/**
 * One decode step: x [B, 1, E] is the new token, pastKey/pastValue [B, H, P, Dh] the projected keys
 * and values of P earlier tokens. The token attends over the P past keys and its own (P + 1 in all).
 */
export function referenceDecode(x: Tensor, pastKey: Tensor, pastValue: Tensor, w: MhaWeights, numHeads: number): Reference {
  const [B, , E] = x.shape as [number, number, number], H = numHeads, Dh = E / H, P = pastKey.shape[2]!, S = P + 1;
  const rw = refWeights(w, E);
  const q = refLinear(x.data, B, E, rw.Wq, E, rw.bq), k = refLinear(x.data, B, E, rw.Wk, E, rw.bk), v = refLinear(x.data, B, E, rw.Wv, E, rw.bv);
  const ctx = new Float64Array(B * E);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const past = (b * H + h) * P * Dh, at = b * E + h * Dh;
      const K = new Float64Array(S * Dh), V = new Float64Array(S * Dh);
      for (let t = 0; t < P * Dh; t++) { K[t] = pastKey.data[past + t]!; V[t] = pastValue.data[past + t]!; }
      for (let d = 0; d < Dh; d++) { K[P * Dh + d] = k[at + d]!; V[P * Dh + d] = v[at + d]!; }
      ctx.set(refAttention(q.subarray(at, at + Dh), K, V, [1], 1, S, Dh, Dh).out, at);
    }
  }
  return { cols: E, rows: B, checked: Array.from({ length: B }, (_, i) => i), values: refLinear(ctx, B, E, rw.Wo, E, rw.bo) };
}
