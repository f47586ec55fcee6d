// softmax(x): over the last axis.
import { checkFits, put, withFrame } from "./call.js";
import { softmaxRows } from "./parallel.js";
import { type Tensor, checkOptions, checkOut, checkTensor } from "./validate.js";
import { runtime } from "./wasm.js";

export interface SoftmaxOptions {
  /** Write the result into this Float32Array (x's length) instead of a new one; it may be x.data itself. */
  out?: Float32Array;
}

/**
 * Softmax over the last axis, f32: y = exp(x − max) / Σ exp(x − max) per row.
 * A row of all −Infinity (fully masked) gives zeros; NaN propagates.
 * @throws {TypeError} a non-tensor or non-Float32Array data or out, an unknown option
 * @throws {RangeError} data length ≠ shape product, out of another length, rank 0, too large for WASM memory
 */
export function softmax(x: Tensor, options?: SoftmaxOptions): Tensor {
  const fn = "softmax";
  const o = checkOptions<SoftmaxOptions>(fn, options, ["out"]);
  const X = checkTensor(fn, "x", x, 1, "[..., N]");
  const shape = X.shape.slice();
  const cols = shape[shape.length - 1];
  const out = checkOut(fn, "options.out", o.out, X.data.length, shape);
  if (X.data.length === 0) return { data: out, shape };
  checkFits(fn, X.data.length * 8, "x and the result");
  const rt = runtime(fn);
  return withFrame(rt, fn, (f) => {
    const px = put(rt, f, X.data);
    softmaxRows(rt, f, px, X.data.length / cols, cols);
    out.set(rt.heap.f32(px, X.data.length));
    return { data: out, shape };
  });
}
