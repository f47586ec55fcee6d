// Float64 reference implementations, written plainly for reading (as llm.c's *_cpu functions).
// Every kernel and public function is tested against these. Shapes: B batch, H heads, L query length,
// S key length, E (Dk) query/key width, Ev (Dv) value width.

import { type RefRotary, refRotary } from "./reference-rotary.js";

export type Arr = ArrayLike<number>;

/** C[M×N] = op(A)·op(B); A is [M,K] (or [K,M] when ta), B is [K,N] (or [N,K] when tb). */
export function refMatmul(a: Arr, b: Arr, M: number, K: number, N: number, ta = false, tb = false): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
      c[i * N + j] = s;
    }
  }
  return c;
}

/** Softmax of each row of length n; a row of all −Infinity gives zeros. */
export function refSoftmax(x: Arr, n: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, x[r * n + j]);
    if (max === -Infinity) continue;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += (y[r * n + j] = Math.exp(x[r * n + j] - max));
    for (let j = 0; j < n; j++) y[r * n + j] /= sum;
  }
  return y;
}

/** Index of element `idx` of `target` in a tensor of `shape` broadcast to it (numpy rules). */
export function broadcastIndex(idx: number[], shape: readonly number[], target: readonly number[]): number {
  let off = 0, stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const t = target.length - shape.length + i;
    if (shape[i] !== 1) off += idx[t] * stride;
    stride *= shape[i];
  }
  return off;
}

/** A causal mask: true = "bottom-right" (j ≤ i + S − L), "top-left" (j ≤ i); false/undefined: none. */
export type RefCausal = boolean | "top-left" | "bottom-right";

export interface RefMask { data: ArrayLike<number>; shape: readonly number[]; bool: boolean; padding?: boolean }

/**
 * softmax(Q·Kᵀ·scale + masks)·V for q [nb, L, E], k [nb, S, E], v [nb, S, Ev] (batch flattened to nb,
 * `batch` gives its dims for mask broadcasting over [...batch, L, S]). Boolean masks: 1 = may attend
 * (padding: 1 = ignored); additive masks are added. causal: true or "bottom-right" j ≤ i + S − L,
 * "top-left" j ≤ i.
 * softcap c: a scaled score x becomes c·tanh(x/c) (before the bias and the masks). alibiSlopes [nb]
 * (one per flattened slice): the score gets −m·((i + S − L) − j) under a causal mask (the issue's
 * bottom-right-aligned distance, for either alignment: a row constant the softmax ignores), and
 * −m·|(i + S − L) − j| without one, after the soft-cap and before the masks.
 * window [left, right] (−1 or Infinity: unbounded): key j is dropped unless
 * i + S − L − left ≤ j ≤ i + S − L + right.
 * Rows with nothing to attend to are zeros. Returns output [nb, L, Ev] and weights [nb, L, S], and
 * mag [nb, L, Ev] = Σ_j w_ij·|v_j| (or Σ_j w_ij·vMag_j when the values' own magnitudes are given): the
 * size of what each output element is summed from. An output element can be much smaller than that
 * (its terms cancel), but its rounding error, and the error that an error δ relative in the weights
 * brings, are bounded by a few ulps (δ) of mag, not of the output: the scale to compare outputs at.
 */
