// scaledDotProductAttention: softmax(cap(Q·Kᵀ·scale) + ALiBi bias + mask)·V over any leading (batch) axes.
//   query [...batch, L, E], key [...batch, S, E], value [...batch, S, Ev] → output [...batch, L, Ev],
//   weights [...batch, L, S] when returnWeights.
import { checkFits, put, withFrame } from "./call.js";
import { type MaskPlan, causalKind, masksBytes, planMask, writeMasks } from "./masks.js";
import { type Head, attention, attentionBytes } from "./parallel.js";
import { checkSlopes, checkSoftcap } from "./score-options.js";
import { projectKeys } from "./linformer.js";
import { type BlockSparse, checkBlockSparse } from "./sparse-layout.js";
import { type AttentionWindow, checkWindow, kernelWindow } from "./window.js";
import {
  type Causal, type Mask, type Tensor, checkBool, checkCausal, checkFinite, checkMask, checkOptions, checkOut, checkTensor, fmtShape, product, rangeError, typeError,
} from "./validate.js";
import { runtime } from "./wasm.js";

export interface SdpaOptions {
  /**
   * Broadcastable (numpy rules) to [...batch, L, S]. Uint8Array data is boolean: 1 = may attend,
   * 0 = masked out. Float32Array data is added to the scaled scores (−Infinity masks out).
   */
  mask?: Mask;
  /**
   * Mask the future. "bottom-right" (or true; FlashAttention's, and ONNX Attention's with a KV cache):
   * query i sees key j iff j ≤ i + (S − L). "top-left" (PyTorch's `is_causal`, ONNX's without a
   * cache): j ≤ i. The two agree when L = S. A row that sees no key gives zeros. Default false.
   */
  causal?: Causal;
  /** Multiplies Q·Kᵀ; default 1/√E. */
  scale?: number;
  /**
   * Logit soft-capping (Gemma 2 uses 50): each scaled score s becomes softcap·tanh(s/softcap), before
   * the ALiBi bias and the masks. A finite number > 0; default none.
   */
  softcap?: number;
  /**
   * ALiBi: the score of query i and key j gets −m·|p_i − j| added (after soft-capping, before the
   * masks), m the slope of the (batch) slice, p_i = i + S − L the query's position (bottom-right
   * aligned, as a KV cache places it), or p_i = i with causal "top-left". Under a causal mask this is
   * the paper's −m·(p_i − j); without one the symmetric distance (MPT's non-causal ALiBi). One slope per
   * slice of the leading dims: length 1 (every slice), the last leading dim (H of [B, H, L, E], the
   * same for every B), or their product (each slice, row-major).
   */
  alibiSlopes?: Float32Array;
  /**
   * Sliding window [left, right] (FlashAttention's window_size): query i may see key j iff
   * i + (S − L) − left ≤ j ≤ i + (S − L) + right, aligned bottom-right as the causal mask; −1 or
   * Infinity leaves that side unbounded. It combines with every other mask (`causal: true,
   * window: [w, -1]` is Mistral's sliding window). Only the key tiles a window reaches are computed:
   * time ∝ L·(left + right + 1). Default: none.
   */
  window?: AttentionWindow;
  /**
   * Block-sparse attention: { blockSize: b, layout: { data: Uint8Array, shape: [..., ⌈L/b⌉, ⌈S/b⌉] } }
   * (leading dims broadcast over the batch); 1 = compute the b×b block, 0 = skip it entirely (its keys
   * are not visited). Combines with every mask inside the kept blocks. sparseLayout() builds the common
   * layouts. Default none.
   */
  blockSparse?: BlockSparse;
  /**
   * Linformer: E [k, S]. Attention runs over E·K ([...batch, k, E]) instead of K: O(L·k) scores
   * instead of O(L·S); weights are then [...batch, L, k]. Not with mask, causal, window, blockSparse
   * or alibiSlopes (they address single keys; a TypeError). Default none.
   */
  keyProjection?: Tensor;
  /** Linformer: F [k, S], for the values (F·V); default keyProjection (shared). Needs keyProjection. */
  valueProjection?: Tensor;
  /** Also return the attention weights [...batch, L, S]. */
  returnWeights?: boolean;
  /** Write the output into this Float32Array (the output's element count) instead of a new one; it may be an input's data. */
  out?: Float32Array;
}

