// layerNorm(x, weight, bias): PyTorch's LayerNorm over the last axis, x [..., E] → [..., E].
// x is copied into one WASM block and normalised there in place (layer_norm_f32 with y = x, rows
// split across threads), then copied out; weight and bias ([E] each, or null: PyTorch's
// elementwise_affine = False, or bias = False) are copied beside it.
import { checkFits, put, withFrame } from "./call.js";
import { layerNormRows } from "./parallel.js";
import { type Tensor, checkFinite, checkOptions, checkOut, checkTensor, fmtShape, rangeError } from "./validate.js";
import { runtime } from "./wasm.js";

export interface LayerNormOptions {
  /** Added to the variance before the square root (PyTorch's default 1e-5; BERT uses 1e-12). A finite number ≥ 0. */
  eps?: number;
  /** Write the result into this Float32Array (x's length) instead of a new one; it may be x.data itself. */
  out?: Float32Array;
}

const KEYS = ["eps", "out"] as const;

/**
 * LayerNorm over the last axis, f32: y = (x − mean) / √(var + eps) · weight + bias per row of E,
 * var the biased variance (PyTorch's `nn.LayerNorm(E)` / `F.layer_norm(x, [E], weight, bias, eps)`).
 * `weight` and `bias` are `[E]` tensors, or null/undefined for none (1 and 0: `elementwise_affine =
 * False`, or `bias = False`). A constant row gives `bias` exactly (0 without one), even with eps = 0;
 * a row with NaN or ±Infinity gives NaN in that row only.
 * @throws {TypeError} a non-tensor x, weight or bias, non-Float32Array data or out, a non-number eps, an unknown option
 * @throws {RangeError} data length ≠ shape product, rank 0, weight or bias not of shape [E], eps < 0 or not finite, out of another length, too large for WASM memory
 */
export function layerNorm(x: Tensor, weight?: Tensor | null, bias?: Tensor | null, options?: LayerNormOptions): Tensor {
  const fn = "layerNorm";
  const o = checkOptions<LayerNormOptions>(fn, options, KEYS);
  const X = checkTensor(fn, "x", x, 1, "[..., E]");
  const shape = X.shape.slice();
  const E = shape[shape.length - 1];
  const W = checkParam(fn, "weight", weight, E, shape);
  const B = checkParam(fn, "bias", bias, E, shape);
  const eps = checkFinite(fn, "options.eps", o.eps, 1e-5);
  if (eps < 0) throw rangeError(fn, "options.eps", "be ≥ 0", eps);
  const out = checkOut(fn, "options.out", o.out, X.data.length, shape);
  checkFits(fn, (X.data.length + 2 * E) * 4 + 3 * 64, "x, weight and bias");
  if (X.data.length === 0) return { data: out, shape };
  const rt = runtime(fn);
  return withFrame(rt, fn, (f) => {
    const px = put(rt, f, X.data);
    const pw = W ? put(rt, f, W.data) : 0, pb = B ? put(rt, f, B.data) : 0;
    layerNormRows(rt, f, px, px, pw, pb, X.data.length / E, E, eps);
    out.set(rt.heap.f32(px, X.data.length));
    return { data: out, shape };
  });
}

/** weight or bias: null/undefined (none), or a tensor of shape [E]. */
function checkParam(fn: string, arg: string, t: unknown, E: number, xShape: readonly number[]): Tensor | null {
  if (t === undefined || t === null) return null;
  const P = checkTensor(fn, arg, t, 1, "[E]");
  if (P.shape.length !== 1 || P.shape[0] !== E) {
    throw rangeError(fn, `${arg}.shape`, `equal [E] = [${E}] (the last axis of x.shape ${fmtShape(xShape)}), or ${arg} be null`, fmtShape(P.shape));
  }
  return P;
}