export function refAttention(
  q: Arr, k: Arr, v: Arr, batch: readonly number[], L: number, S: number, E: number, Ev: number,
  opts: { scale?: number; causal?: RefCausal; masks?: RefMask[]; vMag?: Arr; softcap?: number; alibiSlopes?: Arr; window?: readonly [number, number] } = {},
): { out: Float64Array; w: Float64Array; mag: Float64Array } {
  const nb = batch.reduce((a, b) => a * b, 1);
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  const out = new Float64Array(nb * L * Ev), w = new Float64Array(nb * L * S), mag = new Float64Array(nb * L * Ev);
  const target = [...batch, L, S];
  for (let b = 0; b < nb; b++) {
    const bidx: number[] = [];
    for (let i = batch.length - 1, r = b; i >= 0; i--) { bidx.unshift(r % batch[i]); r = Math.floor(r / batch[i]); }
    for (let i = 0; i < L; i++) {
      const s = new Float64Array(S);
      for (let j = 0; j < S; j++) {
        let d = 0;
        for (let e = 0; e < E; e++) d += q[(b * L + i) * E + e] * k[(b * S + j) * E + e];
        let x = d * scale;
        if (opts.softcap !== undefined) x = opts.softcap * Math.tanh(x / opts.softcap);
        if (opts.alibiSlopes !== undefined) {
          const dist = i + S - L - j;
          x -= opts.alibiSlopes[b] * (opts.causal ? dist : Math.abs(dist));
        }
        for (const m of opts.masks ?? []) {
          const mv = m.data[broadcastIndex([...bidx, i, j], m.shape, target)];
          if (m.bool) { if ((mv !== 0) === !!m.padding) x = -Infinity; } else x += mv;
        }
        if (opts.causal === "top-left" ? j > i : opts.causal && j > i + S - L) x = -Infinity;
        if (opts.window) {
          const [left, right] = opts.window.map((x) => (x === -1 ? Infinity : x));
          if (j < i + S - L - left || j > i + S - L + right) x = -Infinity;
        }
        s[j] = x;
      }
      const p = refSoftmax(s, S);
      for (let j = 0; j < S; j++) {
        w[(b * L + i) * S + j] = p[j];
        for (let e = 0; e < Ev; e++) out[(b * L + i) * Ev + e] += p[j] * v[(b * S + j) * Ev + e];
        if (p[j] !== 0) for (let e = 0; e < Ev; e++) mag[(b * L + i) * Ev + e] += p[j] * Math.abs((opts.vMag ?? v)[(b * S + j) * Ev + e]);
      }
    }
  }
  return { out, w, mag };
}

/** y[n, o] = Σ_i x[n, i]·W[o, i] + b[o]: a PyTorch Linear on rows of x [n, in]. */
export function refLinear(x: Arr, n: number, inp: number, W: Arr, out: number, b?: Arr): Float64Array {
  const y = new Float64Array(n * out);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inp; i++) s += x[r * inp + i] * W[o * inp + i];
      y[r * out + o] = s;
    }
  }
  return y;
}

export interface RefMhaWeights { Wq: Arr; Wk: Arr; Wv: Arr; Wo: Arr; bq?: Arr; bk?: Arr; bv?: Arr; bo?: Arr }

const abs = (x: Arr | undefined): Float64Array | undefined => (x ? Float64Array.from(x as ArrayLike<number>, Math.abs) : undefined);

/**
 * The whole multi-head attention layer (PyTorch nn.MultiheadAttention, batch_first, plus grouped K/V
 * heads): xq [B, L, E], xk [B, S, kdim], xv [B, S, vdim] → out [B, L, E], per-head weights [B, H, L, S],
 * and mag [B, L, E]: the size each output is summed from along the value path (the V projection, the
 * weighted sum and the output projection done on absolute values, with the exact weights), the scale
 * its error is bounded by (see refAttention).
 * Masks broadcast over [B, H, L, S]; key padding [B, S] (1 = ignored) is given as a RefMask with
 * shape [B, 1, 1, S] and padding: true. softcap and alibiSlopes [H] (one per query head) as refAttention's.
 * rotary: RoPE (test/reference-rotary.ts) on each query head (row i at qPos(i)) and key head (row j at
 * kPos(j)) after the projections.
 */