export interface SdpaResult {
  output: Tensor;
  weights?: Tensor;
}

const KEYS = ["mask", "causal", "scale", "returnWeights", "out", "softcap", "alibiSlopes", "window", "blockSparse", "keyProjection", "valueProjection"] as const;

/**
 * Scaled dot-product attention, f32: softmax(Q·Kᵀ·scale + mask)·V, optionally soft-capped and with ALiBi biases.
 * Masks combine (a score is kept only if every mask keeps it); a query row with nothing to attend to
 * gives zeros in output and weights.
 * @throws {TypeError} a non-tensor or non-Float32Array data or out, a mask of other data types, a non-boolean flag, a causal other than a boolean, "top-left" or "bottom-right", a non-number scale or softcap, non-Float32Array alibiSlopes, a window not an array of numbers, a blockSparse not { blockSize, layout } with Uint8Array layout data, a projection with mask, causal, window, blockSparse or alibiSlopes, valueProjection without keyProjection, an unknown option
 * @throws {RangeError} data length ≠ shape product, out of another length, rank < 2, E/S/batch mismatch between query, key and value, a mask that does not broadcast, a non-finite scale, a softcap ≤ 0 or non-finite, alibiSlopes of another length or with a non-finite slope, a window not of length 2 or with a side other than an integer ≥ 0, −1 or Infinity, a blockSize < 1 or fractional, a layout whose shape is not [..., ⌈L/b⌉, ⌈S/b⌉] broadcastable to the batch, a projection not [k, S] or the two of different k, too large for WASM memory
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, options?: SdpaOptions): SdpaResult {
  const fn = "scaledDotProductAttention";
  const o = checkOptions<SdpaOptions>(fn, options, KEYS);
  if (o.keyProjection !== undefined || o.valueProjection !== undefined) {
    // Linformer: the same attention over the projected keys and values
    const p = projectKeys(fn, query, key, value, o as Record<string, unknown>);
    const { keyProjection: _k, valueProjection: _v, ...rest } = o;
    return scaledDotProductAttention(query, p.key, p.value, rest);
  }
  const Q = checkTensor(fn, "query", query, 2, "[...batch, L, E]");
  const K = checkTensor(fn, "key", key, 2, "[...batch, S, E]");
  const V = checkTensor(fn, "value", value, 2, "[...batch, S, Ev]");
  const r = Q.shape.length;
  const batch = Q.shape.slice(0, -2);
  const L = Q.shape[r - 2], E = Q.shape[r - 1];
  for (const [name, t] of [["key", K], ["value", V]] as const) {
    if (t.shape.length !== r || t.shape.slice(0, -2).some((d, i) => d !== batch[i])) {
      throw rangeError(fn, `${name}.shape`, `have the same leading (batch) dims as query ${fmtShape(batch)}`, fmtShape(t.shape));
    }
  }
  const S = K.shape[r - 2];
  if (K.shape[r - 1] !== E) throw rangeError(fn, `key.shape[${r - 1}]`, `equal E = ${E} (query.shape ${fmtShape(Q.shape)})`, K.shape[r - 1]);
  if (V.shape[r - 2] !== S) throw rangeError(fn, `value.shape[${r - 2}]`, `equal S = ${S} (key.shape ${fmtShape(K.shape)})`, V.shape[r - 2]);
  const Ev = V.shape[r - 1];
  const target = [...batch, L, S];
  const mask = o.mask === undefined ? undefined : checkMask(fn, "options.mask", o.mask, target, "[...batch, L, S]");
  const causal = causalKind(checkCausal(fn, "options.causal", o.causal, false));
  const returnWeights = checkBool(fn, "options.returnWeights", o.returnWeights, false);
  if (o.scale !== undefined && typeof o.scale !== "number") throw typeError(fn, "options.scale", "a number", o.scale);
  const scale = checkFinite(fn, "options.scale", o.scale, E > 0 ? 1 / Math.sqrt(E) : 1);
  const softcap = checkSoftcap(fn, "options.softcap", o.softcap, scale);
  const win = kernelWindow(checkWindow(fn, "options.window", o.window), L, S);
  const sparse = checkBlockSparse(fn, "options.blockSparse", o.blockSparse, batch, L, S);
  const nb = product(batch);
  const H = batch.length > 0 ? batch[batch.length - 1] : 1;
  const slopes = o.alibiSlopes === undefined ? null : checkSlopes(fn, "options.alibiSlopes", o.alibiSlopes, [1, H, nb],
    batch.length === 0 ? "be 1 (no leading dims: one slice)"
      : `be 1, the last leading dim ${H} or the number of slices ${batch.length > 1 ? `${batch.join("·")} = ` : ""}${nb} (one slope per slice of ${fmtShape(batch)})`);
  const slopeOf = (i: number): number => (slopes === null ? 0 : slopes.length === nb ? slopes[i] : slopes.length === 1 ? slopes[0] : slopes[i % H]);

  const outLen = nb * L * Ev, wLen = returnWeights ? nb * L * S : 0;
  const output = checkOut(fn, "options.out", o.out, outLen, [...batch, L, Ev]);
  // Nothing to compute: empty output, or no keys (every row fully masked: zeros).
  const work = nb * L > 0 && S > 0 && (outLen > 0 || wLen > 0);
  const rt = work ? runtime(fn) : null;
  const plans: MaskPlan[] = mask ? [planMask(mask, target)] : [];
  if (sparse) plans.push(sparse.plan);
  const sparseBlock = sparse ? sparse.blockSize : 0;
  const Eq = Math.max(E, 1);   // E = 0: scores are all 0; run with E = 1 over zeros
  const scratch = rt ? attentionBytes(rt, nb, nb, L, S, Eq, Ev, sparseBlock) : 0;
  // Refuse what cannot fit before allocating anything, here or in WASM memory.
  checkFits(fn, (Q.data.length + K.data.length + V.data.length + outLen + wLen + (E === 0 ? L + S : 0)) * 4
    + scratch + masksBytes(plans, nb) + 1024, "query, key, value, the result and scratch");
  const weights = returnWeights ? new Float32Array(wLen) : null;
  const result = (): SdpaResult => ({
    output: { data: output, shape: [...batch, L, Ev] },
    ...(weights ? { weights: { data: weights, shape: target } } : {}),
  });
  if (!rt) {
    if (o.out !== undefined) output.fill(0);   // no keys: zeros
    return result();
  }
  return withFrame(rt, fn, (f) => {
    const pq = E > 0 ? put(rt, f, Q.data) : f.alloc(L * 4);
    const pk = E > 0 ? put(rt, f, K.data) : f.alloc(S * 4);
    if (E === 0) { rt.heap.f32(pq, L).fill(0); rt.heap.f32(pk, S).fill(0); }
    const pv = put(rt, f, V.data);
    const po = f.alloc(Math.max(output.length, 1) * 4);
    const pw = weights ? f.alloc(weights.length * 4) : 0;
    const pm = writeMasks(rt, f, plans, batch);
    const nm = plans.length;
    const heads: Head[] = [];
    for (let i = 0; i < nb; i++) {
      heads.push({
        o: po + i * L * Ev * 4, ldo: Ev, w: pw === 0 ? 0 : pw + i * L * S * 4, ldw: S,
        q: E > 0 ? pq + i * L * E * 4 : pq, ldq: Eq === E ? E : 0,
        k: E > 0 ? pk + i * S * E * 4 : pk, ldk: Eq === E ? E : 0,
        v: pv + i * S * Ev * 4, ldv: Ev,
        masks: pm === 0 ? 0 : pm + i * nm * 16, nmasks: nm, slope: slopeOf(i), kv: i,
      });
    }
    attention(rt, f, heads, L, S, Eq, Ev, scale, causal, softcap, win, sparseBlock);
    if (output.length) output.set(rt.heap.f32(po, output.length));
    if (weights) weights.set(rt.heap.f32(pw, weights.length));
    return result();
  });
}
