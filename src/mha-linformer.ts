// MultiHeadAttention's Linformer form (config projectedLength: k, maxLength: n, shareKV): after the key
// and value projections K, V [B, S, Ekv] (S ≤ n), attention runs over
//   K' = E[:, :S]·K   V' = F[:, :S]·V   [B, k, Ekv]   (per batch item; F = E with shareKV)
// so the scores are L × k. E, F [k, n] are resident weights (row-major, not packed: they are the GEMM's
// A operand, read through their first S columns; K and V are packed per call as its B).
// The common PyTorch implementation (lucidrains/linformer, LinformerSelfAttention) keeps them as
// parameters `proj_k`, `proj_v` of shape [seq_len, k] — the transpose of E, F — initialised uniform
// ±1/√k, and uses their first S rows for an input of S ≤ seq_len tokens; so do we (state_dict keys
// `proj_k` / `proj_v` after the prefix, shape [maxLength, k]; loadWeights takes E, F as [k, maxLength]).
// Masks over the S keys (padding, attnMask, causal, a window, blockSparse), ALiBi, RoPE and a KV cache
// do not commute with the projection: refused with a TypeError.
import type { Frame } from "./memory.js";
import { type Gemm, gemms, packB, threadsFor } from "./parallel.js";
import { type Tensor, checkBool, checkInt, fmtLength, rangeError, typeError } from "./validate.js";
import type { Runtime } from "./wasm.js";

/** A Linformer layer's projection sizes. */
export interface LinformerSpec {
  /** k: projected keys. */
  readonly k: number;
  /** n: the longest key sequence (columns of E and F). */
  readonly maxLength: number;
  /** F = E. */
  readonly shareKV: boolean;
}

/** The config keys of the Linformer form. */
export const LINFORMER_CONFIG_KEYS = ["projectedLength", "maxLength", "shareKV"] as const;

/**
 * Checks the Linformer part of a MultiHeadAttention config; null without projectedLength.
 * @throws {TypeError} maxLength or shareKV without projectedLength, projectedLength without maxLength, non-number sizes, a non-boolean shareKV, with alibi, alibiSlopes, rotary or window
 * @throws {RangeError} sizes < 1 or fractional
 */
export function checkLinformerConfig(fn: string, c: Record<string, unknown>): LinformerSpec | null {
  if (c.projectedLength === undefined) {
    for (const n of ["maxLength", "shareKV"]) {
      if (c[n] !== undefined) throw new TypeError(`${fn}: config.${n} is for Linformer attention: give config.projectedLength (k) too`);
    }
    return null;
  }
  const k = checkInt(fn, "config.projectedLength", c.projectedLength, 1);
  if (c.maxLength === undefined) throw typeError(fn, "config.maxLength", "a number (Linformer's sequence length, the columns of the projections) with projectedLength", undefined);
  const maxLength = checkInt(fn, "config.maxLength", c.maxLength, 1);
  const shareKV = checkBool(fn, "config.shareKV", c.shareKV, false);
  for (const n of ["alibi", "alibiSlopes", "rotary", "window"]) {
    if (c[n] !== undefined && c[n] !== false) {
      throw new TypeError(`${fn}: config.${n} cannot be combined with config.projectedLength: it addresses the keys by position, and Linformer's projection mixes them`);
    }
  }
  return { k, maxLength, shareKV };
}

/**
 * Refuses the forward options that address single keys, and inputs longer than maxLength.
 * @throws {TypeError} keyPaddingMask, attnMask, causal, cache, a bounded window or blockSparse given
 * @throws {RangeError} S > maxLength
 */
export function checkLinformerForward(fn: string, spec: LinformerSpec, S: number, o: Record<string, unknown>, window: readonly [number, number] | null): void {
  for (const n of ["keyPaddingMask", "attnMask", "causal", "cache", "blockSparse"]) {
    if (o[n] !== undefined && o[n] !== false) {
      throw new TypeError(`${fn}: options.${n} cannot be combined with Linformer attention (config.projectedLength): it addresses the ${S} keys one by one, and the projection mixes them into k = ${spec.k}`);
    }
  }
  if (window !== null && (window[0] !== Infinity || window[1] !== Infinity)) {
    throw new TypeError(`${fn}: options.window cannot be combined with Linformer attention (config.projectedLength): it addresses the keys by position, and the projection mixes them`);
  }
  if (S > spec.maxLength) throw rangeError(fn, "key length S", `be ≤ config.maxLength = ${spec.maxLength} (the projections' columns)`, S);
}

/** Floats of the resident projections (E, and F unless shared). */
export function projectionFloats(spec: LinformerSpec | null): number {
  return spec ? (spec.shareKV ? 1 : 2) * spec.k * spec.maxLength : 0;
}

/** The initial E and F [k, maxLength] (F null when shared): uniform ±1/√k, as lucidrains/linformer's init_. */
export function initialProjections(spec: LinformerSpec, rand: () => number): { e: Float32Array; f: Float32Array | null } {
  const n = spec.k * spec.maxLength, bound = 1 / Math.sqrt(spec.k);
  const draw = (): Float32Array => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = (2 * rand() - 1) * bound;
    return x;
  };
  const e = draw();
  return { e, f: spec.shareKV ? null : draw() };
}

/**
 * Checks loadWeights' keyProjection / valueProjection [k, maxLength] for `spec` (both absent without it).
 * @throws {TypeError} a missing or non-Float32Array projection, one given without projectedLength, valueProjection with shareKV
 * @throws {RangeError} a projection of the wrong length
 */