export function refMha(
  xq: Arr, xk: Arr, xv: Arr, B: number, L: number, S: number, E: number, H: number, Hkv: number, kdim: number, vdim: number,
  w: RefMhaWeights,
  opts: { causal?: RefCausal; masks?: RefMask[]; softcap?: number; alibiSlopes?: Arr; rotary?: RefRotary & { qPos: (i: number) => number; kPos: (j: number) => number } } = {},
): { out: Float64Array; w: Float64Array; mag: Float64Array } {
  const Dh = E / H, Ekv = Hkv * Dh;
  let q = refLinear(xq, B * L, E, w.Wq, E, w.bq);
  let k = refLinear(xk, B * S, kdim, w.Wk, Ekv, w.bk);
  const ro = opts.rotary;
  if (ro) {
    q = refRotary(q, B * L, H, Dh, (r) => ro.qPos(r % L), ro).y;
    k = refRotary(k, B * S, Hkv, Dh, (r) => ro.kPos(r % S), ro).y;
  }
  const v = refLinear(xv, B * S, vdim, w.Wv, Ekv, w.bv);
  const vm = refLinear(abs(xv)!, B * S, vdim, abs(w.Wv)!, Ekv, abs(w.bv));
  // Split heads into [B, H, L, Dh] / [B, H, S, Dh] (K/V head ⌊h / (H/Hkv)⌋ repeated).
  const qh = new Float64Array(B * H * L * Dh), kh = new Float64Array(B * H * S * Dh), vh = new Float64Array(B * H * S * Dh);
  const vmh = new Float64Array(B * H * S * Dh);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / Hkv));
      for (let i = 0; i < L; i++) for (let d = 0; d < Dh; d++) qh[((b * H + h) * L + i) * Dh + d] = q[(b * L + i) * E + h * Dh + d];
      for (let j = 0; j < S; j++) {
        for (let d = 0; d < Dh; d++) {
          kh[((b * H + h) * S + j) * Dh + d] = k[(b * S + j) * Ekv + g * Dh + d];
          vh[((b * H + h) * S + j) * Dh + d] = v[(b * S + j) * Ekv + g * Dh + d];
          vmh[((b * H + h) * S + j) * Dh + d] = vm[(b * S + j) * Ekv + g * Dh + d];
        }
      }
    }
  }
  const slopes = opts.alibiSlopes;
  const a = refAttention(qh, kh, vh, [B, H], L, S, Dh, Dh, {
    causal: opts.causal, masks: opts.masks, vMag: vmh, softcap: opts.softcap,
    alibiSlopes: slopes && Float64Array.from({ length: B * H }, (_, bh) => slopes[bh % H]),
  });
  // Merge heads back to [B, L, E], then the output projection.
  const ctx = new Float64Array(B * L * E), ctxm = new Float64Array(B * L * E);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < L; i++) for (let d = 0; d < Dh; d++) {
    ctx[(b * L + i) * E + h * Dh + d] = a.out[((b * H + h) * L + i) * Dh + d];
    ctxm[(b * L + i) * E + h * Dh + d] = a.mag[((b * H + h) * L + i) * Dh + d];
  }
  return { out: refLinear(ctx, B * L, E, w.Wo, E, w.bo), w: a.w, mag: refLinear(ctxm, B * L, E, abs(w.Wo)!, E, abs(w.bo)) };
}

/**
 * MultiHeadAttention.forward's masks as refMha takes them: key padding [B, S] → [B, 1, 1, S] (boolean:
 * 1 = ignored, or additive); attnMask as given (it broadcasts right-aligned, so an unbatched
 * [H, L, S]-broadcastable mask works against [1, H, L, S]).
 */
export function refMasks(
  o: { keyPaddingMask?: { data: Uint8Array | Float32Array; shape: readonly number[] }; attnMask?: { data: Uint8Array | Float32Array; shape: readonly number[] } },
  B: number, S: number,
): RefMask[] {
  const ms: RefMask[] = [];
  if (o.keyPaddingMask) {
    const bool = o.keyPaddingMask.data instanceof Uint8Array;
    ms.push({ data: o.keyPaddingMask.data, shape: [B, 1, 1, S], bool, padding: bool });
  }
  if (o.attnMask) ms.push({ data: o.attnMask.data, shape: o.attnMask.shape, bool: o.attnMask.data instanceof Uint8Array });
  return ms;
}