export function checkProjectionWeights(fn: string, spec: LinformerSpec | null, w: { keyProjection?: unknown; valueProjection?: unknown }):
  { e: Float32Array | null; f: Float32Array | null } {
  if (!spec) {
    for (const n of ["keyProjection", "valueProjection"] as const) {
      if (w[n] !== undefined) throw new TypeError(`${fn}: weights.${n} given but this MultiHeadAttention has no config.projectedLength (Linformer)`);
    }
    return { e: null, f: null };
  }
  const { k, maxLength: n } = spec;
  const need = (name: "keyProjection" | "valueProjection"): Float32Array => {
    const a = w[name];
    if (a === undefined) throw new TypeError(`${fn}: weights.${name} ([k, maxLength]: ${fmtLength("k·maxLength", `${k}·${n}`, k * n)} floats) is missing`);
    if (!(a instanceof Float32Array)) throw typeError(fn, `weights.${name}`, "a Float32Array", a);
    if (a.length !== k * n) throw rangeError(fn, `weights.${name}`, `have length ${fmtLength("k·maxLength", `${k}·${n}`, k * n)}`, a.length);
    return a;
  };
  if (spec.shareKV && w.valueProjection !== undefined) throw new TypeError(`${fn}: weights.valueProjection given but this MultiHeadAttention has shareKV: true (keyProjection serves both)`);
  return { e: need("keyProjection"), f: spec.shareKV ? null : need("valueProjection") };
}

/** [rows, cols] → [cols, rows] */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/** The state_dict keys of the projections (after a prefix): lucidrains/linformer's, [maxLength, k]. */
export const PROJECTION_KEYS = ["proj_k", "proj_v"] as const;

/** loadWeights' keyProjection / valueProjection from a state_dict's `proj_k` / `proj_v` [maxLength, k] (transposed). */
export function projectionsFromStateDict(spec: LinformerSpec, get: (name: string, shape: number[]) => Float32Array):
  { keyProjection: Float32Array; valueProjection?: Float32Array } {
  const { k, maxLength: n } = spec;
  const keyProjection = transpose(get("proj_k", [n, k]), n, k);
  return spec.shareKV ? { keyProjection } : { keyProjection, valueProjection: transpose(get("proj_v", [n, k]), n, k) };
}

/** The resident E (and F) at e, f as state_dict tensors `proj_k` (`proj_v`) [maxLength, k]. */
export function projectionsStateDict(rt: Runtime, spec: LinformerSpec, e: number, f: number, prefix: string): Record<string, Tensor> {
  const { k, maxLength: n } = spec;
  const out: Record<string, Tensor> = { [prefix + "proj_k"]: { data: transpose(rt.heap.f32(e, k * n), k, n), shape: [n, k] } };
  if (!spec.shareKV) out[prefix + "proj_v"] = { data: transpose(rt.heap.f32(f, k * n), k, n), shape: [n, k] };
  return out;
}

/** Bytes projectSequence allocates (for the up-front size check). */
export function projectSequenceBytes(rt: Runtime, spec: LinformerSpec, B: number, S: number, Ekv: number): number {
  const kn = rt.kernels, work = 4 * B * spec.k * S * Ekv;
  return 2 * B * (spec.k * Ekv * 4 + kn.packed_b_bytes(Math.max(S, 1), Ekv) + 64)
    + threadsFor(rt, work) * (kn.matmul_scratch_bytes(spec.k, S, 0) + 64) + 1024;
}

/**
 * K' = E[:, :S]·K and V' = F[:, :S]·V for every batch item: K, V [B, S, Ekv] at pk, pv; E, F [k, maxLength]
 * at e, f. Returns the addresses of K', V' [B, k, Ekv] (in frame f). S = 0: zeros (an empty sum).
 */
export function projectSequence(rt: Runtime, fr: Frame, spec: LinformerSpec, e: number, f: number, B: number, S: number, Ekv: number,
  pk: number, pv: number): { pk: number; pv: number } {
  const k = spec.k, n = spec.maxLength;
  const ok = fr.alloc(Math.max(1, B * k * Ekv) * 4), ov = fr.alloc(Math.max(1, B * k * Ekv) * 4);
  if (S === 0) {
    rt.heap.f32(ok, B * k * Ekv).fill(0);
    rt.heap.f32(ov, B * k * Ekv).fill(0);
    return { pk: ok, pv: ov };
  }
  const src = [];
  for (let b = 0; b < B; b++) {
    src.push({ b: pk + b * S * Ekv * 4, rs: Ekv, cs: 1, K: S, N: Ekv }, { b: pv + b * S * Ekv * 4, rs: Ekv, cs: 1, K: S, N: Ekv });
  }
  const packs = packB(rt, fr, src);
  const list: Gemm[] = [];
  for (let b = 0; b < B; b++) {
    list.push({ c: ok + b * k * Ekv * 4, ldc: Ekv, a: e, aRs: n, aCs: 1, pb: packs[2 * b], bias: 0, M: k, K: S, N: Ekv });
    list.push({ c: ov + b * k * Ekv * 4, ldc: Ekv, a: f, aRs: n, aCs: 1, pb: packs[2 * b + 1], bias: 0, M: k, K: S, N: Ekv });
  }
  gemms(rt, fr, list);
  return { pk: ok, pv: ov };
}
